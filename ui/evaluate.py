"""The Evaluate tab: a labelled set in -> metrics, curves and recommended thresholds, the misclassified files out."""

from __future__ import annotations

import html
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from model import ConfigurationError, check_threshold
from model.evaluation.chain import EvaluatedSet, evaluate_scores
from model.evaluation.html_report import evaluation_html
from model.evaluation.metrics import (
    CHOICE_NAMES,
    DEFAULT_TARGET_PRECISION,
    DEFAULT_TARGET_RECALL,
    Curves,
    Evaluation,
    compute_curves,
    evaluate,
    misclassified,
)
from model.evaluation.reports import ModelRecord, evaluation_csv, metrics_csv
from model.evaluation.results import is_results_upload, read_labelled
from model.inputs.archives import DEFAULT_ARCHIVE_LIMITS, ArchiveLimits
from model.inputs.images import ImageLimits
from model.tasks.pipeline import LabelledScores, load_previews, score_labelled
from model.thresholds import DEFAULT_THRESHOLD

from . import controls, plots
from .announce import live_region
from .band import band_panel
from .cards import empty_note, error_note
from .errors import user_errors, user_message
from .loader import ModelLoader
from .mcp import bind
from .report_files import blurred, file_stamp, model_record, write_report
from .upload import progress_reporter, upload_names

__all__ = ["ELEM_ID", "LINKED_MODES", "LINKED_SLIDERS", "TITLE", "EvaluationRun", "add_api", "build", "evaluate_set"]

logger = logging.getLogger(__name__)

TITLE = "Evaluate"
ELEM_ID = "evaluate-tab"
#: What a link to the tab carries besides the tab: address parameter -> slider elem_id (ui/page_state.js).
LINKED_SLIDERS = {"threshold": "evaluate-threshold"}
LINKED_MODES: dict[str, tuple[str, str]] = {}
#: Previews are made for the this many most confidently wrong files; the table lists them all.
PREVIEW_LIMIT = 24
#: The misclassified table lists at most this many files (a results file may hold millions); all are in the CSV.
TABLE_LIMIT = 1000
#: With "Include thumbnails", the HTML report shows previews of this many most confidently wrong files.
REPORT_THUMBNAILS = 100
#: Recommendations with a "use" button, in the order shown.
_USABLE = ("f1_max", "target_precision", "target_recall")

_EMPTY = empty_note(
    "Upload a .zip whose images sit under folders named <b>nsfw</b> and <b>sfw</b> (any case, at any depth), or "
    "images plus a CSV manifest with the columns <code>file,label</code>, then press <b>Evaluate</b>."
)


@dataclass(frozen=True)
class EvaluationRun:
    """A scored labelled set, kept in the session: thresholds, targets and prevalence re-evaluate it instantly."""

    scores: LabelledScores
    curves: Curves
    model: ModelRecord
    seconds: float
    paths: tuple[str, ...]
    names: tuple[str, ...]
    archive_limits: ArchiveLimits
    image_limits: ImageLimits
    previews: dict[str, Image.Image | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Options:
    """What the user chose besides the data: threshold, targets, expected prevalence (a fraction, or None), and
    whether the HTML report shows (blurred) thumbnails."""

    threshold: float
    target_precision: float | None
    target_recall: float | None
    prevalence: float | None
    thumbnails: bool = False


def _fraction(value: float | None, name: str, *, percent: bool = False) -> float | None:
    if value is None or value == "":
        return None
    number = float(value) / (100 if percent else 1)
    if number <= 0:
        return None
    if number > 1 or (percent and number >= 1):
        limit = "below 100 %" if percent else "at most 1"
        raise ConfigurationError(f"The {name} must be {limit}, not {value}.")
    return number


def read_options(
    threshold: float,
    target_precision: float | None,
    target_recall: float | None,
    prevalence_percent: float | None,
    thumbnails: bool = False,
) -> Options:
    return Options(
        threshold=check_threshold(threshold),
        target_precision=_fraction(target_precision, "target precision"),
        target_recall=_fraction(target_recall, "target recall"),
        prevalence=_fraction(prevalence_percent, "expected NSFW share", percent=True),
        thumbnails=bool(thumbnails),
    )


def run(loader: ModelLoader, files: Sequence[str] | None, progress: gr.Progress | None = None) -> EvaluationRun:
    """Score every labelled image once; metrics at any threshold are then computed from the stored scores."""
    if not files:
        raise gr.Error("No files were given. Upload a labelled .zip (or images and a CSV manifest) first.")
    if is_results_upload(files):  # scores computed elsewhere (`python -m model screen`): the model does not run
        return _results_run(files[0])
    classifier = loader.wait()
    started = time.perf_counter()
    report = progress_reporter(progress, "Scoring")
    limits = ArchiveLimits.from_settings(classifier.settings)
    names = upload_names(files)
    scores = score_labelled(classifier, list(files), limits, names=names, progress=report)
    curves = compute_curves(scores.labels, scores.scores)
    seconds = time.perf_counter() - started
    logger.info("Evaluation: %d labelled images scored in %.1f s", len(scores.files), seconds)
    return EvaluationRun(
        scores=scores,
        curves=curves,
        model=model_record(loader),
        seconds=seconds,
        paths=tuple(files),
        names=tuple(names),
        archive_limits=limits,
        image_limits=classifier.limits,
    )


def _results_run(path: str) -> EvaluationRun:
    """The labelled scores of a results file as a run: curves computed once, no previews."""
    started = time.perf_counter()
    scores, model = read_labelled(path)
    curves = compute_curves(scores.labels, scores.scores)
    seconds = time.perf_counter() - started
    logger.info("Evaluation: %d scored rows read from a results file in %.1f s", len(scores.files), seconds)
    # Its name is kept for the HTML report's "from ..."; no path, as there are no images to preview.
    names = (Path(path).name,)
    return EvaluationRun(scores, curves, model, seconds, (), names, DEFAULT_ARCHIVE_LIMITS, ImageLimits())


def _evaluated(state: EvaluationRun, options: Options) -> EvaluatedSet:
    """The one evaluation chain on the stored scores (their curves are reused)."""
    return evaluate_scores(
        state.scores,
        state.model,
        options.threshold,
        target_precision=options.target_precision,
        target_recall=options.target_recall,
        prevalence=options.prevalence,
        curves=state.curves,
    )


def _evaluate(state: EvaluationRun, options: Options) -> Evaluation:
    return evaluate(
        state.scores.labels,
        state.scores.scores,
        options.threshold,
        target_precision=options.target_precision,
        target_recall=options.target_recall,
        prevalence=options.prevalence,
        curves=state.curves,
    )


def _card(name: str, value: float, title: str, extra: str = "") -> str:
    return (
        f'<div class="eval-card{extra}" title="{html.escape(title)}" data-metric="{name}"><b>{value:.3f}</b>'
        f"<span>{html.escape(name.replace('_', ' '))}</span></div>"
    )


def metrics_html(state: EvaluationRun, evaluation: Evaluation) -> str:
    """Metric cards, the confusion matrix (NSFW positive) and what the numbers were computed on."""
    cards = [
        _card("accuracy", evaluation.accuracy, "Share of images labelled correctly"),
        _card("precision", evaluation.precision, "Of the images flagged NSFW, the share that are NSFW"),
        _card("recall", evaluation.recall, "Of the NSFW images, the share flagged"),
        _card("F1", evaluation.f1, "Harmonic mean of precision and recall"),
        _card("ROC_AUC", evaluation.roc_auc, "Chance that an NSFW image scores above an SFW one (any threshold)"),
        _card("average_precision", evaluation.average_precision, "Area under the precision-recall curve"),
    ]
    if evaluation.precision_at_prevalence is not None and evaluation.prevalence is not None:
        cards.append(
            _card(
                f"precision_at_{100 * evaluation.prevalence:g}%_NSFW",
                evaluation.precision_at_prevalence,
                "Precision re-weighted for the expected NSFW share of real traffic: TPR·π / (TPR·π + FPR·(1−π))",
                " weighted",
            )
        )
    confusion = evaluation.confusion
    matrix = (
        '<table class="eval-confusion" aria-label="Confusion matrix">'
        '<tr><th><span class="sr-only">Labelled, predicted</span></th>'
        '<th scope="col">Predicted NSFW</th><th scope="col">Predicted SFW</th></tr>'
        f'<tr><th>Labelled NSFW</th><td class="good" data-cell="tp">{confusion.tp}<small>true positives</small></td>'
        f'<td class="bad" data-cell="fn">{confusion.fn}<small>missed (false negatives)</small></td></tr>'
        f'<tr><th>Labelled SFW</th><td class="bad" data-cell="fp">{confusion.fp}<small>false alarms</small></td>'
        f'<td class="good" data-cell="tn">{confusion.tn}<small>true negatives</small></td></tr></table>'
    )
    scores = state.scores
    manifest = f" · labels from <code>{html.escape(scores.manifest)}</code>" if scores.manifest else ""
    revision = f"@{state.model.revision[:12]}" if state.model.revision else ""
    meta = (
        f'<div class="eval-meta"><b>{evaluation.n}</b> labelled images: {evaluation.n_nsfw} NSFW, '
        f"{evaluation.n_sfw} SFW{manifest}.<br>{len(scores.skipped)} file(s) skipped (listed below) · "
        f"threshold <b>{evaluation.threshold:.3f}</b> · false-positive rate {evaluation.false_positive_rate:.3f}"
        f"<br>Model <code>{html.escape(state.model.id)}{html.escape(revision)}</code> · scored in "
        f"{state.seconds:.1f} s</div>"
    )
    return (
        f'<div class="eval-results" data-state="done" data-n="{evaluation.n}">'
        f'<div class="eval-cards">{"".join(cards)}</div><div class="eval-row">{matrix}{meta}</div></div>'
    )


def recommendations_html(evaluation: Evaluation) -> str:
    """The recommended thresholds as a table: what each one achieves on this set, and whether it met its goal."""
    weighted = evaluation.prevalence is not None
    head = "<th>Goal</th><th>Threshold</th><th>Precision</th><th>Recall</th><th>F1</th><th>FPR</th>"
    head += f"<th>Precision at {100 * evaluation.prevalence:g}%</th>" if weighted else ""
    rows = []
    for key in CHOICE_NAMES:
        choice = evaluation.recommended.get(key)
        if choice is None:
            continue
        status = "" if choice.reached else ' <span class="missed">(not reachable: the closest)</span>'
        weighted_cell = f"<td>{choice.precision_at_prevalence:.3f}</td>" if weighted else ""
        rows.append(
            f'<tr data-choice="{key}"><td>{html.escape(choice.goal)}{status}</td>'
            f'<td title="exact: {choice.threshold!r}">{choice.rounded():.3f}</td><td>{choice.precision:.3f}</td>'
            f"<td>{choice.recall:.3f}</td><td>{choice.f1:.3f}</td><td>{choice.false_positive_rate:.3f}</td>"
            f"{weighted_cell}</tr>"
        )
    # Focusable: on a phone the table scrolls sideways inside its box, and keyboards must reach that scroll too.
    return (
        '<table class="eval-recommend" tabindex="0" aria-label="Recommended thresholds">'
        f"<tr>{head}</tr>{''.join(rows)}</table>"
    )


def _previews(state: EvaluationRun, names: Sequence[str]) -> None:
    """Fill the preview cache for `names`, reading them again from the upload (None when that is gone)."""
    missing = [name for name in names if name not in state.previews]
    if not missing or not state.paths:  # a results file has scores, not images
        return
    try:
        found = load_previews(state.paths, missing, state.archive_limits, state.image_limits, names=state.names)
    except (OSError, ValueError) as error:  # the upload was cleared from Gradio's cache since
        logger.info("Previews unavailable: %s", type(error).__name__)
        found = {}
    for name in missing:
        state.previews[name] = found.get(name)


def report_page(state: EvaluationRun, evaluated: EvaluatedSet, thumbnails: bool) -> str:
    """The HTML report; with `thumbnails`, previews of the most confidently wrong files (blurred by the app's rule)."""
    previews = None
    if thumbnails:
        names = [row.file for row in misclassified(evaluated.outcomes)[:REPORT_THUMBNAILS]]
        _previews(state, names)
        previews = {name: image for name in names if (image := state.previews.get(name)) is not None}
    source = ", ".join(state.names) if state.names else None
    return evaluation_html(evaluated, thumbnails=previews, source=source)


def _downloads(state: EvaluationRun, evaluated: EvaluatedSet, thumbnails: bool) -> tuple[str, str, str, str]:
    stamp = file_stamp()
    evaluation, rows = evaluated.evaluation, evaluated.outcomes
    return (
        write_report(f"nsfw-evaluation-{stamp}.json", json.dumps(evaluated.report, indent=2, allow_nan=False)),
        write_report(f"nsfw-evaluation-files-{stamp}.csv", evaluation_csv(rows, evaluation.threshold, state.model)),
        write_report(f"nsfw-evaluation-metrics-{stamp}.csv", metrics_csv(evaluation, state.model)),
        write_report(f"nsfw-evaluation-{stamp}.html", report_page(state, evaluated, thumbnails)),
    )


#: How many views `render` updates (the order of `build`'s `views`).
OUTPUTS = 16


def render(state: EvaluationRun | None, options: Options) -> tuple[Any, ...]:
    """Every view at `options`, from the stored scores (no model call): metrics, recommendations and their buttons,
    three plots, the misclassified table and gallery, the skipped table, four downloads and the thumbnails box."""
    if state is None:
        hidden = gr.update(visible=False)
        return (_EMPTY, *(hidden for _ in range(OUTPUTS - 1)))
    evaluated = _evaluated(state, options)
    evaluation, scores = evaluated.evaluation, state.scores
    wrong = misclassified(evaluated.outcomes)
    _previews(state, [row.file for row in wrong[:PREVIEW_LIMIT]])
    gallery = [
        (blurred(image), f"{row.outcome} {row.nsfw_score:.3f} · {row.file}")
        for row in wrong[:PREVIEW_LIMIT]
        if (image := state.previews.get(row.file)) is not None
    ]
    buttons = []
    for key in _USABLE:
        choice = evaluation.recommended.get(key)
        name = CHOICE_NAMES[key]
        label = f"Use {name[0].lower()}{name[1:]} ({choice.rounded():.3f})" if choice else ""
        buttons.append(gr.Button(label, visible=choice is not None))
    json_path, files_csv, metrics_path, html_path = _downloads(state, evaluated, options.thumbnails)
    # "str" table cells are shown as text: names that anyone can choose are never run as HTML.
    wrong_rows = [[row.file, row.label, f"{row.nsfw_score:.4f}", row.outcome] for row in wrong[:TABLE_LIMIT]]
    shown = f" ({TABLE_LIMIT:,} most confidently wrong listed; all in Files (CSV))" if len(wrong) > TABLE_LIMIT else ""
    skipped_rows = [[item.file, item.reason] for item in scores.skipped]
    return (
        metrics_html(state, evaluation),
        gr.HTML(recommendations_html(evaluation), visible=True),
        *buttons,
        gr.Plot(plots.precision_recall(state.curves, evaluation), visible=True),
        gr.Plot(plots.roc(state.curves, evaluation), visible=True),
        gr.Plot(plots.metrics_by_threshold(state.curves, evaluation), visible=True),
        gr.Dataframe(
            value=wrong_rows or [["(none at this threshold)", "", "", ""]],
            visible=True,
            label=f"Misclassified at {options.threshold:.3f}: {len(wrong):,}{shown}",
        ),
        controls.gallery_update(gallery),
        gr.Dataframe(value=skipped_rows or [["(none)", ""]], visible=True, label=f"Skipped: {len(skipped_rows)}"),
        gr.DownloadButton(value=json_path, visible=True),
        gr.DownloadButton(value=files_csv, visible=True),
        gr.DownloadButton(value=metrics_path, visible=True),
        gr.DownloadButton(value=html_path, visible=True),
        gr.Checkbox(visible=True),
    )


def _error_views(error: BaseException) -> tuple[Any, ...]:
    return (error_note(user_message(error, "evaluation")), *(gr.update(visible=False) for _ in range(OUTPUTS - 1)))


def start(
    loader: ModelLoader,
    files: Sequence[str] | None,
    threshold: float,
    target_precision: float | None,
    target_recall: float | None,
    prevalence_percent: float | None,
    thumbnails: bool = False,
    progress: gr.Progress = gr.Progress(),  # noqa: B008  (Gradio injects a tracker here)
) -> tuple[Any, ...]:
    """Evaluate button: score the labelled set once, keep the scores, render at the chosen options."""
    try:
        options = read_options(threshold, target_precision, target_recall, prevalence_percent, thumbnails)
        state = run(loader, files, progress)
        return (state, *render(state, options))
    except Exception as error:  # shown in the results card; user_message logs unexpected ones
        return (None, *_error_views(error))


def rerender(state: EvaluationRun | None, *controls: Any) -> tuple[Any, ...]:
    """A threshold, target, prevalence or the thumbnails box changed: re-evaluate the stored scores (the model does
    not run). `controls` are the option controls' values, as `read_options` takes them."""
    if state is None:
        return tuple(gr.skip() for _ in range(OUTPUTS))
    try:
        return render(state, read_options(*controls))
    except Exception as error:
        return _error_views(error)


def use_choice(key: str, state: EvaluationRun | None, *controls: Any) -> Any:
    """A "use" button: move the slider to that recommendation (rounded without changing any prediction).
    `controls` are the option controls' values, as `read_options` takes them."""
    if state is None:
        return gr.skip()
    try:
        options = read_options(*controls)
    except ConfigurationError:
        return gr.skip()
    choice = _evaluate(state, options).recommended.get(key)
    return gr.skip() if choice is None else choice.rounded()


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


def _target_number(value: float, label: str, elem_id: str) -> gr.Number:
    return gr.Number(value, label=label, minimum=0, maximum=1, step=0.01, elem_id=elem_id)


def build(loader: ModelLoader) -> None:
    """Lay out the tab (upload and options left, results right), then wire its events."""
    state = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=280):
            files = controls.files_input(
                "Labelled .zip, images + a CSV manifest, or a results file", "evaluate-files", 200
            )
            button = gr.Button("Evaluate", variant="primary", elem_id="evaluate-run")
            threshold = controls.threshold_slider(
                "evaluate-threshold",
                "NSFW when the score is at or above it. Moving it re-computes every number from the same scores.",
                step=0.001,
            )
            with gr.Row():
                target_precision = _target_number(DEFAULT_TARGET_PRECISION, "Target precision", "target-precision")
                target_recall = _target_number(DEFAULT_TARGET_RECALL, "Target recall", "target-recall")
            prevalence = gr.Number(
                None,
                label="Expected NSFW share of real traffic, % (optional)",
                info="Re-weights precision for the traffic you will see, e.g. 2 for 2 %. 0: this set's own share.",
                minimum=0,
                maximum=100,
                elem_id="prevalence",
            )
            gr.Markdown(
                "Labels come from folders named `nsfw` / `sfw` (any case, at any depth, e.g. `set/NSFW/a.jpg`) or "
                "from a CSV manifest `file,label` (labels nsfw/sfw, 1/0 or true/false). NSFW is the positive "
                "class. Every number comes from scikit-learn.",
                elem_classes="muted",
            )
            follow_band = band_panel(state, lambda run: (run.scores.scores, run.scores.labels), "evaluate-band")
        with gr.Column(scale=7, min_width=320):
            summary = gr.HTML(_EMPTY, elem_id="evaluate-summary", padding=False)
            announcement = live_region("evaluate-announcement")
            with gr.Row():
                json_download = gr.DownloadButton("Report (JSON)", visible=False, size="sm", elem_id="evaluate-json")
                files_download = gr.DownloadButton("Files (CSV)", visible=False, size="sm", elem_id="evaluate-csv")
                metrics_download = gr.DownloadButton(
                    "Metrics (CSV)", visible=False, size="sm", elem_id="evaluate-metrics-csv"
                )
                html_download = gr.DownloadButton(
                    "Download report (HTML)", visible=False, size="sm", elem_id="evaluate-html"
                )
                thumbnails = gr.Checkbox(
                    False,
                    label="Include thumbnails",
                    info="Blurred previews of the misclassified images in the HTML report.",
                    visible=False,
                    elem_id="evaluate-thumbnails",
                )
            recommended = gr.HTML("", visible=False, elem_id="evaluate-recommended")
            with gr.Row():
                use_buttons = [
                    gr.Button(visible=False, size="sm", elem_id=f"use-{key.replace('_', '-')}") for key in _USABLE
                ]
            with gr.Row():
                pr_plot = gr.Plot(visible=False, show_label=False, elem_id="plot-pr")
                roc_plot = gr.Plot(visible=False, show_label=False, elem_id="plot-roc")
            threshold_plot = gr.Plot(visible=False, show_label=False, elem_id="plot-threshold")
            wrong_table = gr.Dataframe(
                headers=["File", "Label", "NSFW score", "Outcome"],
                datatype=["str", "str", "str", "str"],
                # Fixed widths: a long file name wraps in its column instead of pushing the others out of view.
                column_widths=["46%", "14%", "16%", "24%"],
                interactive=False,
                visible=False,
                max_height=320,
                wrap=True,
                elem_id="evaluate-misclassified",
            )
            wrong_gallery = controls.preview_gallery(
                "Misclassified, most confidently wrong first (blurred)", "evaluate-gallery"
            )
            # Hidden by the stylesheet until the table in it is shown (the empty tab has nothing skipped).
            with gr.Accordion("Skipped files", open=False, elem_id="evaluate-skipped-box"):
                skipped_table = gr.Dataframe(
                    headers=["File", "Reason"],
                    datatype=["str", "str"],
                    column_widths=["40%", "60%"],
                    interactive=False,
                    visible=False,
                    max_height=260,
                    wrap=True,
                    elem_id="evaluate-skipped",
                )

    views = [
        summary,
        recommended,
        *use_buttons,
        pr_plot,
        roc_plot,
        threshold_plot,
        wrong_table,
        wrong_gallery,
        skipped_table,
        json_download,
        files_download,
        metrics_download,
        html_download,
        thumbnails,
    ]
    options = [threshold, target_precision, target_recall, prevalence, thumbnails]
    follow_band(summary)
    controls.run_then_announce(
        button, partial(start, loader), [files, *options], state, views, evaluation_done, [state], announcement
    )
    controls.rerender_on([option.change for option in options], rerender, [state, *options], views)
    for key, use in zip(_USABLE, use_buttons, strict=True):
        use.click(partial(use_choice, key), [state, *options], threshold, api_visibility="private", queue=False)


def evaluate_set(
    loader: ModelLoader,
    zip_file: str | None,
    threshold: float = DEFAULT_THRESHOLD,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    target_recall: float = DEFAULT_TARGET_RECALL,
    prevalence: float | None = None,
) -> dict[str, Any]:
    """Evaluate the model on a labelled .zip (images under folders named nsfw and sfw, or a CSV manifest file,label),
    or on a results file of scores computed elsewhere (then the model does not run).

    Args:
        zip_file: the labelled archive, or a results file (CSV, Parquet or JSON lines with file, label and
            nsfw_score columns, as `python -m model screen` writes; its true_label column, if any, is the label):
            then the model does not run. Over MCP, a base64 data URI (data:application/zip;base64,...).
        threshold: NSFW when the NSFW score is at or above this value (0 to 1, default 0.5).
        target_precision: precision the recommended "target_precision" threshold must reach (default 0.95).
        target_recall: recall the recommended "target_recall" threshold must reach (default 0.95).
        prevalence: expected NSFW share of real traffic, a fraction in (0, 1), to re-weight precision (optional).

    Returns:
        {"n", "n_nsfw", "n_sfw", "threshold", "accuracy", "precision", "recall", "f1", "false_positive_rate",
        "roc_auc", "average_precision", "confusion": {"tp", "fp", "tn", "fn"}, "prevalence",
        "precision_at_prevalence", "recommended_thresholds": {name: {"threshold", "precision", "recall", ...}},
        "skipped": [{"file", "reason"}], "files": [...], "curves": {...}, "model", "created"} (NSFW positive).
    """
    with user_errors("evaluate", title="Could not evaluate"):
        options = Options(
            threshold=check_threshold(threshold),
            target_precision=target_precision,
            target_recall=target_recall,
            prevalence=prevalence or None,
        )
        state = run(loader, [zip_file] if zip_file else None)
        return _evaluated(state, options).report


def add_api(loader: ModelLoader) -> None:
    """`/evaluate` (zip file, threshold, then optional targets and prevalence) on hidden components of its own."""
    with gr.Group(visible=False):
        zip_file = gr.File(label="zip_file")
        threshold = controls.api_threshold()
        target_precision = gr.Number(DEFAULT_TARGET_PRECISION, label="target_precision")
        target_recall = gr.Number(DEFAULT_TARGET_RECALL, label="target_recall")
        prevalence = gr.Number(None, label="prevalence")
    controls.add_endpoint(
        bind(evaluate_set, loader, "evaluate"),
        [zip_file, threshold, target_precision, target_recall, prevalence],
        "evaluate",
        description=evaluate_set.__doc__,
    )
