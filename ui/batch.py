"""The Batch tab: many images or zip archives -> a table, a blurred gallery, counts and CSV/JSON; a live threshold."""

from __future__ import annotations

import html
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import gradio as gr
from PIL import Image

from model import NSFW, check_threshold, verdict
from model.evaluation.reports import ModelRecord, batch_csv, batch_report, batch_summary
from model.inputs.archives import ArchiveLimits
from model.tasks.pipeline import FileResult, classify_uploads
from model.thresholds import DEFAULT_THRESHOLD

from . import controls
from .announce import live_region
from .band import band_panel
from .cards import empty_note, error_note
from .errors import user_errors, user_message
from .loader import ModelLoader
from .mcp import bind
from .report_files import blurred, file_stamp, model_record, write_report
from .upload import progress_reporter, upload_names

__all__ = [
    "ELEM_ID",
    "LINKED_MODES",
    "LINKED_SLIDERS",
    "TITLE",
    "BatchRun",
    "add_api",
    "batch_json",
    "build",
    "classify_batch",
]

logger = logging.getLogger(__name__)

TITLE = "Batch"
ELEM_ID = "batch-tab"
#: What a link to the tab carries besides the tab: address parameter -> slider elem_id (ui/page_state.js).
LINKED_SLIDERS = {"threshold": "batch-threshold"}
LINKED_MODES: dict[str, tuple[str, str]] = {}
#: The gallery shows previews of the first this many images (the table and downloads list every file).
PREVIEW_LIMIT = 48
HEADERS = ["File", "NSFW score", "Verdict", "Note"]

_EMPTY = empty_note(
    "Add images or .zip archives and press <b>Classify all</b>: every file gets a row, unreadable ones with the reason."
)


@dataclass(frozen=True)
class BatchRun:
    """One classified upload, kept in the session so the threshold can re-label it without running the model."""

    results: list[FileResult]
    model: ModelRecord
    seconds: float
    ignored: int = 0
    previews: dict[str, Image.Image] = field(default_factory=dict)


def run(loader: ModelLoader, files: Sequence[str] | None, progress: gr.Progress | None = None) -> BatchRun:
    """Classify every uploaded file (zips opened as archives) once; the scores are kept, the threshold applied later."""
    if not files:
        raise gr.Error("No files were given. Add images or .zip archives first.", title="Nothing to classify")
    classifier = loader.wait()
    started = time.perf_counter()
    report = progress_reporter(progress, "Classifying")
    batch = classify_uploads(
        classifier,
        list(files),
        ArchiveLimits.from_settings(classifier.settings),
        names=upload_names(files),
        progress=report,
        previews=PREVIEW_LIMIT,
    )
    seconds = time.perf_counter() - started
    logger.info("Batch: %d files in %.1f s", len(batch.results), seconds)
    return BatchRun(batch.results, model_record(loader), seconds, batch.ignored, batch.previews)


def _summary_html(batch: BatchRun, threshold: float) -> str:
    counts = batch_summary(batch.results, threshold)
    ignored = f" · {batch.ignored} system file(s) ignored" if batch.ignored else ""
    shown = len(batch.previews)
    previews = f" · previews of the first {shown} below, NSFW ones blurred" if shown else ""
    revision = f"@{batch.model.revision[:12]}" if batch.model.revision else ""
    return (
        f'<div class="batch-summary" data-state="done" data-nsfw="{counts["nsfw"]}" data-sfw="{counts["sfw"]}" '
        f'data-skipped="{counts["skipped"]}">'
        f'<div class="count nsfw"><b>{counts["nsfw"]}</b><span>NSFW</span></div>'
        f'<div class="count sfw"><b>{counts["sfw"]}</b><span>SFW</span></div>'
        f'<div class="count skipped"><b>{counts["skipped"]}</b><span>skipped</span></div>'
        f'<div class="meta">{counts["files"]} file(s) at threshold <b>{threshold:.2f}</b> in {batch.seconds:.1f} s'
        f"{ignored}<br>Model <code>{html.escape(batch.model.id)}{html.escape(revision)}</code>{previews}</div></div>"
    )


def _rows(batch: BatchRun, threshold: float) -> list[list[str]]:
    """Table rows. The table's "str" cells are shown as text, so a file named `<img ...>` is shown, never run
    (tests/browser check this); escaping here would show `&lt;` instead."""
    rows = []
    for result in batch.results:
        if result.prediction is None:
            rows.append([result.file, "", "skipped", result.error or ""])
        else:
            score = result.prediction.nsfw_score
            rows.append([result.file, f"{score:.4f}", verdict(score, threshold), " ".join(result.notes)])
    return rows


def _gallery(batch: BatchRun, threshold: float) -> list[tuple[Image.Image, str]]:
    scores = {result.file: result.prediction.nsfw_score for result in batch.results if result.prediction is not None}
    items = []
    for name, image in batch.previews.items():
        score = scores.get(name)
        if score is None:
            continue
        label = verdict(score, threshold)
        shown = blurred(image) if label == NSFW else image
        items.append((shown, f"{label} {score:.2f} · {name}"))
    return items


def _downloads(batch: BatchRun, threshold: float) -> tuple[str, str]:
    stamp = file_stamp()
    report = batch_report(batch.results, threshold, batch.model)
    return (
        write_report(f"nsfw-batch-{stamp}.csv", batch_csv(batch.results, threshold, batch.model)),
        write_report(f"nsfw-batch-{stamp}.json", json.dumps(report, indent=2, allow_nan=False)),
    )


def render(batch: BatchRun | None, threshold: float) -> tuple[Any, ...]:
    """(summary, table, gallery, CSV download, JSON download) at `threshold`, from stored scores only."""
    if batch is None:
        return (
            _EMPTY,
            gr.Dataframe(value=None, visible=False),
            gr.Gallery(value=None, visible=False),
            gr.DownloadButton(value=None, visible=False),
            gr.DownloadButton(value=None, visible=False),
        )
    csv_path, json_path = _downloads(batch, threshold)
    gallery = _gallery(batch, threshold)
    return (
        _summary_html(batch, threshold),
        gr.Dataframe(value=_rows(batch, threshold), headers=HEADERS, visible=True),
        controls.gallery_update(gallery),
        gr.DownloadButton(value=csv_path, visible=True),
        gr.DownloadButton(value=json_path, visible=True),
    )


def classify(
    loader: ModelLoader,
    files: Sequence[str] | None,
    threshold: float,
    progress: gr.Progress = gr.Progress(),  # noqa: B008  (Gradio injects a tracker here)
) -> tuple[Any, ...]:
    """Classify button: run the model on every file once, keep the scores, render at the threshold."""
    try:
        threshold = check_threshold(threshold)
        batch = run(loader, files, progress)
    except Exception as error:  # shown in the summary; user_message logs unexpected ones
        message = user_message(error, "batch classification")
        return (None, error_note(message), *render(None, DEFAULT_THRESHOLD)[1:])
    return (batch, *render(batch, threshold))


def batch_done(batch: BatchRun | None, threshold: float) -> str:
    """The sentence read out when a batch finishes: "12 images classified: 5 NSFW, 7 SFW, 0 skipped"."""
    if batch is None:
        return ""  # the error card is an alert of its own
    counts = batch_summary(batch.results, threshold)
    return (
        f"{counts['classified']} images classified: {counts['nsfw']} NSFW, {counts['sfw']} SFW, "
        f"{counts['skipped']} skipped"
    )


def rethreshold(batch: BatchRun | None, threshold: float) -> tuple[Any, ...]:
    """The slider moved: re-label the stored scores (the model does not run)."""
    if batch is None:
        return tuple(gr.skip() for _ in range(5))
    return render(batch, check_threshold(threshold))


def build(loader: ModelLoader) -> None:
    """Lay out the tab (upload left, results right), then wire its events."""
    state = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=280):
            files = controls.files_input("Images or .zip archives", "batch-files", 220)
            button = gr.Button("Classify all", variant="primary", elem_id="batch-run")
            threshold = controls.threshold_slider(
                "batch-threshold", "NSFW when the score is at or above it. Moving it re-labels the same scores."
            )
            gr.Markdown(
                "JPEG, PNG, WebP, GIF, BMP, AVIF or HEIC images, and .zip archives (folders inside are fine). "
                "Files that cannot be read are listed with the reason; the rest are still classified.",
                elem_classes="muted",
            )
            follow_band = band_panel(
                state, lambda run: ([r.prediction.nsfw_score for r in run.results if r.prediction], None), "batch-band"
            )
        with gr.Column(scale=7, min_width=320):
            summary = gr.HTML(_EMPTY, elem_id="batch-summary", padding=False)
            announcement = live_region("batch-announcement")
            with gr.Row():
                csv_download = gr.DownloadButton("Download CSV", visible=False, size="sm", elem_id="batch-csv")
                json_download = gr.DownloadButton("Download JSON", visible=False, size="sm", elem_id="batch-json")
            table = gr.Dataframe(
                headers=HEADERS,
                datatype=["str", "str", "str", "str"],
                interactive=False,
                visible=False,
                max_height=420,
                wrap=True,
                column_widths=["38%", "14%", "12%", "36%"],
                elem_id="batch-table",
            )
            gallery = controls.preview_gallery("Previews (NSFW blurred)", "batch-gallery")

    views = [summary, table, gallery, csv_download, json_download]
    follow_band(summary)
    controls.run_then_announce(
        button,
        partial(classify, loader),
        [files, threshold],
        state,
        views,
        batch_done,
        [state, threshold],
        announcement,
    )
    controls.rerender_on([threshold.change], rethreshold, [state, threshold], views)


def classify_batch(
    loader: ModelLoader, files: Sequence[str] | None, threshold: float = DEFAULT_THRESHOLD
) -> dict[str, Any]:
    """Classify many images at once; zip archives are opened and every image inside is classified.

    Args:
        files: images (JPEG, PNG, WebP, GIF, BMP, AVIF, HEIC) and/or .zip archives; over MCP, base64 data URIs.
        threshold: NSFW when the NSFW score is at or above this value (0 to 1, default 0.5).

    Returns:
        {"results": [{"file", "label", "nsfw_score", "threshold", "probabilities", "model", "image", "notes"} or
        {"file", "error"}], "summary": {"files", "classified", "nsfw", "sfw", "skipped", "threshold"}, "model",
        "threshold", "created", "timings_ms": {"total"}}.
    """
    with user_errors("classify_batch", title="Could not classify the batch"):
        return batch_json(loader, files, threshold)


def batch_json(loader: ModelLoader, files: Sequence[str] | None, threshold: float) -> dict[str, Any]:
    """The /classify_batch response for uploaded files (paths; their last part is the name shown): what
    `classify_batch` and POST /v1/classify_batch (ui.rest) return.

    Raises:
        ClassifierError: a subclass (a bad threshold, an archive that breaks a limit, a model that is not ready).
        gr.Error: no files were given.
    """
    threshold = check_threshold(threshold)
    batch = run(loader, files)
    report = batch_report(batch.results, threshold, batch.model)
    report["timings_ms"] = {"total": round(1000 * batch.seconds, 1)}
    return report


def add_api(loader: ModelLoader) -> None:
    """`/classify_batch` (files, threshold) on hidden components of its own; call inside the app's Blocks."""
    with gr.Group(visible=False):
        files = gr.File(file_count="multiple", label="files")
        threshold = controls.api_threshold()
    controls.add_endpoint(
        bind(classify_batch, loader), [files, threshold], "classify_batch", description=classify_batch.__doc__
    )
