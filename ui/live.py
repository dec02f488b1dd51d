"""The Live webcam tab: the webcam classified several times a second, with the decision and a rolling score plot.

Gradio runs one streaming event per viewer and keeps only the newest frame the browser sent: frames that arrive
while the model is busy replace each other instead of queueing, so the display never falls behind the camera
(on a busy 2-core machine, 18 frames were classified in 14 s of streaming at 4 frames sent a second).
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

import gradio as gr

from model import check_band, decide, decode_image

from .announce import WATCH_DECISION
from .band import band_chart, decision_card, score_series
from .cards import empty_card, error_card
from .controls import band_sliders
from .errors import user_message
from .loader import ModelLoader
from .upload import upload_source

__all__ = ["ELEM_ID", "HISTORY", "LINKED_MODES", "LINKED_SLIDERS", "STREAM_EVERY", "TITLE", "build", "classify_frame"]

logger = logging.getLogger(__name__)

TITLE = "Live webcam"
ELEM_ID = "live-tab"
#: What a link to the tab carries besides the tab: address parameter -> slider elem_id (ui/page_state.js).
LINKED_SLIDERS = {"allow_below": "live-allow", "block_above": "live-block"}
LINKED_MODES: dict[str, tuple[str, str]] = {}
#: Seconds between frames the browser sends (4 a second); slower machines simply drop the extra ones.
STREAM_EVERY = 0.25
#: Seconds of model time one viewer's stream may use before it stops (press record again to continue).
TIME_LIMIT = 300
#: Viewers streaming at once; each holds one event for its whole stream, and the model runs one frame at a time.
MAX_STREAMS = 4
#: Scores kept for the rolling plot.
HISTORY = 40

_EMPTY_CARD = empty_card(
    "Camera off", "Start the webcam and press record: frames are classified as they come.", {"decision": ""}
)

BLUR_NOTE = "The camera view is blurred on screen until frames are allowed again."

History = list[tuple[float, float]]


def classify_frame(
    loader: ModelLoader,
    frame: dict[str, Any] | None,
    allow_below: float,
    block_above: float,
    history: History | None,
    started: float | None,
) -> tuple[Any, ...]:
    """One webcam frame -> (decision card, band chart, rolling plot, history, start time)."""
    history = list(history or [])
    if frame is None:
        return gr.HTML(), gr.HTML(), gr.HTML(), history, started
    try:
        low, high = check_band(allow_below, block_above)
        classifier = loader.wait()
        image = decode_image(upload_source(frame), classifier.limits, draft_min_side=classifier.draft_min_side).image
        [prediction] = classifier.predict([image])
    except Exception as error:  # shown in the card; the stream goes on with the next frame
        card = error_card("Could not classify", user_message(error, "live frame"))
        return card, gr.HTML(), gr.HTML(), history, started
    now = time.monotonic()
    started = now if started is None else started
    score = prediction.nsfw_score
    history = [*history, (round(now - started, 2), score)][-HISTORY:]
    decision = decide(score, low, high)
    return (
        decision_card(decision, score, low, high, blur=decision != "allow", blur_note=BLUR_NOTE, live_region=False),
        gr.HTML(band_chart(score, low, high, decision), visible=True),
        gr.HTML(score_series(history, low, high, title=f"Last {len(history)} frames", x_label="seconds"), visible=True),
        history,
        started,
    )


def build(loader: ModelLoader) -> None:
    """Webcam and band on the left, decision and rolling plot on the right."""
    history = gr.State([])
    started = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=300):
            camera = gr.Image(
                type="filepath",
                label="Webcam",
                sources=["webcam"],
                streaming=True,
                elem_id="live-input",
                height=320,
            )
            allow_below, block_above = band_sliders("live-allow", "live-block")
            gr.Markdown(
                f"About {1 / STREAM_EVERY:g} frames a second are sent; when the model is busy, older frames are "
                "dropped, never queued. Frames are classified in memory and not kept.",
                elem_classes="explain-note",
            )
        with gr.Column(scale=6, min_width=300):
            decision = gr.HTML(_EMPTY_CARD, elem_id="live-decision", padding=False, js_on_load=WATCH_DECISION)
            chart = gr.HTML("", visible=False, elem_id="live-chart", padding=False)
            plot = gr.HTML("", visible=False, elem_id="live-plot", padding=False)

    camera.stream(
        partial(classify_frame, loader),
        [camera, allow_below, block_above, history, started],
        [decision, chart, plot, history, started],
        stream_every=STREAM_EVERY,
        time_limit=TIME_LIMIT,
        # A stream is one long event per viewer whose input the browser overwrites with each new frame, so a busy
        # model skips to the newest frame and nothing queues. (trigger_mode="always_last" would stop the stream
        # after its first frame in Gradio 6.) A few viewers at once share the model.
        concurrency_limit=MAX_STREAMS,
        concurrency_id="live-webcam",
        show_progress="hidden",
        api_visibility="private",
        preprocess=False,  # the frame goes to our decoder untouched (see ui.upload)
    )
    camera.clear(lambda: ([], None, _EMPTY_CARD), None, [history, started, decision], api_visibility="private")
