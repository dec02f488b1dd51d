"""Small HTML charts: the NSFW score against the threshold, and the probability of every label."""

from __future__ import annotations

import html
from collections.abc import Mapping

__all__ = ["probability_bars", "score_chart"]

#: Axis ticks under the score chart.
_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _percent(value: float) -> str:
    return f"{100 * min(max(value, 0.0), 1.0):.2f}%"


def score_chart(nsfw_score: float, threshold: float) -> str:
    """A horizontal 0..1 scale: the SFW and NSFW zones split at the threshold, and a marker at the score."""
    is_nsfw = nsfw_score >= threshold
    side = "nsfw" if is_nsfw else "sfw"
    relation = "≥" if is_nsfw else "<"
    summary = f"NSFW score {nsfw_score:.3f} {relation} threshold {threshold:.2f}"
    ticks = "".join(f'<span style="left:{_percent(tick)}">{tick:g}</span>' for tick in _TICKS)
    return (
        f'<figure class="score-chart {side}" role="img" aria-label="{summary}">'
        '<div class="score-chart-head">'
        "<span>Score vs threshold</span>"
        f'<span class="score-chart-value"><b>{nsfw_score:.3f}</b> {relation} {threshold:.2f}</span>'
        "</div>"
        '<div class="score-track">'
        f'<div class="zone zone-sfw" style="width:{_percent(threshold)}"></div>'
        f'<div class="zone zone-nsfw" style="left:{_percent(threshold)}"></div>'
        f'<div class="score-fill" style="width:{_percent(nsfw_score)}"></div>'
        f'<div class="threshold-mark" style="left:{_percent(threshold)}" title="threshold {threshold:.2f}"></div>'
        f'<div class="score-dot" style="left:{_percent(nsfw_score)}" title="score {nsfw_score:.3f}"></div>'
        "</div>"
        f'<div class="score-axis">{ticks}</div>'
        '<div class="score-legend"><span class="legend-sfw">SFW zone</span>'
        f'<span class="legend-threshold">threshold {threshold:.2f}</span>'
        '<span class="legend-nsfw">NSFW zone</span></div>'
        "</figure>"
    )


def probability_bars(probabilities: Mapping[str, float], nsfw_label: str) -> str:
    """One bar per label, most probable first; the NSFW label's bar is red, the others green."""
    rows = []
    for label, probability in sorted(probabilities.items(), key=lambda item: -item[1]):
        kind = "nsfw" if label == nsfw_label else "sfw"
        name = html.escape(label)
        rows.append(
            f'<div class="prob-row {kind}" data-label="{name}">'
            f'<span class="prob-name">{name}</span>'
            f'<span class="prob-bar"><span style="width:{_percent(probability)}"></span></span>'
            f'<span class="prob-value">{100 * probability:.1f}%</span>'
            "</div>"
        )
    return '<div class="prob-list" aria-label="Probability of every label">' + "".join(rows) + "</div>"
