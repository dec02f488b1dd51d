// Links that carry the view (ui/theme.py puts this in the page head, after PAGE_TABS): the open tab and its sliders
// live in the address, e.g. ?tab=evaluate&threshold=0.42 or ?tab=moderate&allow_below=0.2&block_above=0.8 (or
// ?tab=moderate&threshold=0.6, Moderate's single-threshold mode; the address carries the sliders shown). A link
// opens that tab with those values; switching tabs and moving a slider rewrite the address (replaceState, so Back
// still leaves the page). Values out of range or not numbers are ignored. Images and files are never in a link.
(() => {
  // [{key, id, title, sliders: {parameter: slider elem_id}, modes: {parameter: {radio, choice}}}], tabs in order
  const TABS = window.PAGE_TABS || [];
  const NAMES = new Set(["tab", ...TABS.flatMap((tab) => Object.keys(tab.sliders))]);
  let applied = false;

  // Gradio opens its API panel for ?view=api only from its own button (loading the panel first); read at page load,
  // the parameter would mark the panel open without loading it. So it is taken out here, before Gradio reads the
  // address, and the button is pressed once the page is up (Gradio then puts ?view=api back).
  const wantsApi = new URLSearchParams(location.search).get("view") === "api";
  if (wantsApi) {
    const params = new URLSearchParams(location.search);
    params.delete("view");
    const query = params.toString() ? `?${params.toString()}` : "";
    history.replaceState(history.state, "", `${location.pathname}${query}${location.hash}`);
  }

  const until = (find, timeout = 20000) =>
    new Promise((resolve) => {
      const started = performance.now();
      const look = () => {
        const found = find();
        if (found || performance.now() - started > timeout) resolve(found || null);
        else setTimeout(look, 50);
      };
      look();
    });

  const range = (id) => document.querySelector(`#${id} input[type=range]`);

  // The open tab: its panel is the one shown (Gradio renders a tab's panel when it is first opened).
  const openTab = () => {
    const panel = [...document.querySelectorAll("#tabs [role=tabpanel]")].find((element) => element.offsetParent);
    return TABS.find((tab) => tab.id === panel?.id);
  };

  const selectTab = (tab) => {
    const button = document.getElementById(`${tab.id}-button`);
    if (button && button.getAttribute("aria-selected") !== "true") button.click();
    if (button) return;
    // Not in the bar (a narrow screen): from Gradio's "More tabs" menu.
    const item = [...document.querySelectorAll("#tabs .overflow-dropdown button")].find(
      (element) => element.textContent.trim() === tab.title,
    );
    item?.click();
  };

  // A number from 0 to 1 written plainly ("0.42", ".5", "1"); anything else is junk.
  const parse = (text) => {
    if (text === null || !/^\d*\.?\d+$/.test(text.trim())) return null;
    const value = Number(text);
    return value >= 0 && value <= 1 ? value : null;
  };

  // Set a slider as a user would; while the tab is first drawn Gradio may put its initial value back (seconds later
  // on a slow or busy machine), so for 8 s the value from the link is set again where it was (until the user
  // touches anything).
  let touched = false;
  // Anything the user does counts, typing, pasting or dictating included: trusted events, except those the browser
  // fires while this script chooses a mode (`ours`).
  let ours = false;
  for (const type of ["pointerdown", "keydown", "input"]) {
    document.addEventListener(type, (event) => event.isTrusted && !ours && (touched = true), true);
  }
  const setSlider = (id, value) => {
    const set = () => {
      const input = range(id);
      if (!input || touched || Number(input.value) === value) return;
      input.value = String(value);
      input.dispatchEvent(new Event("input", { bubbles: true }));
      input.dispatchEvent(new Event("change", { bubbles: true }));
    };
    set();
    for (const delay of [100, 300, 600, 1000, 2000, 3000, 5000, 8000]) setTimeout(set, delay);
  };

  const apply = async () => {
    const params = new URLSearchParams(location.search);
    const asked = TABS.find((tab) => tab.key === params.get("tab"));
    await until(() => document.querySelector("#tabs [role=tab]"));
    if (asked) selectTab(asked);
    const tab = asked || TABS[0];
    const values = {};
    for (const name of Object.keys(tab.sliders)) {
      const value = parse(params.get(name));
      if (value !== null) values[name] = value;
    }
    // A slider shown only in one mode (Moderate's single threshold): choose that mode first, and leave the sliders
    // that mode hides as they are.
    const mode = Object.keys(values)
      .map((name) => tab.modes?.[name])
      .find(Boolean);
    if (mode) {
      const choice = await until(
        () => document.querySelector(`#${mode.radio} input[type=radio][value="${CSS.escape(mode.choice)}"]`),
      );
      if (choice && !choice.checked) {
        ours = true;
        choice.click(); // fires the radio's input and change events at once
        ours = false;
      }
      for (const name of Object.keys(values)) if (!tab.modes?.[name]) delete values[name];
    }
    // A band must keep allow_below at or under block_above (with the slider the link leaves as it is).
    if ("allow_below" in tab.sliders && ("allow_below" in values || "block_above" in values)) {
      await until(() => range(tab.sliders.block_above));
      const low = values.allow_below ?? Number(range(tab.sliders.allow_below)?.value);
      const high = values.block_above ?? Number(range(tab.sliders.block_above)?.value);
      if (!(low <= high)) {
        delete values.allow_below;
        delete values.block_above;
      }
    }
    for (const [name, value] of Object.entries(values)) {
      if (await until(() => range(tab.sliders[name]))) setSlider(tab.sliders[name], value);
    }
    applied = true;
  };

  const write = () => {
    const tab = openTab();
    if (!applied || !tab) return;
    const params = new URLSearchParams(location.search);
    for (const name of NAMES) params.delete(name);
    params.set("tab", tab.key);
    for (const [name, id] of Object.entries(tab.sliders)) {
      const input = range(id);
      if (input && input.offsetParent !== null) params.set(name, input.value); // shown: a mode may hide it
    }
    const query = `?${params.toString()}`;
    if (query !== location.search) history.replaceState(history.state, "", `${location.pathname}${query}${location.hash}`);
  };

  // After what the user does (a tab chosen, a slider dragged or typed in, a reset): once Gradio has re-rendered.
  // What a control shows or hides may come from the server (Moderate's mode), later than any fixed delay on a slow
  // link or a busy server: for a while after each action, every change to the page writes the address again.
  const WATCH_MS = 30000;
  let pending = null;
  let watchUntil = 0;
  const soon = () => {
    clearTimeout(pending);
    pending = setTimeout(write, 150);
  };
  const acted = () => {
    watchUntil = Date.now() + WATCH_MS;
    soon();
  };
  for (const type of ["click", "input", "change", "keyup"]) document.addEventListener(type, acted, true);
  new MutationObserver(() => Date.now() < watchUntil && soon()).observe(document.documentElement, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ["class", "style", "hidden"],
  });

  // The footer's "API page" link opens Gradio's API panel in place, with Gradio's own button.
  document.addEventListener("click", (event) => {
    const link = event.target.closest?.('a[href="?view=api"]');
    const show = document.querySelector("button.show-api");
    if (!link || !show) return;
    event.preventDefault();
    show.click();
  });

  const start = async () => {
    if (wantsApi) {
      (await until(() => document.querySelector("button.show-api")))?.click();
    }
    await apply();
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
