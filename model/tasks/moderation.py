"""One upload -> allow / review / block: the whole image, optionally its tiles, or the frames of an animation."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from ..errors import log_file_failure
from ..inputs.images import decode_image, read_upload
from ..runtime.classifier import Classifier
from ..thresholds import DEFAULT_ALLOW_BELOW, DEFAULT_BLOCK_ABOVE, Decision, decide
from .frames import FrameScores, score_frames
from .scan import ScanResult, scan_image

__all__ = ["DEFAULT_ALLOW_BELOW", "DEFAULT_BLOCK_ABOVE", "PREVIEW_SIDE", "Moderation", "moderate"]

logger = logging.getLogger(__name__)

#: Longest side of the preview kept for display (the full image is not kept after scoring).
PREVIEW_SIDE = 1024
_ANIMATION_NOTE = "Animated image:"


@dataclass(frozen=True)
class Moderation:
    """The scores behind a decision; the decision itself depends on the band and is made by `decision()`.

    `nsfw_score` is the highest of the whole image, every tile (when scanned) and every sampled frame (for an
    animation): one explicit region or frame is enough.
    """

    whole_score: float
    width: int
    height: int
    format: str
    preview: Image.Image = field(repr=False)
    scan: ScanResult | None = None
    frames: FrameScores | None = None
    notes: tuple[str, ...] = ()
    milliseconds: float = 0.0

    @property
    def nsfw_score(self) -> float:
        scores = [self.whole_score]
        if self.scan is not None:
            scores.append(self.scan.max_score)
        if self.frames is not None:
            scores.append(self.frames.nsfw_score)
        return max(scores)

    @property
    def preview_scale(self) -> float:
        """Preview pixels per original pixel (boxes in original pixels times this land on the preview)."""
        return self.preview.width / self.width

    def decision(self, allow_below: float, block_above: float) -> Decision:
        return decide(self.nsfw_score, allow_below, block_above)

    def to_json(self, allow_below: float, block_above: float) -> dict[str, Any]:
        """The /moderate response for this band."""
        tiles = None
        if self.scan is not None:
            tiles = {
                "max_score": self.scan.max_score,
                "box": list(self.scan.box),
                "count": self.scan.count,
                "tile_side": self.scan.tile_side,
                "ms": round(self.scan.milliseconds, 1),
            }
        frames = None
        if self.frames is not None:
            frames = [{"index": frame.index, "nsfw_score": frame.nsfw_score} for frame in self.frames.frames]
        return {
            "decision": self.decision(allow_below, block_above),
            "nsfw_score": self.nsfw_score,
            "allow_below": allow_below,
            "block_above": block_above,
            "whole_image_score": self.whole_score,
            "tiles": tiles,
            "frames": frames,
            "total_frames": self.frames.total_frames if self.frames is not None else None,
            "image": {"width": self.width, "height": self.height, "format": self.format},
            "notes": list(self.notes),
            "ms": round(self.milliseconds, 1),
        }


def _preview(image: Image.Image) -> Image.Image:
    if max(image.size) <= PREVIEW_SIDE:
        return image.copy()
    scale = PREVIEW_SIDE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR)


def moderate(
    classifier: Classifier,
    source: bytes | str | os.PathLike[str],
    *,
    scan: bool = False,
) -> Moderation:
    """Score an upload for a moderation decision.

    A still image is scored whole and, with `scan`, also tile by tile at full resolution (`model.tasks.scan`). An
    animation (GIF, WebP, AVIF) has up to `settings.max_frames` frames scored (`model.tasks.frames`); the scan is not
    run on animations, whose frames are usually small.

    Args:
        classifier: the loaded classifier.
        source: the file's bytes or path.
        scan: also scan overlapping tiles of a still image.

    Raises:
        InvalidImageError: one of its subclasses, with a message for the user.
    """
    started = time.perf_counter()
    data = read_upload(source, classifier.limits)
    # The scan needs every pixel; otherwise a large JPEG may decode at reduced scale, as for /classify.
    draft = None if scan else classifier.draft_min_side
    decoded = decode_image(data, classifier.limits, draft_min_side=draft)
    notes = [note for note in decoded.notes if not note.startswith(_ANIMATION_NOTE)]
    scan_result: ScanResult | None = None
    frames: FrameScores | None = None
    if decoded.animated:
        frames = score_frames(classifier, data)
        whole = frames.frames[0].nsfw_score
        notes.append(
            f"Animated image: {len(frames.frames)} of {frames.total_frames} frames were scored; the highest decides."
        )
        if frames.stopped:
            notes.append(f"Sampling stopped at a frame that could not be read: {frames.stopped}")
        if scan:
            notes.append("The tile scan applies to still images; the animation was scored frame by frame instead.")
    elif scan:
        try:
            scan_result = scan_image(classifier, decoded.image)
            whole = scan_result.whole_score
        except Exception as error:  # the whole-image score still stands on its own
            log_file_failure(logger, "The tile scan", error)
            [prediction] = classifier.predict([decoded.image])
            whole = prediction.nsfw_score
            notes.append("The tile scan failed: only the whole image was scored.")
    else:
        [prediction] = classifier.predict([decoded.image])
        whole = prediction.nsfw_score
    milliseconds = 1000 * (time.perf_counter() - started)
    logger.info(
        "moderation: %dx%d %s, scan=%s, frames=%s, %.0f ms",
        decoded.width,
        decoded.height,
        decoded.format,
        scan_result.count if scan_result else None,
        len(frames.frames) if frames else None,
        milliseconds,
    )
    return Moderation(
        whole_score=whole,
        width=decoded.width,
        height=decoded.height,
        format=decoded.format,
        preview=_preview(decoded.image),
        scan=scan_result,
        frames=frames,
        notes=tuple(notes),
        milliseconds=milliseconds,
    )
