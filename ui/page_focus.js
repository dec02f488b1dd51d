// Where focus and the view go after an action (ui/theme.py puts this in the page head). Gradio re-renders the file
// and webcam components after a pick, which drops keyboard focus on <body>; and on a phone a result lands below the
// screen. Here: focus goes to the next useful control, and a new result or error is scrolled into view.
(() => {
  // Where focus goes after a file pick in a tab's upload: the run button, or the result where the tab has none.
  const NEXT_AFTER_PICK = {
    "#batch-files": "#batch-run",
    "#evaluate-files": "#evaluate-run",
    "#input-image": "#verdict",
    "#moderate-input": "#moderate-decision",
  };
  // What a run shows when it is over (a result or an error), per tab: scrolled into view if it is not on screen.
  const RESULTS = [
    { armed: "#input-image, #examples", done: "#verdict .verdict:not(.verdict-empty)", pending: "#single-tab" },
    { armed: "#batch-run", done: "#batch-summary [data-state=done], #batch-summary [data-state=error]" },
    { armed: "#evaluate-run", done: "#evaluate-summary [data-state=done], #evaluate-summary [data-state=error]" },
    {
      armed: "#moderate-input, #moderate-examples",
      done: "#moderate-decision .verdict:not(.verdict-empty)",
      pending: "#moderate-tab",
    },
  ];

  const focusable = (element) => {
    if (element && !element.matches("button, a, input, select, textarea, [tabindex]")) {
      element.setAttribute("tabindex", "-1");
    }
    return element;
  };
  const lost = () => !document.activeElement || document.activeElement === document.body;

  // For a few seconds after an action, put focus on `find()` whenever it falls to <body> (Gradio may re-render
  // more than once); the user's next key or click ends it.
  let keeper = null;
  const keepFocus = (find, seconds = 8) => {
    clearInterval(keeper);
    const until = performance.now() + seconds * 1000;
    keeper = setInterval(() => {
      const target = find();
      if (performance.now() > until) clearInterval(keeper);
      else if (target && lost()) focusable(target).focus({ preventScroll: true });
    }, 100);
  };
  const release = () => clearInterval(keeper);
  document.addEventListener("pointerdown", release, true);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Shift") release();
  }, true);

  // A file picked (or dropped): the run button.
  document.addEventListener(
    "change",
    (event) => {
      if (!(event.target instanceof HTMLInputElement) || event.target.type !== "file") return;
      for (const [upload, next] of Object.entries(NEXT_AFTER_PICK)) {
        if (event.target.closest(upload)) setTimeout(() => keepFocus(() => document.querySelector(next)), 0);
      }
      for (const result of RESULTS) {
        if (event.target.closest(result.armed)) watchResult(result);
      }
    },
    true,
  );

  document.addEventListener(
    "click",
    (event) => {
      const target = event.target instanceof Element ? event.target : null;
      if (!target) return;
      // A tab chosen from the "More tabs" menu: its content (the panel shown).
      if (target.closest("#tabs .overflow-dropdown button")) {
        setTimeout(
          () =>
            keepFocus(
              () => [...document.querySelectorAll("#tabs [role=tabpanel]")].find((panel) => panel.offsetParent),
              2,
            ),
          0,
        );
      }
      // "Click to Access Webcam": the capture button once the camera is on.
      const webcam = target.closest("button")?.textContent.includes("Click to Access Webcam");
      if (webcam) {
        const block = target.closest(".block");
        keepFocus(() => block?.querySelector("button.capture-button"));
      }
      for (const result of RESULTS) {
        if (target.closest(result.armed) && target.closest("button")) watchResult(result);
      }
    },
    true,
  );

  // After a run starts, wait for its result (a new element, not the one shown before) and bring it into view.
  const watches = new Map();
  function watchResult(result) {
    const before = document.querySelector(result.done);
    clearInterval(watches.get(result));
    const until = performance.now() + 180_000;
    watches.set(
      result,
      setInterval(() => {
        const shown = document.querySelector(result.done);
        const pending = result.pending && document.querySelector(result.pending)?.hasAttribute("data-pending");
        if (performance.now() > until) clearInterval(watches.get(result));
        if (!shown || shown === before || pending) return;
        clearInterval(watches.get(result));
        const box = shown.getBoundingClientRect();
        if (box.top < 0 || box.top > window.innerHeight - 80) shown.scrollIntoView({ block: "start" });
      }, 100),
    );
  }
})();
