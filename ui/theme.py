"""Look and feel: the Gradio theme, the stylesheets (ui/style.css, ui/moderate.css), the page header and footer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

if TYPE_CHECKING:
    from . import Tab

__all__ = ["HEADER", "STYLESHEET", "THEME", "footer", "launch_options", "page_head"]

STYLESHEET = Path(__file__).with_name("style.css")
#: The Moderate and Live webcam tabs: the review band, scores over time, the blur.
MODERATE_STYLESHEET = Path(__file__).with_name("moderate.css")
#: Repairs to Gradio's own markup, run in the page as it renders: the nested, key-labelled upload button, unnamed
#: image buttons, button labels that differ from their text, and the generic alt text of plots.
PAGE_FIXES = Path(__file__).with_name("page_fixes.js")
#: Links that carry the view: the open tab and its sliders in the address (?tab=evaluate&threshold=0.42).
PAGE_STATE = Path(__file__).with_name("page_state.js")
#: Focus and scrolling after an action: the run button after a file pick, the result scrolled into view.
PAGE_FOCUS = Path(__file__).with_name("page_focus.js")

#: Fonts ship with Gradio (served locally): no request leaves the page for a font.
THEME = gr.themes.Soft(
    primary_hue="indigo",
    secondary_hue="indigo",
    neutral_hue="slate",
    radius_size="lg",
    font=(gr.themes.LocalFont("IBM Plex Sans"), "ui-sans-serif", "system-ui", "sans-serif"),
    font_mono=(gr.themes.LocalFont("IBM Plex Mono"), "ui-monospace", "monospace"),
).set(
    body_background_fill="*neutral_50",
    body_background_fill_dark="*neutral_950",
    block_background_fill="white",
    block_background_fill_dark="*neutral_900",
    block_border_width="1px",
    block_border_color="*neutral_200",
    block_border_color_dark="*neutral_800",
    block_shadow="0 1px 2px 0 rgb(15 23 42 / 0.04)",
    # Labels sit over images (a blurred preview too): an opaque chip keeps them readable.
    block_label_background_fill="*background_fill_primary",
    block_label_background_fill_dark="*background_fill_primary",
    block_label_text_color="*neutral_600",
    block_label_text_color_dark="*neutral_300",
    block_title_background_fill="transparent",
    block_title_background_fill_dark="transparent",
    block_title_text_color="*neutral_700",
    block_title_text_color_dark="*neutral_200",
    input_background_fill="*neutral_50",
    # WCAG 2.2 AA contrast (4.5:1 for text) on white and on neutral_50: Soft's defaults (neutral_400 secondary
    # text, primary_500 buttons and links) fall short.
    body_text_color_subdued="*neutral_600",
    body_text_color_subdued_dark="*neutral_400",
    input_placeholder_color="*neutral_500",
    input_placeholder_color_dark="*neutral_400",
    color_accent="*primary_600",
    link_text_color="*primary_700",
    link_text_color_hover="*primary_800",
    link_text_color_dark="*primary_300",
    link_text_color_hover_dark="*primary_200",
    button_primary_background_fill="*primary_600",
    button_primary_background_fill_hover="*primary_700",
    # White on primary_500 (Soft's dark hover) is 4.5:1 at best: keep the light scheme's 6:1 and 8:1 in the dark one.
    button_primary_background_fill_dark="*primary_600",
    button_primary_background_fill_hover_dark="*primary_700",
    button_primary_border_color_dark="*primary_600",
    button_primary_border_color_hover_dark="*primary_700",
    button_primary_text_color_dark="white",
    button_primary_text_color_hover_dark="white",
    # Soft's dark secondary buttons turn primary_500 under the mouse, white text on it 4.5:1 at best.
    button_secondary_background_fill_hover_dark="*primary_700",
    button_secondary_text_color_hover_dark="white",
    button_primary_border_color="*primary_600",
    button_primary_border_color_hover="*primary_700",
    button_primary_text_color="white",
    button_primary_text_color_hover="white",
    checkbox_label_background_fill_selected="*primary_600",
    checkbox_label_border_color_selected="*primary_600",
)

HEADER = """
<header class="app-header">
  <div class="app-mark" aria-hidden="true">
    <svg viewBox="0 0 24 24" width="26" height="26" fill="none" stroke="currentColor" stroke-width="2"
      stroke-linecap="round" stroke-linejoin="round"><path d="M12 3l8 3v6c0 4.5-3.4 8.3-8 9-4.6-.7-8-4.5-8-9V6z"/>
      <path d="M9 12l2 2 4-4"/></svg>
  </div>
  <div>
    <h1>NSFW image detection</h1>
    <p><span class="wide-only">Is this picture safe for work? </span>Drop, paste or snap an image: <a
      href="https://huggingface.co/Marqo/nsfw-image-detection-384" target="_blank" rel="noopener"
      >Marqo/nsfw-image-detection-384</a> scores it, you choose the threshold.</p>
  </div>
</header>
"""


def footer(delete_cache: tuple[int, int]) -> str:
    """The page footer; `delete_cache` is Gradio's (sweep every N s, delete files older than M s)."""
    every, age = delete_cache
    least, most = age // 60, -(-(age + every) // 60)
    kept = f"{least} minutes" if least == most else f"{least} to {most} minutes"
    return f"""
<footer class="app-footer">
  <span>Images are classified in memory and never kept: uploads are deleted {kept} after they arrive.</span>
  <span>From code: every tab has an API endpoint, listed on the <a href="?view=api">API page</a>.</span>
</footer>
"""


def page_head(tabs: Sequence[Tab]) -> str:
    """The page's scripts, with what the address may carry per tab: `?tab=<ELEM_ID without "-tab">` and each of
    the tab's `LINKED_SLIDERS` (parameter name -> slider elem_id), with its `LINKED_MODES` if it has any."""
    config = [
        {
            "key": tab.ELEM_ID.removesuffix("-tab"),
            "id": tab.ELEM_ID,
            "title": tab.TITLE,
            "sliders": tab.LINKED_SLIDERS,
            "modes": {name: {"radio": radio, "choice": choice} for name, (radio, choice) in tab.LINKED_MODES.items()},
        }
        for tab in tabs
    ]
    scripts = (PAGE_FIXES, PAGE_FOCUS, PAGE_STATE)
    tabs_json = json.dumps(config).replace("</", "<\\/")
    return f"<script>window.PAGE_TABS = {tabs_json};</script>" + "".join(
        f"<script>{path.read_text(encoding='utf-8')}</script>" for path in scripts
    )


def launch_options(tabs: Sequence[Tab]) -> dict[str, Any]:
    """Keyword arguments for `Blocks.launch()` (Gradio 6 takes theme, stylesheets and head there, not in
    `gr.Blocks`) for a page made of `tabs`."""
    return {"theme": THEME, "css_paths": [STYLESHEET, MODERATE_STYLESHEET], "head": page_head(tabs)}
