"""HTML for the review band: the allow / review / block decision card, the score on the band, and scores over time."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr

from model.evaluation.review import count_decisions, review_outcome
from model.thresholds import DEFAULT_ALLOW_BELOW, DEFAULT_BLOCK_ABOVE, Decision, check_band

from .cards import empty_note, error_note
from .controls import band_sliders
from .errors import user_message

__all__ = [
    "DECISION_TEXT",
    "REVEAL_NOTE",
    "band_chart",
    "band_counts_html",
    "band_panel",
    "decision_card",
    "score_series",
]

#: What each decision means, for the card under its name.
DECISION_TEXT: dict[str, str] = {
    "allow": "Allowed: below the allow threshold",
    "review": "Needs human review: between the thresholds",
    "block": "Blocked: at or above the block threshold",
}
_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
# The score-over-time plot's drawing area, in SVG user units.
_PLOT_WIDTH, _PLOT_HEIGHT, _PAD = 600.0, 160.0, 28.0


def _percent(value: float) -> str:
    return f"{100 * min(max(value, 0.0), 1.0):.2f}%"


REVEAL_NOTE = "The preview is blurred. Use “Show image” to reveal it."


def decision_card(
    decision: Decision,
    nsfw_score: float,
    allow_below: float,
    block_above: float,
    blur: bool,
    blur_note: str = REVEAL_NOTE,
    live_region: bool = True,
) -> str:
    """The big colour-coded decision; `data-blur` tells the stylesheet to blur the input preview (`blur_note` says
    so under the decision). With `live_region=False` the card is not announced on every change (the Live tab
    announces decision changes only, ui/announce.py)."""
    band = (
        f"threshold {block_above:.2f}" if allow_below == block_above else f"band {allow_below:.2f} – {block_above:.2f}"
    )
    note = f'<div class="verdict-note">{html.escape(blur_note)}</div>' if blur else ""
    text = DECISION_TEXT[decision]
    role = ' role="status"' if live_region else ""
    if allow_below == block_above:
        text = {"allow": "Allowed: below the threshold", "block": "Blocked: at or above the threshold"}[decision]
    return (
        f'<div class="verdict decision-{decision}" data-decision="{decision}" data-blur="{int(blur)}"{role}>'
        f'<div class="verdict-label">{decision.upper()}</div>'
        f'<div class="verdict-detail">{text} · score {nsfw_score:.3f} · {band}</div>{note}</div>'
    )


def band_chart(nsfw_score: float, allow_below: float, block_above: float, decision: Decision) -> str:
    """A 0..1 scale split into allow, review and block zones, with a marker at the score."""
    ticks = "".join(f'<span style="left:{_percent(tick)}">{tick:g}</span>' for tick in _TICKS)
    summary = f"NSFW score {nsfw_score:.3f}: {decision} (allow below {allow_below:.2f}, block from {block_above:.2f})"
    review_width = max(block_above - allow_below, 0.0)
    single = allow_below == block_above
    title = "NSFW score vs threshold" if single else "NSFW score on the review band"
    review = "" if single else '<span class="legend-review">review</span>'
    return (
        f'<figure class="score-chart band-chart decision-{decision}" role="img" aria-label="{summary}">'
        f'<div class="score-chart-head"><span>{title}</span>'
        f'<span class="score-chart-value"><b>{nsfw_score:.3f}</b> → {decision}</span></div>'
        '<div class="score-track">'
        f'<div class="zone zone-allow" style="left:0;width:{_percent(allow_below)}"></div>'
        f'<div class="zone zone-review" style="left:{_percent(allow_below)};width:{_percent(review_width)}"></div>'
        f'<div class="zone zone-block" style="left:{_percent(block_above)};right:0"></div>'
        f'<div class="threshold-mark" style="left:{_percent(allow_below)}" title="allow below {allow_below:.2f}"></div>'
        f'<div class="threshold-mark" style="left:{_percent(block_above)}" title="block from {block_above:.2f}"></div>'
        f'<div class="score-dot" style="left:{_percent(nsfw_score)}" title="score {nsfw_score:.3f}"></div>'
        "</div>"
        f'<div class="score-axis">{ticks}</div>'
        f'<div class="score-legend band-legend"><span class="legend-allow">allow</span>{review}'
        '<span class="legend-block">block</span></div>'
        "</figure>"
    )


def score_series(
    points: Sequence[tuple[float, float]], allow_below: float, block_above: float, *, title: str, x_label: str
) -> str:
    """An SVG line of scores (x, score) over the band's zones: frames of an animation, or webcam frames over time."""
    if not points:
        return ""
    xs = [x for x, _ in points]
    low, high = min(xs), max(xs)
    span = (high - low) or 1.0
    width, height = _PLOT_WIDTH - 2 * _PAD, _PLOT_HEIGHT - 2 * _PAD

    def x_at(x: float) -> float:
        return _PAD + (x - low) / span * width if len(points) > 1 else _PAD + width / 2

    def y_at(score: float) -> float:
        return _PAD + (1.0 - min(max(score, 0.0), 1.0)) * height

    zones = (
        ("zone-allow", 0.0, allow_below),
        ("zone-review", allow_below, block_above),
        ("zone-block", block_above, 1.0),
    )
    rects = "".join(
        f'<rect class="{name}" x="{_PAD}" y="{y_at(top):.1f}" width="{width}" height="{y_at(bottom) - y_at(top):.1f}"/>'
        for name, bottom, top in zones
        if top > bottom
    )
    line = " ".join(f"{x_at(x):.1f},{y_at(score):.1f}" for x, score in points)
    dots = "".join(
        f'<circle cx="{x_at(x):.1f}" cy="{y_at(score):.1f}" r="3.5"><title>{x:g}: {score:.3f}</title></circle>'
        for x, score in points
    )
    labels = (
        f'<text x="{_PAD - 6}" y="{y_at(1.0) + 4:.1f}" text-anchor="end">1</text>'
        f'<text x="{_PAD - 6}" y="{y_at(0.0) + 4:.1f}" text-anchor="end">0</text>'
        f'<text x="{_PAD}" y="{_PLOT_HEIGHT - 6}">{low:g}</text>'
        f'<text x="{_PAD + width}" y="{_PLOT_HEIGHT - 6}" text-anchor="end">{high:g}</text>'
        f'<text x="{_PAD + width / 2}" y="{_PLOT_HEIGHT - 6}" text-anchor="middle">{html.escape(x_label)}</text>'
    )
    top = max(points, key=lambda point: point[1])
    return (
        f'<figure class="score-series"><figcaption>{html.escape(title)} · max {top[1]:.3f} at {top[0]:g}</figcaption>'
        f'<svg viewBox="0 0 {_PLOT_WIDTH:g} {_PLOT_HEIGHT:g}" role="img" '
        f'aria-label="{html.escape(title)}: {len(points)} scores, highest {top[1]:.3f}">'
        f'{rects}<polyline points="{line}"/>{dots}{labels}</svg></figure>'
    )


_BAND_EMPTY = empty_note("Run the tab first: the band then sorts the same scores.")


def _percent_or_dash(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def band_counts_html(
    scores: Sequence[float], labels: Sequence[int] | None, allow_below: float, block_above: float
) -> str:
    """The band's counts for many scores; with labels, also the error rates of the automatically decided rest."""
    low, high = check_band(allow_below, block_above)
    if labels is None:
        counts = count_decisions(scores, low, high)
        total = max(len(scores), 1)
        lines = ""
    else:
        outcome = review_outcome(labels, scores, low, high)
        counts = {"allow": outcome.allowed, "review": outcome.reviewed, "block": outcome.blocked}
        total = max(outcome.total, 1)
        lines = (
            f'<p class="band-errors">Decided automatically: {outcome.auto_decided} · '
            f"NSFW allowed: {outcome.missed_nsfw} of {outcome.auto_nsfw} ({_percent_or_dash(outcome.missed_nsfw_rate)})"
            f" · safe blocked: {outcome.blocked_sfw} of {outcome.auto_sfw} "
            f"({_percent_or_dash(outcome.blocked_sfw_rate)}) · accuracy {_percent_or_dash(outcome.auto_accuracy)}</p>"
        )
    cells = "".join(
        f'<div class="band-count decision-{name}" data-decision="{name}"><b>{counts[name]}</b> {name} '
        f"<span>{100 * counts[name] / total:.0f}%</span></div>"
        for name in ("allow", "review", "block")
    )
    return (
        f'<div class="band-counts" data-allow="{counts["allow"]}" data-review="{counts["review"]}" '
        f'data-block="{counts["block"]}"><div class="band-count-row">{cells}</div>{lines}</div>'
    )


def band_panel(
    state: gr.State,
    scores_of: Callable[[Any], tuple[Sequence[float], Sequence[int] | None]],
    elem_id: str,
    allow_below: float = DEFAULT_ALLOW_BELOW,
    block_above: float = DEFAULT_BLOCK_ABOVE,
) -> Callable[..., None]:
    """An accordion with a review band over the scores kept in `state`: two sliders and the counts they give.

    Call it inside a tab's layout, then call the function it returns with the component(s) a run updates (e.g.
    the summary): the counts follow their `.change` and the sliders, without running the model. (`state.change`
    is not used: Gradio would hash the whole state on every event.) `scores_of(value)` returns (scores, labels or
    None) from the state's value.
    """
    with gr.Accordion("Review band: allow / review / block", open=False, elem_id=elem_id):
        low, high = band_sliders(f"{elem_id}-allow", f"{elem_id}-block", allow_below, block_above)
        counts = gr.HTML(_BAND_EMPTY, elem_id=f"{elem_id}-counts", padding=False)

    def render(value: Any, allow: float, block: float) -> str:
        if value is None:
            return _BAND_EMPTY
        try:
            return band_counts_html(*scores_of(value), allow, block)
        except Exception as error:  # an impossible band is shown in place of the counts
            return error_note(user_message(error, "band counts"))

    def follow(*components: Any) -> None:
        gr.on(
            [low.change, high.change, *(component.change for component in components)],
            render,
            [state, low, high],
            counts,
            api_visibility="private",
            queue=False,
            show_progress="hidden",
        )

    return follow
