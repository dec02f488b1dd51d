"""The single-image tab and /classify: upload, webcam or paste -> verdict, score chart, probabilities, timings; a
live threshold."""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import partial
from typing import Any

import gradio as gr
from PIL import Image

from model import NSFW, InvalidImageError, check_threshold
from model.evaluation.reports import created_now
from model.evaluation.result_cards import CARD_THUMBNAIL_SIDE, classification_card
from model.tasks.pipeline import make_preview
from model.thresholds import DEFAULT_THRESHOLD

from .cards import empty_card, error_card
from .charts import probability_bars, score_chart
from .controls import add_endpoint, api_threshold, threshold_slider
from .errors import user_errors, user_message
from .examples import EXAMPLES, EXAMPLES_DIR, example_buttons
from .loader import ModelLoader
from .mcp import bind
from .report_files import file_stamp, write_report
from .upload import upload_source
from .upload_classification import Classification, classify_upload, session_of

__all__ = [
    "CLASSIFY_CONCURRENCY",
    "ELEM_ID",
    "EXAMPLES",
    "EXAMPLES_DIR",
    "LINKED_MODES",
    "LINKED_SLIDERS",
    "TITLE",
    "add_api",
    "build",
    "classification_json",
    "classify",
]

TITLE = "Single image"
ELEM_ID = "single-tab"
#: What a link to the tab carries besides the tab: address parameter -> slider elem_id (ui/page_state.js).
LINKED_SLIDERS = {"threshold": "threshold"}
LINKED_MODES: dict[str, tuple[str, str]] = {}
#: /classify requests handled at once: while one forward pass runs, the others decode their images and then share
#: the next forward pass (model.runtime.microbatch), so concurrent clients get batched inference.
CLASSIFY_CONCURRENCY = 8

# While a new image is being classified its preview is blurred (it may be NSFW); the verdict then decides.
_MARK_PENDING = f"() => {{ document.getElementById('{ELEM_ID}')?.setAttribute('data-pending', ''); }}"
_CLEAR_PENDING = f"() => {{ document.getElementById('{ELEM_ID}')?.removeAttribute('data-pending'); }}"

_EMPTY_CARD = empty_card(
    "No image yet", "Drop, upload or paste an image, take a photo, or pick an example.", {"label": ""}
)

Views = tuple[Any, Any, Any, Any]


@dataclass(frozen=True)
class Shown:
    """What the result card needs beside the scores: when the image was classified and a small copy of it."""

    created: str
    thumbnail: Image.Image | None


# The verdict card's "Show image" button is plain HTML; a click on it becomes the component's click event.
_REVEAL_ON_CLICK = (
    "element.addEventListener('click', (event) => {"
    " if (event.target.closest('[data-action=reveal]')) { trigger('click'); } });"
)


def verdict_card(result: Classification, threshold: float, revealed: bool) -> str:
    """The big colour-coded verdict; `data-blur` tells the stylesheet to blur the preview."""
    label = result.label(threshold)
    is_nsfw = label == NSFW
    relation = "≥" if is_nsfw else "<"
    meaning = "Not safe for work" if is_nsfw else "Safe for work"
    blur = "1" if is_nsfw and not revealed else "0"
    control = ""
    if is_nsfw:
        text, pressed = ("Hide image", "true") if revealed else ("Show image", "false")
        control = f'<button type="button" class="reveal" data-action="reveal" aria-pressed="{pressed}">{text}</button>'
    return (
        f'<div class="verdict verdict-{label.lower()}" data-label="{label}" data-blur="{blur}" role="status">'
        f'<div class="verdict-main"><div class="verdict-label">{label}</div>{control}</div>'
        f'<div class="verdict-detail">{meaning} · score {result.nsfw_score:.3f} {relation} threshold '
        f"{threshold:.2f}</div></div>"
    )


def analysis_html(result: Classification, nsfw_label: str) -> str:
    """Score chart, probabilities, image facts and timings (independent of the reveal state)."""
    timings = result.original_timings or result.timings
    notes = "".join(f'<li class="note">{html.escape(note)}</li>' for note in result.notes)
    if result.original_timings is not None:
        notes += (
            '<li class="note" data-reused>Result reused: the same image was classified moments ago, so the model did '
            f"not run again (found in {result.timings.total_ms:.0f} ms). The timings shown are from that run.</li>"
        )
    return (
        '<div class="analysis">'
        "<h2>Probabilities</h2>"
        f"{probability_bars(result.prediction.probabilities, nsfw_label)}"
        '<dl class="facts">'
        f"<div><dt>Image</dt><dd>{result.width} × {result.height} {html.escape(result.format)}</dd></div>"
        f'<div><dt>Decode</dt><dd data-timing="decode">{timings.decode_ms:.0f} ms</dd></div>'
        f'<div><dt>Inference</dt><dd data-timing="inference">{timings.inference_ms:.0f} ms</dd></div>'
        f'<div><dt>Total</dt><dd data-timing="total">{timings.total_ms:.0f} ms</dd></div>'
        "</dl>"
        f"{f'<ul class=notes>{notes}</ul>' if notes else ''}"
        "</div>"
    )


def result_file(result: Classification, threshold: float, revealed: bool, shown: Shown | None) -> str:
    """The result card (one HTML file) as the user sees it now: blurred when NSFW unless they pressed "Show image"."""
    card = classification_card(
        result.to_json(threshold),
        shown.thumbnail if shown is not None else None,
        show_image=revealed,
        created=shown.created if shown is not None else created_now(),
    )
    stamp = file_stamp()
    return write_report(f"nsfw-result-{stamp}.html", card)


def render(
    result: Classification | None,
    threshold: float,
    revealed: bool,
    nsfw_label: str = NSFW,
    shown: Shown | None = None,
) -> Views:
    """Updates for (verdict, chart + analysis, API response, result download) from stored scores: no model call."""
    if result is None:
        return _EMPTY_CARD, gr.HTML("", visible=False), None, gr.DownloadButton(visible=False)
    analysis = score_chart(result.nsfw_score, threshold) + analysis_html(result, nsfw_label)
    return (
        verdict_card(result, threshold, revealed),
        gr.HTML(analysis, visible=True),
        result.to_json(threshold),
        gr.DownloadButton(value=result_file(result, threshold, revealed, shown), visible=True),
    )


def _shown(loader: ModelLoader, image: dict[str, Any]) -> Shown:
    """The time and a thumbnail for the result card (decoded small again; none if that fails)."""
    created = created_now()
    try:
        small = make_preview(upload_source(image), loader.wait().limits, CARD_THUMBNAIL_SIDE)
    except (InvalidImageError, OSError):
        small = None
    return Shown(created=created, thumbnail=small)


def _nsfw_label(loader: ModelLoader) -> str:
    return loader.info.nsfw_label if loader.info is not None else NSFW


def show(
    loader: ModelLoader, image: dict[str, Any] | None, threshold: float, request: gr.Request | None = None
) -> tuple[Any, ...]:
    """A new image arrived (upload, webcam, paste, example) or was cleared: classify it once and store the scores.

    The same image sent again in this session reuses its result; another session's uploads are never reused."""
    if image is None:
        return (None, False, None, *render(None, threshold, False))
    try:
        threshold = check_threshold(threshold)
        result = classify_upload(loader.wait(), upload_source(image), session_of(request))
    except Exception as error:  # every failure is shown in the verdict card; user_message logs unexpected ones
        message = user_message(error, "single-image classification")
        return (
            None,
            False,
            None,
            error_card("Could not classify", message, {"label": "error"}),
            gr.HTML("", visible=False),
            None,
            gr.DownloadButton(visible=False),
        )
    shown = _shown(loader, image)
    return (result, False, shown, *render(result, threshold, False, _nsfw_label(loader), shown))


def rethreshold(
    loader: ModelLoader, result: Classification | None, threshold: float, revealed: bool, shown: Shown | None = None
) -> Views:
    """The slider moved: re-evaluate the stored scores at the new threshold (the model does not run).

    With no scores stored (no image, or it could not be read) the cards stay as they are.
    """
    if result is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return render(result, check_threshold(threshold), revealed, _nsfw_label(loader), shown)


def toggle_reveal(
    loader: ModelLoader, result: Classification | None, threshold: float, revealed: bool, shown: Shown | None = None
) -> tuple[Any, ...]:
    """Show or hide the blurred preview of an image classified NSFW (and on the result card)."""
    revealed = not revealed and result is not None
    return (revealed, *render(result, threshold, revealed, _nsfw_label(loader), shown))


def build(loader: ModelLoader) -> None:
    """Lay out the tab (input and examples left, results right; on a phone the same order, one column), then wire
    its events."""
    result = gr.State(None)
    revealed = gr.State(False)
    shown = gr.State(None)
    with gr.Row(equal_height=False, elem_classes="single-layout"):
        with gr.Column(scale=5, min_width=300, elem_classes="input-column"):
            image = gr.Image(
                type="filepath",
                label="Image",
                show_label=False,
                sources=["upload", "webcam", "clipboard"],
                elem_id="input-image",
                height=400,
                buttons=[],
                placeholder="Drop an image here, click to upload, or paste one (Ctrl+V); the camera takes a photo.",
            )
            example_buttons(image, "Examples: click one to classify it", "examples")
        with gr.Column(scale=6, min_width=300, elem_classes="result-column"):
            verdict = gr.HTML(
                _EMPTY_CARD, elem_id="verdict", elem_classes="flush", padding=False, js_on_load=_REVEAL_ON_CLICK
            )
            threshold = threshold_slider(
                "threshold", "NSFW when the score is at or above it. Moving it does not re-run the model."
            )
            analysis = gr.HTML("", visible=False, elem_id="analysis", elem_classes="flush", padding=False)
            download = gr.DownloadButton("Download result", visible=False, size="sm", elem_id="single-download")
            with gr.Accordion("API response (/classify)", open=False, elem_id="api-response"):
                response = gr.JSON(show_label=False)

    views = [verdict, analysis, response, download]
    rethreshold_event = {
        "fn": partial(rethreshold, loader),
        "inputs": [result, threshold, revealed, shown],
        "outputs": views,
        "api_visibility": "private",
        "queue": False,
        "show_progress": "hidden",
    }
    # Clicking an example sets the image, which fires .change like any other source: one path, one model call.
    image.change(fn=None, js=_MARK_PENDING)
    image.change(
        bind(show, loader),
        [image, threshold],
        [result, revealed, shown, *views],
        api_visibility="private",
        preprocess=False,  # the file goes to our decoder untouched (see ui.upload)
        show_progress="minimal",
        show_progress_on=[verdict],
    ).then(**rethreshold_event).then(fn=None, js=_CLEAR_PENDING)  # the slider may have moved while it ran
    threshold.change(**rethreshold_event)
    verdict.click(
        partial(toggle_reveal, loader),
        [result, threshold, revealed, shown],
        [revealed, *views],
        api_visibility="private",
        queue=False,
        show_progress="hidden",
    )


def classify(
    loader: ModelLoader,
    image: dict[str, Any] | None,
    threshold: float = DEFAULT_THRESHOLD,
    request: gr.Request | None = None,
) -> dict[str, Any]:
    """Classify one image as NSFW or SFW.

    Args:
        image: the image file (JPEG, PNG, WebP, GIF, BMP, AVIF or HEIC); over MCP, a base64 data URI.
        threshold: NSFW when the NSFW score is at or above this value (0 to 1, default 0.5).

    Returns:
        {"label", "nsfw_score", "threshold", "probabilities", "model": {"id", "revision"}, "timings_ms",
        "image": {"width", "height", "format"}, "notes"}.
    """
    with user_errors("classify"):
        loader.wait()  # a model still loading, or failed, is what the caller hears first
        return classification_json(loader, upload_source(image), threshold, session_of(request))


def classification_json(
    loader: ModelLoader, source: str | bytes | None, threshold: float, session: str | None = None
) -> dict[str, Any]:
    """The /classify response for an upload's path or bytes: what `classify` and POST /v1/classify (ui.rest) return.

    Results are reused only within `session` (a page's or a gradio_client's); the JSON API passes none, so its
    callers, who share no session, never see each other's results.

    Raises:
        ClassifierError: a subclass (a bad threshold, an unreadable image, a model that is not ready).
    """
    threshold = check_threshold(threshold)
    return classify_upload(loader.wait(), source, session).to_json(threshold)


def add_api(loader: ModelLoader) -> None:
    """`/classify` (image, threshold) on hidden components of its own, so that no layout can change the API."""
    with gr.Group(visible=False):
        image = gr.Image(type="filepath", label="image")
        threshold = api_threshold()
    add_endpoint(
        bind(classify, loader),
        [image, threshold],
        "classify",
        description=classify.__doc__,
        preprocess=False,
        concurrency_limit=CLASSIFY_CONCURRENCY,
    )
