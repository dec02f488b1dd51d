"""Polite live regions: screen readers hear that a long job finished (Batch, Evaluate) or that the webcam's decision
changed (Live), once, rather than every update of the cards on screen."""

from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr

from model.evaluation.reports import batch_summary

if TYPE_CHECKING:
    from .batch import BatchRun
    from .evaluate import EvaluationRun

__all__ = ["WATCH_DECISION", "batch_done", "evaluation_done", "live_region"]

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


def batch_done(batch: BatchRun | None, threshold: float) -> str:
    """The sentence read out when a batch finishes: "12 images classified: 5 NSFW, 7 SFW, 0 skipped"."""
    if batch is None:
        return ""  # the error card is an alert of its own
    counts = batch_summary(batch.results, threshold)
    return (
        f"{counts['classified']} images classified: {counts['nsfw']} NSFW, {counts['sfw']} SFW, "
        f"{counts['skipped']} skipped"
    )


def evaluation_done(run: EvaluationRun | None) -> str:
    """The sentence read out when an evaluation finishes: "44 labelled images scored: 22 NSFW, 22 SFW, 2 skipped"."""
    if run is None:
        return ""
    labels = run.scores.labels
    nsfw = sum(labels)
    return (
        f"{len(labels)} labelled images scored: {nsfw} NSFW, {len(labels) - nsfw} SFW, "
        f"{len(run.scores.skipped)} skipped. Metrics and plots are below."
    )
