// Accessibility repairs to Gradio's own markup, applied as it renders (ui/theme.py puts this in the page head): names
// for unnamed buttons, one tab stop for the tab bar, a cue on tables that scroll sideways, no broken-image icon.
(() => {
  let marking = null;
  const repair = () => {
    // The File component's "add files" icon is a button labelled with an untranslated key ("common.upload") that
    // holds a second button: name the outer one, disable the inner one (so nothing interactive is nested), and let
    // a click or key press on the outer one open the file picker through the inner one's file input.
    for (const outer of document.querySelectorAll('button[aria-label="common.upload"]')) {
      outer.setAttribute("aria-label", "Add files");
      outer.setAttribute("title", "Add files");
      const inner = outer.querySelector("button.upload-container");
      const input = inner?.querySelector("input[type=file]");
      if (!input) continue;
      inner.disabled = true;
      inner.style.pointerEvents = "none";
      outer.addEventListener("click", (event) => {
        if (event.target !== input) input.click();
      });
    }
    // An image shown in a non-interactive Image component sits in an unnamed button: name it after the component.
    for (const button of document.querySelectorAll("button:has(> .image-frame):not([aria-label])")) {
      const label = button.closest(".block")?.querySelector('[data-testid="block-label"]')?.textContent.trim();
      button.setAttribute("aria-label", label || "Image");
    }
    // A button's name must contain the words it shows (the webcam's "Record" was announced as "capture photo"):
    // where it does not, drop the label, so the visible text is the name and follows it when it changes.
    // (A symbol such as the reset button's "↺" is no word to say: its label stays.)
    for (const button of document.querySelectorAll(".gradio-container button[aria-label]")) {
      const text = button.innerText.trim().toLowerCase();
      if (/[\p{L}\p{N}]/u.test(text) && !button.getAttribute("aria-label").toLowerCase().includes(text)) {
        button.removeAttribute("aria-label");
      }
    }
    // A slider's reset button shows only "↺": name it after what it does, e.g. "Reset threshold to 0.5".
    for (const button of document.querySelectorAll("button.reset-button")) {
      const block = button.closest(".block");
      const label = block?.querySelector('[data-testid="block-info"]')?.textContent.trim() || "slider";
      const initial = initialValue(block?.id);
      const name = `Reset ${label.toLowerCase()}${initial === undefined ? "" : ` to ${initial}`}`;
      if (button.getAttribute("aria-label") !== name) {
        button.setAttribute("aria-label", name);
        button.setAttribute("title", name);
      }
    }
    // Gallery thumbnails: the caption under each repeats the alt text; said once (the alt text), shown once.
    for (const caption of document.querySelectorAll(".gallery-item .caption-label:not([aria-hidden])")) {
      const alt = caption.closest(".gallery-item")?.querySelector("img[alt]")?.alt.trim();
      if (alt && alt === caption.textContent.trim()) caption.setAttribute("aria-hidden", "true");
    }
    // Tabs: one tab stop for the bar (the selected tab), arrow keys for the others (the ARIA tabs pattern).
    for (const list of document.querySelectorAll("[role=tablist]")) rovingTabs(list);
    clearTimeout(marking);
    marking = setTimeout(markScrollingTables, 100);
    // Plots: Gradio appends "plot visualising provided data" to the description ui/plots.py sends.
    for (const image of document.querySelectorAll('img[alt$=" plot visualising provided data"]')) {
      image.alt = image.alt.slice(0, -" plot visualising provided data".length);
    }
  };
  // The value a slider starts with, from the page's config (the reset button goes back to it).
  const initialValue = (elemId) =>
    elemId ? window.gradio_config?.components?.find((item) => item.props?.elem_id === elemId)?.props.value : undefined;

  const rovingTabs = (list) => {
    const tabs = [...list.querySelectorAll("[role=tab]")];
    const selected = tabs.find((tab) => tab.getAttribute("aria-selected") === "true") || tabs[0];
    for (const tab of tabs) {
      const index = tab === selected ? "0" : "-1";
      if (tab.getAttribute("tabindex") !== index) tab.setAttribute("tabindex", index);
    }
  };
  document.addEventListener("keydown", (event) => {
    const tab = event.target instanceof Element ? event.target.closest("[role=tab]") : null;
    const list = tab?.closest("[role=tablist]");
    if (!list) return;
    const tabs = [...list.querySelectorAll("[role=tab]:not([aria-disabled=true])")];
    const index = tabs.indexOf(tab);
    const next = {
      ArrowRight: tabs[(index + 1) % tabs.length],
      ArrowLeft: tabs[(index - 1 + tabs.length) % tabs.length],
      Home: tabs[0],
      End: tabs[tabs.length - 1],
    }[event.key];
    if (!next) return;
    event.preventDefault();
    next.click(); // automatic activation: the tab shown follows focus
    next.focus();
  });
  new MutationObserver((changes) => {
    for (const change of changes) {
      const list = change.target.closest?.("[role=tablist]");
      if (list) rovingTabs(list);
    }
  }).observe(document.documentElement, { attributes: true, attributeFilter: ["aria-selected"], subtree: true });

  // A table wider than its box scrolls inside it; its block says so (ui/style.css shows the cue and a shadow).
  const markScrollingTables = () => {
    for (const scroller of document.querySelectorAll(".block :is(.virtual-table-viewport, .eval-recommend)")) {
      const block = scroller.closest(".block");
      const scrolls = scroller.offsetParent !== null && scroller.scrollWidth > scroller.clientWidth + 1;
      if (block.hasAttribute("data-scrolls") !== scrolls) block.toggleAttribute("data-scrolls", scrolls);
    }
  };
  window.addEventListener("resize", () => {
    clearTimeout(marking);
    marking = setTimeout(markScrollingTables, 150);
  });

  // An upload that is no image leaves Gradio's preview pointing at nothing: hide the broken-image icon.
  for (const type of ["error", "load"]) {
    document.addEventListener(
      type,
      (event) => {
        if (event.target instanceof HTMLImageElement && event.target.closest(".image-frame")) {
          event.target.toggleAttribute("data-broken", type === "error");
        }
      },
      true,
    );
  }

  new MutationObserver(repair).observe(document.documentElement, { childList: true, subtree: true });
})();
