"""Polite live regions: screen readers hear that a long job finished (Batch, Evaluate) or that the webcam's decision
changed (Live), once, rather than every update of the cards on screen. Each tab writes its own sentence."""

from __future__ import annotations

import gradio as gr

__all__ = ["WATCH_DECISION", "live_region"]

_MAKE_LIVE = (
    "element.setAttribute('role', 'status'); element.setAttribute('aria-live', 'polite');"
    " element.setAttribute('aria-atomic', 'true');"
)

#: For a decision card's `js_on_load`: a live region of its own says the decision when it changes, so the card
#: itself (new score several times a second) is not a live region.
WATCH_DECISION = """
const region = document.createElement('div');
region.className = 'sr-only';
region.setAttribute('role', 'status');
region.setAttribute('aria-live', 'polite');
// Beside the card's HTML, which each update replaces, not inside it.
(element.closest('.block') || element.parentElement).appendChild(region);
let last = '';
new MutationObserver(() => {
  const card = element.querySelector('.verdict[data-decision]');
  const decision = card ? card.dataset.decision : '';
  if (decision && decision !== last) {
    region.textContent = 'Webcam: ' + card.querySelector('.verdict-label').textContent.trim();
  }
  last = decision;
}).observe(element, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-decision'] });
"""


def live_region(elem_id: str) -> gr.HTML:
    """An invisible polite live region; set its value to a sentence to have it read out."""
    return gr.HTML("", elem_id=elem_id, elem_classes=["sr-only"], padding=False, js_on_load=_MAKE_LIVE)
