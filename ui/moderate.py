"""The Moderate tab and the /moderate and /explain endpoints: allow / review / block with a review band, an optional
high-resolution scan, per-frame scores for animations, and an explanation heatmap."""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

import gradio as gr
from PIL import Image, ImageDraw

from model import check_band, check_threshold
from model.evaluation.reports import ModelRecord, created_now
from model.evaluation.result_cards import moderation_card
from model.inputs.images import decode_image
from model.inputs.previews import blurred
from model.tasks.explain import Explanation, explain, overlay_heatmap
from model.tasks.moderation import Moderation, moderate
from model.thresholds import DEFAULT_ALLOW_BELOW, DEFAULT_BLOCK_ABOVE, DEFAULT_THRESHOLD, Decision

from .band import band_chart, decision_card, score_series
from .cards import empty_card, error_card
from .controls import add_endpoint, band_sliders, threshold_slider
from .errors import user_errors, user_message
from .examples import example_buttons
from .loader import ModelLoader
from .mcp import bind
from .report_files import file_stamp, model_record, write_report
from .upload import upload_source
from .upload_classification import NO_IMAGE_MESSAGE

__all__ = [
    "ELEM_ID",
    "EXPLAIN_TEXT",
    "LINKED_MODES",
    "LINKED_SLIDERS",
    "TITLE",
    "add_api",
    "build",
    "explain_image",
    "moderate_image",
    "moderation_json",
]

logger = logging.getLogger(__name__)

TITLE = "Moderate"
ELEM_ID = "moderate-tab"
#: What a link to the tab carries besides the tab: address parameter -> slider elem_id (ui/page_state.js).
LINKED_SLIDERS = {"allow_below": "allow-below", "block_above": "block-above", "threshold": "moderate-threshold"}
BAND_MODE = "Review band"
SINGLE_MODE = "Single threshold"
#: Parameters shown only in a mode: parameter -> (radio elem_id, the choice that shows its slider). A link with a
#: threshold opens the single-threshold mode; the address carries the sliders of the mode shown.
LINKED_MODES = {"threshold": ("moderate-mode", SINGLE_MODE)}
#: Scores at or above this blur the /explain image, as the single tab blurs an NSFW preview.
EXPLAIN_BLUR_SCORE = DEFAULT_THRESHOLD
EXPLAIN_TEXT = (
    "**What the heatmap shows:** the patches the model drew on while raising the NSFW score (brighter = more), "
    "from its attention weighted by the score's gradient (gradient-weighted attention rollout). "
    "**What it does not show:** it is not a detector of explicit regions and proves nothing; it is scaled to its "
    "own strongest patch, so an image that scores low still has bright spots. Dimmed margins were cut off by the "
    "model's centre crop and never seen: run the scan to cover them."
)

_MARK_PENDING = f"() => {{ document.getElementById('{ELEM_ID}')?.setAttribute('data-pending', ''); }}"
_CLEAR_PENDING = f"() => {{ document.getElementById('{ELEM_ID}')?.removeAttribute('data-pending'); }}"
_EMPTY_CARD = empty_card(
    "No image yet", "Upload or paste an image or an animated GIF/WebP/AVIF, or pick an example.", {"decision": ""}
)
_BOX_COLOURS = {"allow": (22, 163, 74), "review": (217, 119, 6), "block": (220, 38, 38)}


@dataclass(frozen=True)
class Made:
    """When an image was moderated, and by which model: what the result card records beside the scores."""

    created: str
    model: ModelRecord


def moderate_image(
    loader: ModelLoader,
    image: dict[str, Any] | str | None,
    allow_below: float = DEFAULT_ALLOW_BELOW,
    block_above: float = DEFAULT_BLOCK_ABOVE,
    scan: bool = False,
) -> dict[str, Any]:
    """Decide allow, review or block for one image with a review band; optionally scan it tile by tile.

    Below `allow_below` the image is allowed, at or above `block_above` it is blocked, in between it goes to human
    review (equal thresholds give a plain allow/block cut). Animated GIF/WebP/AVIF files have their frames sampled
    evenly and scored; the highest frame decides.

    Args:
        image: the image (JPEG, PNG, WebP, GIF, BMP, AVIF or HEIC; animations allowed); over MCP a base64 data URI.
        allow_below: allow when the NSFW score is below this (0 to 1, default 0.3).
        block_above: block when the NSFW score is at or above this (0 to 1, default 0.7, not below allow_below).
        scan: also classify overlapping model-sized tiles of the full-resolution image, to find a small NSFW region
            in a large photo; the highest tile then decides (slower: up to 32 extra model runs).

    Returns:
        {"decision": "allow"|"review"|"block", "nsfw_score", "allow_below", "block_above", "whole_image_score",
        "tiles": {"max_score", "box": [x0, y0, x1, y1], "count", "tile_side", "ms"} or null,
        "frames": [{"index", "nsfw_score"}] or null, "total_frames", "image": {"width", "height", "format"},
        "notes", "ms"}.
    """
    with user_errors("moderate", title="Could not moderate"):
        return moderation_json(loader, _require(upload_source(image)), allow_below, block_above, scan=bool(scan))


def moderation_json(
    loader: ModelLoader, source: str | bytes, allow_below: float, block_above: float, *, scan: bool
) -> dict[str, Any]:
    """The /moderate response for an upload's path or bytes: what `moderate_image` and POST /v1/moderate (ui.rest)
    return.

    Raises:
        ClassifierError: a subclass (a bad band, an unreadable image, a model that is not ready).
    """
    allow_below, block_above = check_band(allow_below, block_above)
    return moderate(loader.wait(), source, scan=scan).to_json(allow_below, block_above)


def explain_image(loader: ModelLoader, image: dict[str, Any] | str | None) -> Image.Image:
    """A heatmap of the image regions that drive the NSFW score, blended on the image (blurred when it scores NSFW).

    The output has the input's aspect ratio (longest side at most 1024 px). Bright = patches the model drew on while
    raising the score; scaled to the strongest patch, so it is relative, not a detector. Margins outside the
    model's centre crop are dimmed: the model never saw them.

    Args:
        image: the image (JPEG, PNG, WebP, GIF, BMP, AVIF or HEIC; an animation's first frame); over MCP a data URI.
    """
    with user_errors("explain", title="Could not explain"):
        classifier = loader.wait()
        decoded = decode_image(
            _require(upload_source(image)), classifier.limits, draft_min_side=classifier.draft_min_side
        )
        explanation = explain(classifier, decoded.image)
        base = blurred(decoded.image) if explanation.nsfw_score >= EXPLAIN_BLUR_SCORE else decoded.image
        return overlay_heatmap(base, explanation)


def _require(image: str | bytes | None) -> str | bytes:
    if image is None or (isinstance(image, str) and not image):
        raise gr.Error(NO_IMAGE_MESSAGE, title="No image")
    return image


def _band(mode: str, allow_below: float, block_above: float, threshold: float) -> tuple[float, float]:
    """The thresholds in force: the band, or the single threshold as a band of width 0 (no review)."""
    if mode == SINGLE_MODE:
        value = check_threshold(threshold)
        return value, value
    return check_band(allow_below, block_above)


def preview_image(
    result: Moderation, decision: Decision, revealed: bool, explanation: Explanation | None
) -> Image.Image:
    """The preview: heatmap blended on when explained, blurred unless allowed or revealed, the top tile boxed."""
    hidden = decision != "allow" and not revealed
    base = blurred(result.preview) if hidden else result.preview
    image = overlay_heatmap(base, explanation, max_side=None) if explanation is not None else base.copy()
    if result.scan is not None:
        scale = result.preview_scale
        x0, y0, x1, y1 = (round(value * scale) for value in result.scan.box)
        width = max(3, round(max(image.size) / 200))
        draw = ImageDraw.Draw(image)
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=_BOX_COLOURS[decision], width=width)
    return image


def facts_html(result: Moderation) -> str:
    """What was scored and what it cost."""
    rows = [
        ("Image", f"{result.width} × {result.height} {html.escape(result.format)}"),
        ("First frame" if result.frames is not None else "Whole image", f"{result.whole_score:.3f}"),
        ("Total", f"{result.milliseconds:.0f} ms"),
    ]
    items = "".join(f"<div><dt>{name}</dt><dd>{value}</dd></div>" for name, value in rows)
    lines = []
    if result.scan is not None:
        scan = result.scan
        box = ", ".join(str(value) for value in scan.box)
        lines.append(
            f'<p class="scan-summary" data-tiles="{scan.count}">Scan: {scan.count} tiles of {scan.tile_side} px '
            f"plus the whole image in {scan.milliseconds:.0f} ms; highest tile <b>{scan.max_score:.3f}</b> at "
            f"[{box}] (boxed on the preview).</p>"
        )
    if result.frames is not None:
        frames = result.frames
        lines.append(
            f'<p class="frames-summary" data-frames="{len(frames.frames)}">Frames: {len(frames.frames)} of '
            f"{frames.total_frames} scored in {frames.milliseconds:.0f} ms; highest <b>{frames.nsfw_score:.3f}</b> "
            f"at frame {frames.top.index}.</p>"
        )
    notes = "".join(f'<li class="note">{html.escape(note)}</li>' for note in result.notes)
    return (
        f'<dl class="facts moderation-facts">{items}</dl>'
        + "".join(lines)
        + (f'<ul class="notes">{notes}</ul>' if notes else "")
    )


def result_file(result: Moderation, low: float, high: float, revealed: bool, made: Made | None) -> str:
    """The result card (one HTML file) as the user sees it now: blurred unless allowed or shown."""
    created = made.created if made is not None else created_now()
    model = made.model if made is not None else ModelRecord(id="unknown", revision=None)
    card = moderation_card(result.to_json(low, high), result.preview, model, show_image=revealed, created=created)
    stamp = file_stamp()
    return write_report(f"nsfw-moderation-{stamp}.html", card)


def render(
    result: Moderation | None,
    mode: str,
    allow_below: float,
    block_above: float,
    threshold: float,
    revealed: bool,
    explanation: Explanation | None,
    made: Made | None = None,
) -> tuple[Any, ...]:
    """Updates for (decision, chart, preview, reveal, explain, explain note, facts, frames, response, result
    download): no model."""
    hidden = gr.HTML("", visible=False)
    if result is None:
        return (
            _EMPTY_CARD,
            hidden,
            gr.Image(None, visible=False),
            gr.Button(visible=False),
            gr.Button(interactive=False),
            gr.Markdown(visible=False),
            hidden,
            hidden,
            None,
            gr.DownloadButton(visible=False),
        )
    try:
        low, high = _band(mode, allow_below, block_above, threshold)
    except Exception as error:  # an impossible band is shown in the card, the scores stay
        card = error_card("Check the thresholds", user_message(error, "band"))
        return (
            card,
            hidden,
            gr.Image(),
            gr.Button(),
            gr.Button(),
            gr.Markdown(),
            hidden,
            hidden,
            None,
            gr.DownloadButton(visible=False),
        )
    decision = result.decision(low, high)
    blur = decision != "allow" and not revealed
    frames = None
    if result.frames is not None:
        points = [(frame.index, frame.nsfw_score) for frame in result.frames.frames]
        frames = score_series(points, low, high, title="NSFW score per frame", x_label="frame")
    return (
        decision_card(decision, result.nsfw_score, low, high, blur),
        gr.HTML(band_chart(result.nsfw_score, low, high, decision), visible=True),
        gr.Image(preview_image(result, decision, revealed, explanation), visible=True),
        gr.Button("Hide image" if revealed else "Show image", visible=decision != "allow"),
        gr.Button(interactive=True),
        gr.Markdown(visible=explanation is not None),
        gr.HTML(facts_html(result), visible=True),
        gr.HTML(frames or "", visible=frames is not None),
        result.to_json(low, high),
        gr.DownloadButton(value=result_file(result, low, high, revealed, made), visible=True),
    )


def show(loader: ModelLoader, image: dict[str, Any] | None, scan: bool, *band: Any) -> tuple[Any, ...]:
    """A new image (or the scan toggle): score it once and keep the scores; the band is applied by `render`."""
    if image is None:
        return (None, False, None, None, *render(None, *band, False, None))
    try:
        result = moderate(loader.wait(), _require(upload_source(image)), scan=bool(scan))
    except Exception as error:  # shown in the decision card; user_message logs unexpected errors
        card = error_card("Could not moderate", user_message(error, "moderation"))
        # The other views as with no image.
        return (None, False, None, None, card, *render(None, *band, False, None)[1:])
    made = Made(created=created_now(), model=model_record(loader))
    return (result, False, None, made, *render(result, *band, False, None, made))


def rerender(result: Moderation | None, *values: Any) -> tuple[Any, ...]:
    """A threshold, the mode or the reveal state changed: re-decide from the stored scores."""
    return render(result, *values)


def toggle_reveal(result: Moderation | None, *values: Any) -> tuple[Any, ...]:
    *band, revealed, explanation, made = values
    revealed = not revealed and result is not None
    return (revealed, *render(result, *band, revealed, explanation, made))


def explain_preview(loader: ModelLoader, result: Moderation | None, *values: Any) -> tuple[Any, ...]:
    """Compute the heatmap for the stored preview (the model resizes to its input anyway) and blend it on."""
    *band, revealed, _, made = values
    if result is None:
        return (None, *render(None, *band, revealed, None))
    with user_errors("explain", title="Could not explain"):
        explanation = explain(loader.wait(), result.preview)
    return (explanation, *render(result, *band, revealed, explanation, made))


def _switch_mode(mode: str) -> tuple[Any, Any, Any]:
    band = mode != SINGLE_MODE
    return gr.Slider(visible=band), gr.Slider(visible=band), gr.Slider(visible=not band)


def build(loader: ModelLoader) -> None:
    """Lay out the tab (input and controls left, decision and evidence right), then wire its events."""
    result = gr.State(None)
    revealed = gr.State(False)
    explanation = gr.State(None)
    made = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=300):
            image = gr.Image(
                type="filepath",
                label="Image or animation",
                sources=["upload", "clipboard"],
                elem_id="moderate-input",
                height=300,
                buttons=[],
            )
            scan = gr.Checkbox(
                False,
                label="High-resolution scan",
                info="Also classify overlapping tiles of the full-resolution image (finds small regions; slower).",
                elem_id="moderate-scan",
            )
            mode = gr.Radio([BAND_MODE, SINGLE_MODE], value=BAND_MODE, label="Mode", elem_id="moderate-mode")
            allow_below, block_above = band_sliders("allow-below", "block-above")
            threshold = threshold_slider(
                "moderate-threshold", "Block at or above it, allow below it: no review.", visible=False
            )
            example_buttons(image, "Examples", "moderate-examples")
        with gr.Column(scale=6, min_width=300):
            decision = gr.HTML(_EMPTY_CARD, elem_id="moderate-decision", padding=False)
            chart = gr.HTML("", visible=False, elem_id="band-chart", padding=False)
            preview = gr.Image(
                None,
                type="pil",
                format="png",
                label="Preview",
                interactive=False,
                visible=False,
                height=360,
                buttons=[],
                elem_id="moderate-preview",
            )
            with gr.Row():
                reveal = gr.Button(
                    "Show image", visible=False, size="sm", variant="secondary", elem_id="moderate-reveal"
                )
                explain_button = gr.Button(
                    "Explain: show what drives the score", size="sm", interactive=False, elem_id="explain"
                )
                download = gr.DownloadButton(
                    "Download result", visible=False, size="sm", variant="secondary", elem_id="moderate-download"
                )
            explain_note = gr.Markdown(EXPLAIN_TEXT, visible=False, elem_id="explain-note", elem_classes="explain-note")
            facts = gr.HTML("", visible=False, elem_id="moderation-facts", padding=False)
            frames = gr.HTML("", visible=False, elem_id="frame-scores", padding=False)
            with gr.Accordion("API response (/moderate)", open=False):
                response = gr.JSON(show_label=False)

    band = [mode, allow_below, block_above, threshold]
    views = [decision, chart, preview, reveal, explain_button, explain_note, facts, frames, response, download]
    rescore = {
        "fn": partial(show, loader),
        "inputs": [image, scan, *band],
        "outputs": [result, revealed, explanation, made, *views],
        "api_visibility": "private",
        "preprocess": False,  # the file goes to our decoder untouched (see ui.upload)
        "show_progress": "minimal",
        "show_progress_on": [decision],
    }
    image.change(fn=None, js=_MARK_PENDING)
    image.change(**rescore).then(fn=None, js=_CLEAR_PENDING)
    scan.change(**rescore)
    redecide = {"api_visibility": "private", "queue": False, "show_progress": "hidden"}
    mode.change(_switch_mode, mode, [allow_below, block_above, threshold], **redecide)
    gr.on(
        [mode.change, allow_below.change, block_above.change, threshold.change],
        rerender,
        [result, *band, revealed, explanation, made],
        views,
        **redecide,
    )
    reveal.click(toggle_reveal, [result, *band, revealed, explanation, made], [revealed, *views], **redecide)
    explain_button.click(
        partial(explain_preview, loader),
        [result, *band, revealed, explanation, made],
        [explanation, *views],
        api_visibility="private",
        show_progress="minimal",
        show_progress_on=[preview],
    )


def add_api(loader: ModelLoader) -> None:
    """/moderate and /explain, on hidden components of their own (call inside the Blocks, as app.build_demo does)."""
    with gr.Group(visible=False):
        image = gr.Image(type="filepath", label="image")
        allow_below = gr.Slider(0.0, 1.0, value=DEFAULT_ALLOW_BELOW, label="allow_below")
        block_above = gr.Slider(0.0, 1.0, value=DEFAULT_BLOCK_ABOVE, label="block_above")
        scan = gr.Checkbox(False, label="scan")
        heatmap = gr.Image(type="pil", format="png", label="heatmap")
    add_endpoint(
        bind(moderate_image, loader, "moderate"), [image, allow_below, block_above, scan], "moderate", preprocess=False
    )
    add_endpoint(bind(explain_image, loader, "explain"), [image], "explain", output=heatmap, preprocess=False)
