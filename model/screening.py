"""Uploads of many files -> results: classify them all (batch screening) or score a labelled set (evaluation)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from .archives import DEFAULT_ARCHIVE_LIMITS, ArchiveLimits, Skipped, open_uploads
from .batch import FileResult, classify_sources
from .errors import EvaluationError, InvalidImageError
from .images import ImageLimits, decode_image
from .inference import Classifier

__all__ = [
    "PREVIEW_SIDE",
    "Batch",
    "LabelledScores",
    "classify_uploads",
    "load_previews",
    "make_preview",
    "score_labelled",
]

logger = logging.getLogger(__name__)

#: Longest side of a preview in a results gallery.
PREVIEW_SIDE = 192

Progress = Callable[[int, int], None]
Paths = Sequence[str | os.PathLike[str]]


@dataclass(frozen=True)
class Batch:
    """Every file of an upload, in upload order: classified, or skipped with its reason."""

    results: list[FileResult]
    ignored: int = 0
    previews: dict[str, Image.Image] = field(default_factory=dict)


@dataclass(frozen=True)
class LabelledScores:
    """A labelled set after scoring: files, labels (1 = NSFW) and scores line up; `skipped` says what was left out."""

    files: tuple[str, ...]
    labels: tuple[int, ...]
    scores: tuple[float, ...]
    skipped: tuple[Skipped, ...]
    manifest: str | None = None
    ignored: int = 0


def make_preview(source: bytes | str | os.PathLike[str], limits: ImageLimits, side: int = PREVIEW_SIDE) -> Image.Image:
    """A small RGB thumbnail through the same safe decoder (JPEGs decoded at reduced scale)."""
    image = decode_image(source, limits, draft_min_side=side).image
    image.thumbnail((side, side))
    return image


def classify_uploads(
    classifier: Classifier,
    paths: Paths,
    limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
    *,
    names: Sequence[str] | None = None,
    progress: Progress | None = None,
    previews: int = 0,
) -> Batch:
    """Classify every image among `paths` (images and zip archives), in batches; nothing unreadable stops the rest.

    Args:
        classifier: the loaded classifier (its image limits apply to every file).
        paths: uploaded files; zips are opened as archives.
        limits: archive limits.
        names: display names for `paths` (default: their file names).
        progress: called with (files done, files in total) after each batch.
        previews: make thumbnails of the first this many images (for a gallery).

    Raises:
        ArchiveError: a subclass, when an archive breaks a limit or cannot be read at all.
    """
    thumbnails: dict[str, Image.Image] = {}
    with open_uploads(paths, limits, names=names) as uploads:
        order = {name: position for position, name in enumerate(uploads.names)}
        total = uploads.total

        def sources() -> Iterator[tuple[str, bytes | Path]]:
            for name, source in uploads.sources():
                if len(thumbnails) < previews:
                    # An unreadable file gets no preview; classify_sources reports its error in the results.
                    with contextlib.suppress(InvalidImageError):
                        thumbnails[name] = make_preview(source, classifier.limits)
                yield name, source

        results = classify_sources(
            classifier, sources(), None if progress is None else lambda done: progress(done, total)
        )
        skipped = list(uploads.skipped)
        ignored = uploads.ignored
    rows = results + [FileResult(file=item.file, error=item.reason) for item in skipped]
    rows.sort(key=lambda row: order.get(row.file, len(order)))
    return Batch(results=rows, ignored=ignored, previews=thumbnails)


def score_labelled(
    classifier: Classifier,
    paths: Paths,
    limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
    *,
    names: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> LabelledScores:
    """Score every labelled image among `paths` (a zip with nsfw/sfw folders, or images plus a CSV manifest).

    Raises:
        ArchiveError: a subclass, when an archive breaks a limit or cannot be read at all.
        EvaluationError: a subclass, when no image has a label, all labels are the same, or nothing could be read.
    """
    with open_uploads(paths, limits, labelled=True, names=names) as uploads:
        labels = uploads.labels()
        total = uploads.total
        results = classify_sources(
            classifier, uploads.sources(), None if progress is None else lambda done: progress(done, total)
        )
        skipped = list(uploads.skipped)
        manifest, ignored = uploads.manifest, uploads.ignored
    scored = [result for result in results if result.prediction is not None]
    skipped.extend(Skipped(result.file, str(result.error)) for result in results if result.prediction is None)
    if not scored:
        example = f" For example, {skipped[0].file}: {skipped[0].reason}" if skipped else ""
        raise EvaluationError(f"None of the {total} labelled files could be read as an image.{example}")
    return LabelledScores(
        files=tuple(result.file for result in scored),
        labels=tuple(labels[result.file] for result in scored),
        scores=tuple(result.prediction.nsfw_score for result in scored if result.prediction is not None),
        skipped=tuple(skipped),
        manifest=manifest,
        ignored=ignored,
    )


def load_previews(
    paths: Paths,
    wanted: Collection[str],
    limits: ArchiveLimits,
    image_limits: ImageLimits,
    *,
    names: Sequence[str] | None = None,
    side: int = PREVIEW_SIDE,
) -> dict[str, Image.Image]:
    """Thumbnails of the named files, read again from the same upload (e.g. the misclassified ones)."""
    wanted = set(wanted)
    found: dict[str, Image.Image] = {}
    with open_uploads(paths, limits, names=names) as uploads:
        uploads.items = [item for item in uploads.items if item.name in wanted]
        for name, source in uploads.sources():
            try:
                found[name] = make_preview(source, image_limits, side)
            except InvalidImageError as error:
                logger.info("No preview: %s", type(error).__name__)
    return found
