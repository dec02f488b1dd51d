"""The per-file pipeline: many files in, one row per file out (decoded safely, classified in batches, an error row
per bad file). The CLI, the Batch and Evaluate tabs and `screen` on Ray all run `classify_sources`."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from ..errors import EvaluationError, InvalidImageError, log_file_failure
from ..inputs.archives import DEFAULT_ARCHIVE_LIMITS, ArchiveLimits, Skipped, open_uploads
from ..inputs.images import DecodedImage, ImageLimits, decode_image

if TYPE_CHECKING:  # the model (torch) is loaded by whoever classifies; reading rows needs none of it
    from ..runtime.classifier import Classifier, Prediction

__all__ = [
    "PREVIEW_SIDE",
    "Batch",
    "FileResult",
    "LabelledScores",
    "classify_sources",
    "classify_uploads",
    "load_previews",
    "make_preview",
    "score_labelled",
]

logger = logging.getLogger(__name__)

#: Longest side of a preview in a results gallery.
PREVIEW_SIDE = 192

#: The error row of a file whose decoding failed in a way nobody planned for (the traceback goes to the log).

Source = tuple[str, "bytes | str | os.PathLike[str]"]
Progress = Callable[[int, int], None]
Paths = Sequence[str | os.PathLike[str]]


@dataclass(frozen=True)
class FileResult:
    """The outcome for one named file: a prediction, or the reason it was skipped."""

    file: str
    prediction: Prediction | None = None
    error: str | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _chunks(items: Iterable[Source], size: int) -> Iterator[list[Source]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _decode(classifier: Classifier, name: str, source: bytes | str | os.PathLike[str]) -> DecodedImage | FileResult:
    """The decoded image, or the file's error row: one bad file never stops the others."""
    try:
        return decode_image(source, classifier.limits, draft_min_side=classifier.draft_min_side)
    except InvalidImageError as error:
        return FileResult(file=name, error=str(error))
    except Exception as error:  # a decoder bug or an OS fault: logged without the file's name (names come from uploads)
        return FileResult(file=name, error=log_file_failure(logger, "Decoding a file", error))


def classify_sources(
    classifier: Classifier,
    sources: Iterable[Source],
    progress: Callable[[int], None] | None = None,
) -> list[FileResult]:
    """Decode and classify `(name, bytes-or-path)` pairs in batches; a file that cannot be read gets an error row.

    Args:
        classifier: the loaded classifier.
        sources: pairs of a display name and the file's bytes or path.
        progress: called with the number of files done after each batch.
    """
    results: list[FileResult] = []
    for chunk in _chunks(sources, classifier.settings.batch_size):
        outcomes = [_decode(classifier, name, source) for name, source in chunk]
        decoded = [outcome for outcome in outcomes if isinstance(outcome, DecodedImage)]
        started = time.perf_counter()
        predictions = iter(classifier.predict([image.image for image in decoded]))
        logger.info("Classified %d images in %.0f ms", len(decoded), 1000 * (time.perf_counter() - started))
        for (name, _source), outcome in zip(chunk, outcomes, strict=True):
            if isinstance(outcome, FileResult):
                results.append(outcome)
                continue
            results.append(
                FileResult(
                    file=name,
                    prediction=next(predictions),
                    width=outcome.width,
                    height=outcome.height,
                    format=outcome.format,
                    notes=outcome.notes,
                )
            )
        if progress is not None:
            progress(len(results))
    return results


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
                    with contextlib.suppress(Exception):
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
