"""One upload -> decoded, classified and timed: the work that /classify and the single-image tab share."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import gradio as gr

from model import Classifier, EmptyFileError, Prediction, decode_image, verdict
from model.inputs.images import read_upload
from model.runtime.cache import content_key

from .loader import ModelLoader

__all__ = ["Classification", "Timings", "classify_upload", "forget_session", "session_of"]

logger = logging.getLogger(__name__)

NO_IMAGE_MESSAGE = "No image was given. Upload a JPEG, PNG, WebP, GIF, BMP, AVIF or HEIC image."


@dataclass(frozen=True)
class Timings:
    """Milliseconds spent on one request."""

    decode_ms: float
    inference_ms: float
    total_ms: float

    def as_dict(self) -> dict[str, float]:
        return {
            "decode": round(self.decode_ms, 1),
            "inference": round(self.inference_ms, 1),
            "total": round(self.total_ms, 1),
        }


@dataclass(frozen=True)
class Classification:
    """The model's output for one upload with what the UI and the API show beside it; no threshold applied yet."""

    prediction: Prediction
    width: int
    height: int
    format: str
    notes: tuple[str, ...]
    timings: Timings
    model_id: str
    revision: str | None
    #: Set when this result was reused for the same bytes: the timings of the run that produced it (`timings` are
    #: then the lookup's).
    original_timings: Timings | None = None

    @property
    def nsfw_score(self) -> float:
        return self.prediction.nsfw_score

    def label(self, threshold: float) -> str:
        """'NSFW' when the score reaches the threshold (score >= threshold), else 'SFW'."""
        return verdict(self.prediction.nsfw_score, threshold)

    def to_json(self, threshold: float) -> dict[str, Any]:
        """The /classify response at `threshold`."""
        return {
            "label": self.label(threshold),
            "nsfw_score": self.prediction.nsfw_score,
            "threshold": threshold,
            "probabilities": dict(self.prediction.probabilities),
            "model": {"id": self.model_id, "revision": self.revision},
            "timings_ms": self.timings.as_dict(),
            "image": {"width": self.width, "height": self.height, "format": self.format},
            "notes": list(self.notes),
        }


def session_of(request: gr.Request | None) -> str | None:
    """The Gradio session a request belongs to, or None for a call with no session of its own.

    A page and a `gradio_client.Client` each keep one session hash for all their calls. A plain HTTP call
    (`POST /gradio_api/call/...`) gets a fresh one per call, which no later call shares: it counts as no session.
    """
    if request is None or not request.session_hash:
        return None
    inner = getattr(request, "request", None)
    path = getattr(getattr(inner, "url", None), "path", "") or ""
    return None if "/call/" in path else request.session_hash


def forget_session(loader: ModelLoader, request: gr.Request | None) -> None:
    """Gradio closed a session (the page was closed or reloaded): drop the results it kept."""
    if loader.status == "ready" and request is not None and request.session_hash:
        loader.wait(0).recent.drop(request.session_hash)


def classify_upload(
    classifier: Classifier, source: str | bytes | os.PathLike[str] | None, session: str | None = None
) -> Classification:
    """Decode an upload with the classifier's limits and classify it, timing each step.

    The same bytes sent again in the same `session` (among its last `model.runtime.cache.CACHE_SIZE` uploads) get
    the stored result at once; another session never sees it, and without a session nothing is reused or kept.
    Logs only sizes and timings, never the file's name or content.

    Raises:
        InvalidImageError: one of its subclasses, with the decoder's message for the user.
    """
    if source is None or (isinstance(source, str) and not source):
        raise EmptyFileError(NO_IMAGE_MESSAGE)
    started = time.perf_counter()
    data = read_upload(source, classifier.limits)
    # Without a session nothing is reused or kept, so the bytes are not hashed (2 ms for a 3.3 MB photo).
    key = content_key(data) if session is not None else None
    recent = classifier.recent.get(session, key) if key is not None else None
    if recent is not None:
        # This session sent the same bytes moments ago: neither the decoder nor the model needs to run again.
        total_ms = 1000 * (time.perf_counter() - started)
        logger.info(
            "inference: %d bytes, %dx%d %s; same bytes as a recent upload, result reused, total %.1f ms",
            len(data),
            recent.width,
            recent.height,
            recent.format,
            total_ms,
        )
        return dataclasses.replace(
            recent,
            timings=Timings(decode_ms=total_ms, inference_ms=0.0, total_ms=total_ms),
            original_timings=recent.original_timings or recent.timings,
        )
    decoded = decode_image(data, classifier.limits, draft_min_side=classifier.draft_min_side)
    decoded_at = time.perf_counter()
    [prediction] = classifier.predict([decoded.image])
    finished = time.perf_counter()
    timings = Timings(
        decode_ms=1000 * (decoded_at - started),
        inference_ms=1000 * (finished - decoded_at),
        total_ms=1000 * (finished - started),
    )
    logger.info(
        "inference: %d bytes, %dx%d %s; decode %.1f ms, inference %.1f ms, total %.1f ms",
        len(data),
        decoded.width,
        decoded.height,
        decoded.format,
        timings.decode_ms,
        timings.inference_ms,
        timings.total_ms,
    )
    result = Classification(
        prediction=prediction,
        width=decoded.width,
        height=decoded.height,
        format=decoded.format,
        notes=decoded.notes,
        timings=timings,
        model_id=classifier.info.display_id,
        revision=classifier.info.revision,
    )
    if key is not None:
        classifier.recent.put(session, key, result)
    return result
