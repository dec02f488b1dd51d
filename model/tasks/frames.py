"""Animations: frames sampled evenly (animated GIF, WebP, AVIF or HEIF), each scored, the maximum deciding."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import torch

from ..errors import InvalidImageError, log_file_failure
from ..inputs.images import frame_count, iter_frames, open_image, read_upload
from ..runtime.classifier import Classifier

__all__ = ["FrameScore", "FrameScores", "score_frames"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrameScore:
    """One sampled frame: its index in the animation (0-based) and its NSFW score."""

    index: int
    nsfw_score: float


@dataclass(frozen=True)
class FrameScores:
    """Every sampled frame's score, how many frames the file has, and what scoring them cost."""

    frames: tuple[FrameScore, ...]
    total_frames: int
    milliseconds: float
    #: Why sampling stopped early (a frame that could not be read), else None.
    stopped: str | None = None

    @property
    def animated(self) -> bool:
        return self.total_frames > 1

    @property
    def top(self) -> FrameScore:
        """The highest-scoring frame (the earliest on a tie)."""
        return max(self.frames, key=lambda frame: frame.nsfw_score)

    @property
    def nsfw_score(self) -> float:
        """The score a decision should use: one explicit frame is enough to make an animation explicit."""
        return self.top.nsfw_score


def score_frames(
    classifier: Classifier, source: bytes | str | os.PathLike[str], *, max_frames: int | None = None
) -> FrameScores:
    """Sample up to `max_frames` frames evenly (first and last included) and score them in batches.

    A still image gives one frame (index 0). Frames are turned into model inputs as they are decoded, so memory
    holds one decoded frame and the small input tensors, however large the animation's canvas. A frame that
    cannot be read ends the sampling: the frames before it are scored and `stopped` says why (frames of a GIF
    can only be reached one after another). Only a file whose first frame cannot be read is refused.

    Args:
        classifier: the loaded classifier.
        source: the file's bytes or path (decoded through the same allow-list and limits as any upload).
        max_frames: the most frames to score; defaults to `classifier.settings.max_frames`.

    Raises:
        InvalidImageError: one of its subclasses, with a message for the user.
    """
    started = time.perf_counter()
    limit = classifier.settings.max_frames if max_frames is None else max_frames
    if limit < 1:
        raise ValueError(f"max_frames must be at least 1, not {limit}.")
    data = read_upload(source, classifier.limits)
    total = frame_count(open_image(data, classifier.limits), classifier.limits)
    indices: list[int] = []
    inputs: list[torch.Tensor] = []
    stopped: str | None = None
    frames = iter_frames(data, classifier.limits, limit)
    while True:
        try:
            index, frame = next(frames)
            inputs.append(classifier.preprocess(frame))
        except StopIteration:
            break
        except InvalidImageError as error:
            if not inputs:
                raise
            stopped = f"{error}"
            break
        except Exception as error:
            if not inputs:
                raise
            stopped = log_file_failure(logger, "Reading a frame", error)
            break
        indices.append(index)
    predictions = classifier.predict_tensor(torch.stack(inputs))
    milliseconds = 1000 * (time.perf_counter() - started)
    scores = tuple(
        FrameScore(index=index, nsfw_score=p.nsfw_score) for index, p in zip(indices, predictions, strict=True)
    )
    logger.info("Scored %d of %d frames in %.0f ms", len(scores), total, milliseconds)
    return FrameScores(frames=scores, total_frames=total, milliseconds=milliseconds, stopped=stopped)
