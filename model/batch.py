"""Many files in, one result per file out: decoded and classified in batches, a bad file never stops the rest."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from .errors import InvalidImageError, log_file_failure
from .images import DecodedImage, decode_image
from .inference import Classifier, Prediction

__all__ = ["FileResult", "classify_sources"]

logger = logging.getLogger(__name__)

Source = tuple[str, "bytes | str | os.PathLike[str]"]


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


def classify_sources(
    classifier: Classifier,
    sources: Iterable[Source],
    progress: Callable[[int], None] | None = None,
) -> list[FileResult]:
    """Decode and classify `(name, bytes-or-path)` pairs in batches; undecodable files carry their error.

    Args:
        classifier: the loaded classifier.
        sources: pairs of a display name and the file's bytes or path.
        progress: called with the number of files done after each batch.
    """
    results: list[FileResult] = []
    for chunk in _chunks(sources, classifier.settings.batch_size):
        outcomes: list[FileResult | DecodedImage] = []
        for name, source in chunk:
            try:
                outcomes.append(decode_image(source, classifier.limits, draft_min_side=classifier.draft_min_side))
            except InvalidImageError as error:
                outcomes.append(FileResult(file=name, error=str(error)))
            except Exception as error:  # one file never stops the rest
                outcomes.append(FileResult(file=name, error=log_file_failure(logger, "Decoding a file", error)))
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
