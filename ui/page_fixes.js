// Accessibility repairs to Gradio's own markup, applied as it renders (ui/theme.py puts this in the page head).
(() => {
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
    for (const button of document.querySelectorAll(".gradio-container button[aria-label]")) {
      const text = button.innerText.trim().toLowerCase();
      if (text && !button.getAttribute("aria-label").toLowerCase().includes(text)) {
        button.removeAttribute("aria-label");
      }
    }
    // Plots: Gradio appends "plot visualising provided data" to the description ui/plots.py sends.
    for (const image of document.querySelectorAll('img[alt$=" plot visualising provided data"]')) {
      image.alt = image.alt.slice(0, -" plot visualising provided data".length);
    }
  };
  new MutationObserver(repair).observe(document.documentElement, { childList: true, subtree: true });
})();
