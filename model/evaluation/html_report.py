"""Reports a person reads: one self-contained HTML file (inline CSS, charts as inline SVG, images as data: URIs, no
scripts, nothing fetched), light and dark, rendered from the one evaluation chain's output.

Numbers are rounded for people here; the JSON report keeps full precision.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from ..inputs.previews import blurred
from ..thresholds import DEFAULT_THRESHOLD, NSFW
from .chain import EvaluatedSet
from .metrics import CHOICE_NAMES, Curves, Evaluation, Outcome, misclassified

__all__ = [
    "CHART_POINTS",
    "MISCLASSIFIED_LIMIT",
    "THUMBNAIL_SIDE",
    "data_uri",
    "evaluation_html",
    "page",
    "thumbnail",
]

#: Curves are drawn through at most this many points (a results file may hold millions of distinct scores).
CHART_POINTS = 400
#: The misclassified table lists at most this many files, most confidently wrong first (all are in the JSON).
MISCLASSIFIED_LIMIT = 2000
#: Longest side of a thumbnail in a report, in pixels.
THUMBNAIL_SIDE = 96

_STYLE = """
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1b1b1f; --muted: #4b5060; --line: #c9ccd4;
  --panel: #f3f4f7; --good: #0f6b34; --good-bg: #e3f4e8; --bad: #a11a1a; --bad-bg: #fbe6e6;
  --series-1: #1f5fbf; --series-2: #b3471d; --series-3: #3b7d23; --mark: #1b1b1f; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #15171c; --fg: #eceef3; --muted: #b4b9c6; --line: #4a4f5c; --panel: #20232b;
    --good: #8fe0a8; --good-bg: #17301f; --bad: #ffaaaa; --bad-bg: #3a1a1a;
    --series-1: #7fb0ff; --series-2: #ffa47a; --series-3: #9bdc7c; --mark: #eceef3; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 16px/1.5 system-ui, -apple-system, "Segoe UI",
  Roboto, sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
p, li { max-width: 46rem; }
.muted { color: var(--muted); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; overflow-wrap: anywhere; }
.table-box { overflow-x: auto; }
.table-box:focus-visible { outline: 2px solid var(--series-1); outline-offset: 2px; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid var(--line); padding: .35rem .6rem; text-align: left; vertical-align: top; }
thead th, tbody th { background: var(--panel); }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
td.file { overflow-wrap: anywhere; max-width: 28rem; }
.good { background: var(--good-bg); color: var(--good); font-weight: 600; }
.bad { background: var(--bad-bg); color: var(--bad); font-weight: 600; }
.headline { font-size: 1.1rem; background: var(--panel); border-radius: .5rem; padding: .75rem 1rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(17rem, 1fr)); gap: 1rem; }
figure { margin: 0; }
figcaption { font-size: .9rem; color: var(--muted); }
svg { width: 100%; height: auto; display: block; }
svg text { fill: var(--fg); font-size: 12px; }
svg .axis { stroke: var(--muted); stroke-width: 1; }
svg .grid { stroke: var(--line); stroke-width: .5; }
svg .series-1 { stroke: var(--series-1); fill: none; stroke-width: 2; }
svg .series-2 { stroke: var(--series-2); fill: none; stroke-width: 2; stroke-dasharray: 6 3; }
svg .series-3 { stroke: var(--series-3); fill: none; stroke-width: 2; stroke-dasharray: 2 3; }
svg .chance { stroke: var(--muted); stroke-dasharray: 4 4; fill: none; }
svg .marker { fill: var(--mark); stroke: var(--bg); stroke-width: 1.5; }
svg .threshold { stroke: var(--mark); stroke-width: 1.5; stroke-dasharray: 3 3; }
.legend { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; padding: 0; margin: .25rem 0;
  font-size: .9rem; }
.swatch { display: inline-block; width: 1.5rem; height: 0; border-top: 3px solid; vertical-align: middle;
  margin-right: .3rem; }
.swatch.series-1 { border-color: var(--series-1); }
.swatch.series-2 { border-color: var(--series-2); border-top-style: dashed; }
.swatch.series-3 { border-color: var(--series-3); border-top-style: dotted; }
img.thumb { width: 64px; height: 64px; object-fit: cover; border-radius: .25rem; display: block; }
footer { margin-top: 2.5rem; font-size: .9rem; color: var(--muted); }
"""

_METRICS = (
    ("accuracy", "Accuracy", "Share of all images labelled correctly."),
    ("precision", "Precision", "Of the images flagged NSFW, the share that really are NSFW (few false alarms)."),
    ("recall", "Recall", "Of the NSFW images, the share that were flagged (few missed)."),
    ("f1", "F1", "One number balancing precision and recall (their harmonic mean)."),
    (
        "false_positive_rate",
        "False-positive rate",
        "Of the safe (SFW) images, the share wrongly flagged NSFW.",
    ),
    (
        "roc_auc",
        "ROC AUC",
        "Chance that a random NSFW image scores higher than a random SFW one; 0.5 is guessing, 1 is perfect. "
        "It does not depend on the threshold.",
    ),
    (
        "average_precision",
        "Average precision",
        "Area under the precision-recall curve: precision averaged over every recall level; independent of the "
        "threshold.",
    ),
)


def _escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: float | None, places: int = 3) -> str:
    return "–" if value is None else f"{value:.{places}f}"


def _percent(value: float, places: int = 1) -> str:
    return f"{100 * value:.{places}f} %"


def _share(value: float) -> str:
    """A fraction the user typed, as a percentage without invented digits (0.05 -> "5 %")."""
    return f"{100 * value:g} %"


def page(title: str, body: str, *, style: str = "") -> str:
    """A complete, self-contained HTML document: `body` inside `<main>`, the shared light/dark stylesheet inline."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # No request may leave the file: the policy blocks anything but inline styles and data: images.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{_escape(title)}</title>\n<style>{_STYLE}{style}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
        "</body>\n</html>\n"
    )


def thumbnail(image: Image.Image, *, hidden: bool, side: int = THUMBNAIL_SIDE) -> Image.Image:
    """A small copy of `image`, blurred with the app's one blur (`model.inputs.previews.blurred`) when `hidden`."""
    small = image.convert("RGB")
    small.thumbnail((side, side))
    return blurred(small) if hidden else small


def data_uri(image: Image.Image, quality: int = 80) -> str:
    """`image` as a JPEG data: URI (nothing to fetch)."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# Charts: inline SVG, drawn here. Plot area in SVG units; the page scales the whole figure to its width.
_WIDTH, _HEIGHT = 360, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 14, 44


def _thin(*series: np.ndarray, points: int = CHART_POINTS) -> list[np.ndarray]:
    """The series at no more than `points` evenly spaced indices, first and last kept."""
    size = len(series[0])
    if size <= points:
        return [np.asarray(values, dtype=float) for values in series]
    index = np.unique(np.linspace(0, size - 1, points).round().astype(int))
    return [np.asarray(values, dtype=float)[index] for values in series]


def _x(value: float) -> float:
    return _LEFT + value * (_WIDTH - _LEFT - _RIGHT)


def _y(value: float) -> float:
    return _HEIGHT - _BOTTOM - value * (_HEIGHT - _TOP - _BOTTOM)


def _path(xs: np.ndarray, ys: np.ndarray, css: str) -> str:
    points = " ".join(f"{_x(x):.1f},{_y(y):.1f}" for x, y in zip(xs, ys, strict=True))
    return f'<polyline class="{css}" points="{points}"/>'


def _axes(x_label: str, y_label: str) -> str:
    parts = []
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line class="grid" x1="{_x(0)}" y1="{_y(tick):.1f}" x2="{_x(1)}" y2="{_y(tick):.1f}"/>')
        parts.append(f'<line class="grid" x1="{_x(tick):.1f}" y1="{_y(0)}" x2="{_x(tick):.1f}" y2="{_y(1)}"/>')
        parts.append(f'<text x="{_LEFT - 6}" y="{_y(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
        parts.append(f'<text x="{_x(tick):.1f}" y="{_HEIGHT - _BOTTOM + 16}" text-anchor="middle">{tick:g}</text>')
    parts.append(f'<line class="axis" x1="{_x(0)}" y1="{_y(0)}" x2="{_x(1)}" y2="{_y(0)}"/>')
    parts.append(f'<line class="axis" x1="{_x(0)}" y1="{_y(0)}" x2="{_x(0)}" y2="{_y(1)}"/>')
    middle_x, middle_y = (_x(0) + _x(1)) / 2, (_y(0) + _y(1)) / 2
    parts.append(f'<text x="{middle_x:.1f}" y="{_HEIGHT - 8}" text-anchor="middle">{_escape(x_label)}</text>')
    parts.append(
        f'<text x="14" y="{middle_y:.1f}" text-anchor="middle" transform="rotate(-90 14 {middle_y:.1f})">'
        f"{_escape(y_label)}</text>"
    )
    return "".join(parts)


def _figure(key: str, title: str, description: str, drawing: str, legend: Sequence[tuple[str, str]] = ()) -> str:
    """One chart: an SVG named by its title and described by its text alternative, which is also the caption."""
    items = "".join(f'<li><span class="swatch {css}"></span>{_escape(name)}</li>' for css, name in legend)
    return (
        f'<figure data-chart="{key}"><svg viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        f'aria-labelledby="{key}-title {key}-desc"><title id="{key}-title">{_escape(title)}</title>'
        f'<desc id="{key}-desc">{_escape(description)}</desc>{drawing}</svg>'
        + (f'<ul class="legend" aria-hidden="true">{items}</ul>' if items else "")
        + f"<figcaption><b>{_escape(title)}.</b> {_escape(description)}</figcaption></figure>"
    )


def _curve_chart(
    key: str,
    title: str,
    description: str,
    axes: tuple[str, str],
    curve: tuple[np.ndarray, np.ndarray],
    chance: str,
    chosen: tuple[float, float],
) -> str:
    """A curve over every threshold with a guessing line and a dot at the chosen threshold's (x, y)."""
    marker = f'<circle class="marker" cx="{_x(chosen[0]):.1f}" cy="{_y(chosen[1]):.1f}" r="5"/>'
    drawing = _axes(*axes) + chance + _path(*curve, "series-1") + marker
    return _figure(key, title, description, drawing)


def _precision_recall_chart(curves: Curves, evaluation: Evaluation) -> str:
    precision, recall = _thin(curves.pr_precision, curves.pr_recall)
    baseline = evaluation.n_nsfw / evaluation.n
    description = (
        f"Precision against recall over every threshold; average precision {evaluation.average_precision:.3f}. "
        f"The dot is the chosen threshold {evaluation.threshold:.3f}: recall {evaluation.recall:.3f}, precision "
        f"{evaluation.precision:.3f}. The dashed line is a model that guesses ({baseline:.3f}, the NSFW share)."
    )
    return _curve_chart(
        "chart-pr",
        "Precision-recall curve",
        description,
        ("Recall", "Precision"),
        (recall, precision),
        f'<line class="chance" x1="{_x(0)}" y1="{_y(baseline):.1f}" x2="{_x(1)}" y2="{_y(baseline):.1f}"/>',
        (evaluation.recall, evaluation.precision),
    )


def _roc_chart(curves: Curves, evaluation: Evaluation) -> str:
    fpr, tpr = _thin(curves.roc_fpr, curves.roc_tpr)
    description = (
        f"True-positive rate (recall) against false-positive rate over every threshold; ROC AUC "
        f"{evaluation.roc_auc:.3f}. The dot is the chosen threshold {evaluation.threshold:.3f}: false-positive rate "
        f"{evaluation.false_positive_rate:.3f}, recall {evaluation.recall:.3f}. The dashed diagonal is guessing."
    )
    return _curve_chart(
        "chart-roc",
        "ROC curve",
        description,
        ("False-positive rate", "True-positive rate"),
        (fpr, tpr),
        f'<line class="chance" x1="{_x(0)}" y1="{_y(0)}" x2="{_x(1)}" y2="{_y(1)}"/>',
        (evaluation.false_positive_rate, evaluation.recall),
    )


def _by_threshold_chart(curves: Curves, evaluation: Evaluation) -> str:
    # Extend each curve to the ends of the axis: below the lowest score everything is flagged, as at that score.
    thresholds = np.concatenate(([0.0], curves.thresholds, [1.0]))
    series = [
        np.concatenate(([values[0]], values, [values[-1]])) for values in (curves.precision, curves.recall, curves.f1)
    ]
    thresholds, precision, recall, f1 = _thin(thresholds, *series)
    line = (
        f'<line class="threshold" x1="{_x(evaluation.threshold):.1f}" y1="{_y(0)}" '
        f'x2="{_x(evaluation.threshold):.1f}" y2="{_y(1)}"/>'
        f'<text x="{_x(evaluation.threshold) + 4:.1f}" y="{_TOP + 10}">threshold {evaluation.threshold:.3f}</text>'
    )
    description = (
        f"Precision, recall and F1 as the threshold moves from 0 to 1. The dashed vertical line is the chosen "
        f"threshold {evaluation.threshold:.3f}: precision {evaluation.precision:.3f}, recall {evaluation.recall:.3f}, "
        f"F1 {evaluation.f1:.3f}. Raising the threshold trades recall for precision."
    )
    drawing = (
        _axes("Threshold", "Value")
        + _path(thresholds, precision, "series-1")
        + _path(thresholds, recall, "series-2")
        + _path(thresholds, f1, "series-3")
        + line
    )
    legend = (("series-1", "precision"), ("series-2", "recall"), ("series-3", "F1"))
    return _figure("chart-threshold", "Precision, recall and F1 against the threshold", description, drawing, legend)


def _why(evaluation: Evaluation) -> str:
    """Where the threshold came from, and which recommendation (if any) it matches."""
    matches = [
        name
        for key, name in CHOICE_NAMES.items()
        if (choice := evaluation.recommended.get(key)) is not None
        and choice.lower < evaluation.threshold <= choice.threshold
    ]
    goals = [
        f"{CHOICE_NAMES[key].lower()} ({choice.goal})"
        for key in ("target_precision", "target_recall")
        if (choice := evaluation.recommended.get(key)) is not None
    ]
    parts = [
        f'An image is flagged NSFW when its score is at or above <b data-figure="threshold">'
        f"{evaluation.threshold:.3f}</b>."
    ]
    if matches:
        parts.append(f"On this set it gives the same predictions as the recommended {', '.join(matches).lower()}.")
    else:
        origin = "It is the default threshold" if evaluation.threshold == DEFAULT_THRESHOLD else "It was set by hand"
        parts.append(f"{origin}; it matches none of the recommended thresholds below.")
    if goals:
        parts.append(f"The recommendations were asked for: {_escape('; '.join(goals))}.")
    if evaluation.prevalence is not None and evaluation.precision_at_prevalence is not None:
        parts.append(
            f"Real traffic is expected to be {_share(evaluation.prevalence)} NSFW; at that share the precision "
            f"at this threshold would be {evaluation.precision_at_prevalence:.3f} (this set's own share is "
            f"{_percent(evaluation.n_nsfw / evaluation.n)})."
        )
    return f"<p>{' '.join(parts)}</p>"


def _open_box(label: str) -> str:
    """The box a table scrolls sideways in on a phone: focusable and named, so keyboards reach that scroll too."""
    return f'<div class="table-box" tabindex="0" role="region" aria-label="{label}">'


def _metrics_table(evaluation: Evaluation) -> str:
    values = evaluation.to_dict()
    rows = [
        f'<tr><th scope="row">{name}</th><td class="number" data-metric="{key}">{values[key]:.3f}</td>'
        f"<td>{meaning}</td></tr>"
        for key, name, meaning in _METRICS
    ]
    if evaluation.prevalence is not None and evaluation.precision_at_prevalence is not None:
        rows.append(
            f'<tr><th scope="row">Precision at {_share(evaluation.prevalence)} NSFW</th>'
            f'<td class="number" data-metric="precision_at_prevalence">{evaluation.precision_at_prevalence:.3f}</td>'
            "<td>Precision re-weighted for the NSFW share expected in real traffic.</td></tr>"
        )
    return (
        _open_box("Metrics") + '<table><caption class="muted">Metrics at the chosen threshold (NSFW is the positive '
        'class)</caption><thead><tr><th scope="col">Metric</th><th scope="col" class="number">Value</th>'
        f'<th scope="col">What it means</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )


def _confusion_table(evaluation: Evaluation) -> str:
    confusion = evaluation.confusion
    return (
        _open_box("Confusion matrix") + '<table><caption class="muted">Confusion matrix: counts of images</caption>'
        '<thead><tr><td></td><th scope="col">Predicted NSFW</th><th scope="col">Predicted SFW</th></tr></thead>'
        '<tbody><tr><th scope="row">Labelled NSFW</th>'
        f'<td class="number good" data-cell="tp">{confusion.tp} caught (true positives)</td>'
        f'<td class="number bad" data-cell="fn">{confusion.fn} missed (false negatives)</td></tr>'
        '<tr><th scope="row">Labelled SFW</th>'
        f'<td class="number bad" data-cell="fp">{confusion.fp} false alarms (false positives)</td>'
        f'<td class="number good" data-cell="tn">{confusion.tn} passed (true negatives)</td></tr></tbody></table></div>'
    )


def _recommended_table(evaluation: Evaluation) -> str:
    weighted = evaluation.prevalence is not None
    head = (
        '<th scope="col">Recommendation</th><th scope="col">Goal</th><th scope="col" class="number">Threshold</th>'
        '<th scope="col" class="number">Precision</th><th scope="col" class="number">Recall</th>'
        '<th scope="col" class="number">F1</th><th scope="col" class="number">False-positive rate</th>'
    )
    if weighted:
        head += f'<th scope="col" class="number">Precision at {_share(evaluation.prevalence or 0)}</th>'
    rows = []
    for key in CHOICE_NAMES:
        choice = evaluation.recommended.get(key)
        if choice is None:
            continue
        goal = _escape(choice.goal) + ("" if choice.reached else " (not reachable: the closest)")
        cells = [choice.precision, choice.recall, choice.f1, choice.false_positive_rate]
        if weighted:
            cells.append(choice.precision_at_prevalence)
        rows.append(
            f'<tr data-choice="{key}"><th scope="row">{CHOICE_NAMES[key]}</th><td>{goal}</td>'
            f'<td class="number" data-threshold>{choice.rounded():.3f}</td>'
            + "".join(f'<td class="number">{_number(value)}</td>' for value in cells)
            + "</tr>"
        )
    return (
        _open_box("Recommended thresholds")
        + '<table><caption class="muted">Thresholds worth considering, and what each achieves '
        f"on this set</caption><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _misclassified_table(rows: Sequence[Outcome], thumbnails: Mapping[str, Image.Image] | None) -> str:
    wrong = misclassified(rows)
    if not wrong:
        return '<p data-misclassified="0">None: every image was labelled correctly at this threshold.</p>'
    shown = wrong[:MISCLASSIFIED_LIMIT]
    images = thumbnails is not None
    head = '<th scope="col">File</th><th scope="col">Label</th><th scope="col" class="number">NSFW score</th>'
    head += '<th scope="col">Outcome</th>' + ('<th scope="col">Image (blurred)</th>' if images else "")
    body = []
    for row in shown:
        outcome = "false alarm (FP)" if row.outcome == "FP" else "missed (FN)"
        cell = ""
        if images:
            image = (thumbnails or {}).get(row.file)
            # The app's rule: every misclassified image is NSFW by its label or by its score, so all are blurred.
            hidden = row.label == NSFW or row.verdict == NSFW
            cell = (
                f'<td><img class="thumb" src="{data_uri(thumbnail(image, hidden=hidden))}" alt="{_escape(row.file)}, '
                f'{"blurred" if hidden else "thumbnail"}"></td>'
                if image is not None
                else '<td class="muted">(no preview)</td>'
            )
        body.append(
            f'<tr data-file="{_escape(row.file)}"><td class="file">{_escape(row.file)}</td><td>{row.label}</td>'
            f'<td class="number">{row.nsfw_score:.3f}</td><td>{outcome}</td>{cell}</tr>'
        )
    more = (
        f'<p class="muted">The {len(shown):,} most confidently wrong of {len(wrong):,} are listed; the JSON report '
        "lists every file.</p>"
        if len(wrong) > len(shown)
        else ""
    )
    return (
        f'<p data-misclassified="{len(wrong)}">{len(wrong):,} images were misclassified at this threshold, most '
        "confidently wrong first.</p>"
        + _open_box("Misclassified files")
        + f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        + more
    )


def _skipped(report: Mapping[str, Any]) -> str:
    skipped = report.get("skipped") or []
    if not skipped:
        return ""
    rows = "".join(
        f'<tr><td class="file">{_escape(item["file"])}</td><td>{_escape(item["reason"])}</td></tr>'
        for item in skipped[:MISCLASSIFIED_LIMIT]
    )
    return (
        f'<h3>Skipped files: {len(skipped):,}</h3><p class="muted">Left out of every number above.</p>'
        + _open_box("Skipped files")
        + '<table><thead><tr><th scope="col">File</th><th scope="col">Reason</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def evaluation_html(
    evaluated: EvaluatedSet, *, thumbnails: Mapping[str, Image.Image] | None = None, source: str | None = None
) -> str:
    """The evaluation as one self-contained HTML page a manager can open from an e-mail.

    Args:
        evaluated: the one evaluation chain's output (`model.evaluation.chain.evaluate_scores`).
        thumbnails: previews of misclassified files by name; None leaves images out (the default everywhere).
            Each is shown small and blurred by the app's rule.
        source: where the labelled set came from, shown as given (e.g. the upload's file names).
    """
    evaluation, report = evaluated.evaluation, evaluated.report
    model = report["model"]
    revision = model.get("revision") or "not recorded"
    created = report["created"]
    confusion = evaluation.confusion
    flagged = confusion.tp + confusion.fp
    headline = (
        f'At threshold {evaluation.threshold:.3f} the model labelled <b data-figure="accuracy">'
        f"{_percent(evaluation.accuracy)}</b> of the {evaluation.n:,} images correctly. It caught "
        f"{confusion.tp:,} of the {evaluation.n_nsfw:,} NSFW images (recall {evaluation.recall:.3f}) and raised "
        f"{confusion.fp:,} false alarms among the {evaluation.n_sfw:,} safe ones; of the {flagged:,} images it "
        f"flagged, {_percent(evaluation.precision)} were NSFW (precision {evaluation.precision:.3f})."
    )
    origin = f" from <code>{_escape(source)}</code>" if source else ""
    skipped = len(report.get("skipped") or [])
    body = f"""<header>
<h1>NSFW classifier evaluation</h1>
<p class="muted">Model <code data-figure="model">{_escape(model["id"])}</code>, revision
<code data-figure="revision">{_escape(revision)}</code> · made <time data-figure="created"
datetime="{_escape(created)}">{_escape(created)}</time> (UTC)</p>
</header>
<p class="headline">{headline}</p>
<section aria-labelledby="data-heading"><h2 id="data-heading">Data set</h2>
<p><b data-figure="n">{evaluation.n:,}</b> labelled images{origin}: <b data-figure="n_nsfw">{evaluation.n_nsfw:,}</b>
NSFW ({_percent(evaluation.n_nsfw / evaluation.n)}) and <b data-figure="n_sfw">{evaluation.n_sfw:,}</b> SFW
({_percent(evaluation.n_sfw / evaluation.n)}); {skipped:,} file(s) skipped. NSFW is the positive class.</p></section>
<section aria-labelledby="threshold-heading"><h2 id="threshold-heading">Threshold</h2>{_why(evaluation)}</section>
<section aria-labelledby="metrics-heading"><h2 id="metrics-heading">Metrics</h2>{_metrics_table(evaluation)}
</section>
<section aria-labelledby="confusion-heading"><h2 id="confusion-heading">Confusion matrix</h2>
{_confusion_table(evaluation)}</section>
<section aria-labelledby="charts-heading"><h2 id="charts-heading">Charts</h2><div class="charts">
{_precision_recall_chart(evaluated.curves, evaluation)}{_roc_chart(evaluated.curves, evaluation)}
{_by_threshold_chart(evaluated.curves, evaluation)}</div></section>
<section aria-labelledby="recommended-heading"><h2 id="recommended-heading">Recommended thresholds</h2>
<p>Each recommended threshold is rounded as far as it can be without changing a single prediction on this set.</p>
{_recommended_table(evaluation)}</section>
<section aria-labelledby="wrong-heading"><h2 id="wrong-heading">Misclassified files</h2>
{_misclassified_table(evaluated.outcomes, thumbnails)}{_skipped(report)}</section>
<footer>Every number comes from scikit-learn on the scores listed in the JSON report, which keeps full precision;
numbers here are rounded to three decimals.</footer>"""
    return page(f"NSFW evaluation: {model['id']}, {created}", body)
