"""The one evaluation chain: labelled scores -> curves -> metrics at a threshold -> per-file outcomes -> the report.

The Evaluate tab, `/evaluate` and `python -m model evaluate` all call `evaluate_scores`, so the same scores and
labels give the same JSON report on every path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..tasks.pipeline import LabelledScores
from ..thresholds import DEFAULT_THRESHOLD
from .metrics import (
    DEFAULT_TARGET_PRECISION,
    DEFAULT_TARGET_RECALL,
    Curves,
    Evaluation,
    Outcome,
    compute_curves,
    evaluate,
    outcomes,
)
from .reports import ModelRecord, evaluation_report

__all__ = ["EvaluatedSet", "evaluate_scores"]


@dataclass(frozen=True)
class EvaluatedSet:
    """A labelled set evaluated at one threshold: the curves (threshold-free), the metrics, each file's outcome,
    and the JSON report that `/evaluate` returns and `evaluate` writes."""

    curves: Curves
    evaluation: Evaluation
    outcomes: list[Outcome]
    report: dict[str, Any]


def evaluate_scores(
    scores: LabelledScores,
    model: ModelRecord,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    target_precision: float | None = DEFAULT_TARGET_PRECISION,
    target_recall: float | None = DEFAULT_TARGET_RECALL,
    prevalence: float | None = None,
    curves: Curves | None = None,
    created: str | None = None,
) -> EvaluatedSet:
    """Evaluate labelled scores at `threshold` and build the report.

    Args:
        scores: the labelled set (1 = NSFW) with the files left out and why.
        model: the model that produced the scores, recorded in the report.
        threshold: NSFW when the score is at or above it.
        target_precision: precision the recommended "target_precision" threshold must reach.
        target_recall: recall the recommended "target_recall" threshold must reach.
        prevalence: expected NSFW share of real traffic, to re-weight precision (None: not re-weighted).
        curves: the set's curves when already computed (they do not depend on the threshold).
        created: the report's time stamp (default: now, UTC).
    """
    curves = curves if curves is not None else compute_curves(scores.labels, scores.scores)
    evaluation = evaluate(
        scores.labels,
        scores.scores,
        threshold,
        target_precision=target_precision,
        target_recall=target_recall,
        prevalence=prevalence,
        curves=curves,
    )
    rows = outcomes(scores.files, scores.labels, scores.scores, threshold)
    report = evaluation_report(evaluation, rows, scores.skipped, model, curves=curves, created=created)
    return EvaluatedSet(curves=curves, evaluation=evaluation, outcomes=rows, report=report)
