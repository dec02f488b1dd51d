"""Animations: frames sampled evenly (animated GIF/WebP), each scored, the maximum deciding."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import torch

from .errors import CorruptImageError
from .images import iter_frames, open_image, read_upload
from .inference import Classifier

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


def _frame_count(data: bytes, classifier: Classifier) -> int:
    image = open_image(data, classifier.limits)
    if not getattr(image, "is_animated", False):
        return 1
    try:
        return int(image.n_frames)
    except (OSError, ValueError, EOFError, SyntaxError) as error:
        raise CorruptImageError(f"The animation is corrupt ({error}). Re-export it and try again.") from None


def score_frames(
    classifier: Classifier, source: bytes | str | os.PathLike[str], *, max_frames: int | None = None
) -> FrameScores:
    """Sample up to `max_frames` frames evenly (first and last included) and score them in batches.

    A still image gives one frame (index 0). Frames are turned into model inputs as they are decoded, so memory
    holds one decoded frame and the small input tensors, however large the animation's canvas.

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
    total = _frame_count(data, classifier)
    indices: list[int] = []
    inputs: list[torch.Tensor] = []
    for index, frame in iter_frames(data, classifier.limits, limit):
        indices.append(index)
        inputs.append(classifier.preprocess(frame))
    predictions = classifier.predict_tensor(torch.stack(inputs))
    milliseconds = 1000 * (time.perf_counter() - started)
    frames = tuple(
        FrameScore(index=index, nsfw_score=p.nsfw_score) for index, p in zip(indices, predictions, strict=True)
    )
    logger.info("Scored %d of %d frames in %.0f ms", len(frames), total, milliseconds)
    return FrameScores(frames=frames, total_frames=total, milliseconds=milliseconds)
