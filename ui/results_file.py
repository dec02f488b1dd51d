"""A results file in the Evaluate tab and /evaluate: scores a cluster already computed -> metrics, no model run."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from model.evaluation.metrics import compute_curves
from model.evaluation.results import FORMATS, labelled_rows, model_of, read_results
from model.inputs.archives import DEFAULT_ARCHIVE_LIMITS
from model.inputs.images import ImageLimits
from model.jobs.commands import is_results_file

if TYPE_CHECKING:
    from .evaluate import EvaluationRun

__all__ = ["MAX_BYTES", "MAX_ROWS", "is_results_upload", "read_scores"]

logger = logging.getLogger(__name__)

#: What the app reads from one results file: two million scored rows (about 200 MB of CSV, 40 MB of Parquet).
MAX_ROWS = 2_000_000
MAX_BYTES = 256 * 1024 * 1024


def is_results_upload(files: Sequence[str] | None) -> bool:
    """One uploaded .parquet or .jsonl file (never images, zips or a manifest, so a broken one gets the results file's
    own message), or one .csv file that holds scores (an `nsfw_score` column) rather than a manifest of paths."""
    if not files or len(files) != 1:
        return False
    suffix = Path(files[0]).suffix.casefold()
    return suffix in FORMATS and (suffix != ".csv" or is_results_file(files[0]))


def read_scores(path: str, name: str | None = None) -> EvaluationRun:
    """The labelled scores of a results file as an Evaluate-tab run: curves computed once, no previews.

    Raises:
        ResultsFileError: a subclass, when the file is past the limits, unreadable, or lacks its columns.
        EvaluationError: a subclass, when no row is labelled or only one class is.
    """
    # ui.evaluate imports this module: importing it back here, at call time, keeps the import graph one-way.
    from .evaluate import EvaluationRun

    started = time.perf_counter()
    name = name or Path(path).name
    table = read_results(path, max_rows=MAX_ROWS, max_bytes=MAX_BYTES, name=name)
    scores = replace(labelled_rows(table, name), manifest=name)
    curves = compute_curves(scores.labels, scores.scores)
    seconds = time.perf_counter() - started
    logger.info("Evaluation: %d scored rows read from a results file in %.1f s", len(scores.files), seconds)
    return EvaluationRun(
        scores=scores,
        curves=curves,
        model=model_of(table),
        seconds=seconds,
        paths=(),
        names=(),
        archive_limits=DEFAULT_ARCHIVE_LIMITS,
        image_limits=ImageLimits(),
    )
