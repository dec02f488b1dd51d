"""Downloadable reports (JSON and CSV) of a batch or an evaluation, each recording threshold, model id and revision.

CSV cells that a spreadsheet would run as a formula (starting with =, +, -, @, tab or carriage return) are
prefixed with an apostrophe: file names come from uploads and archives, which anyone can name.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..thresholds import NSFW, SFW, verdict
from .metrics import Curves, Evaluation, Outcome

if TYPE_CHECKING:
    from ..inputs.archives import Skipped
    from ..runtime.loading import ModelInfo
    from ..tasks.pipeline import FileResult

__all__ = [
    "ModelRecord",
    "batch_csv",
    "batch_report",
    "batch_summary",
    "created_now",
    "curves_record",
    "evaluation_csv",
    "evaluation_report",
    "metrics_csv",
    "result_record",
    "safe_cell",
]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ModelRecord:
    """Which model produced the scores: what a report must carry to be reproducible."""

    id: str
    revision: str | None

    @classmethod
    def from_info(cls, info: ModelInfo) -> ModelRecord:
        """The Hub id, or for a local folder only its name (a server's directory layout is not published)."""
        return cls(id=info.display_id, revision=info.revision)

    def to_dict(self) -> dict[str, str | None]:
        return {"id": self.id, "revision": self.revision}


def created_now() -> str:
    """Now as reports state it: UTC, to the second, ISO 8601."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def safe_cell(value: object) -> object:
    """A CSV cell that spreadsheets show as text: strings that look like formulas get a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()


def result_record(result: FileResult, threshold: float, model: ModelRecord) -> dict[str, Any]:
    """One batch row as JSON: the fields of `/classify` (without per-image timings), or `{"file", "error"}`."""
    if result.prediction is None:
        return {"file": result.file, "error": result.error}
    return {
        "file": result.file,
        "label": verdict(result.prediction.nsfw_score, threshold),
        "nsfw_score": result.prediction.nsfw_score,
        "threshold": threshold,
        "probabilities": dict(result.prediction.probabilities),
        "model": model.to_dict(),
        "image": {"width": result.width, "height": result.height, "format": result.format},
        "notes": list(result.notes),
    }


def batch_summary(results: Sequence[FileResult], threshold: float) -> dict[str, Any]:
    """Counts per verdict at `threshold`, and how many files were skipped."""
    counts = Counter(
        "skipped" if result.prediction is None else verdict(result.prediction.nsfw_score, threshold)
        for result in results
    )
    return {
        "files": len(results),
        "classified": counts[NSFW] + counts[SFW],
        "nsfw": counts[NSFW],
        "sfw": counts[SFW],
        "skipped": counts["skipped"],
        "threshold": threshold,
    }


def batch_report(
    results: Sequence[FileResult], threshold: float, model: ModelRecord, created: str | None = None
) -> dict[str, Any]:
    """The batch as JSON: `{"results": [...], "summary": {...}, "model", "threshold", "created"}`."""
    return {
        "results": [result_record(result, threshold, model) for result in results],
        "summary": batch_summary(results, threshold),
        "model": model.to_dict(),
        "threshold": threshold,
        "created": created or created_now(),
    }


def batch_csv(results: Sequence[FileResult], threshold: float, model: ModelRecord) -> str:
    """One row per file: file, nsfw_score, label, error, width, height, threshold, model, revision."""
    header = ("file", "nsfw_score", "label", "error", "width", "height", "threshold", "model", "revision")
    rows = []
    for result in results:
        if result.prediction is None:
            rows.append((result.file, "", "", result.error, "", "", threshold, model.id, model.revision))
        else:
            score = result.prediction.nsfw_score
            rows.append(
                (
                    result.file,
                    repr(score),
                    verdict(score, threshold),
                    "",
                    result.width,
                    result.height,
                    threshold,
                    model.id,
                    model.revision,
                )
            )
    return _csv(header, rows)


def _finite(values: Iterable[float]) -> list[float | None]:
    """JSON has no infinity: roc_curve's leading +inf threshold (nothing flagged) becomes null."""
    return [float(value) if abs(value) != float("inf") else None for value in values]


def curves_record(curves: Curves) -> dict[str, Any]:
    """scikit-learn's curves as lists, for re-plotting: PR, ROC and P/R/F1 against the threshold."""
    return {
        "precision_recall": {
            "precision": _finite(curves.pr_precision),
            "recall": _finite(curves.pr_recall),
            "thresholds": _finite(curves.pr_thresholds),
        },
        "roc": {
            "false_positive_rate": _finite(curves.roc_fpr),
            "true_positive_rate": _finite(curves.roc_tpr),
            "thresholds": _finite(curves.roc_thresholds),
        },
        "by_threshold": {
            "thresholds": _finite(curves.thresholds),
            "precision": _finite(curves.precision),
            "recall": _finite(curves.recall),
            "f1": _finite(curves.f1),
            "false_positive_rate": _finite(curves.false_positive_rate),
        },
    }


def evaluation_report(
    evaluation: Evaluation,
    rows: Sequence[Outcome],
    skipped: Sequence[Skipped],
    model: ModelRecord,
    *,
    curves: Curves | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    """The evaluation as JSON: every metric of `Evaluation.to_dict`, the files with their outcome, the skipped
    files with their reason, the model, and (if given) the curves."""
    report = evaluation.to_dict()
    report["skipped"] = [{"file": item.file, "reason": item.reason} for item in skipped]
    report["files"] = [
        {
            "file": row.file,
            "label": row.label,
            "nsfw_score": row.nsfw_score,
            "verdict": row.verdict,
            "outcome": row.outcome,
        }
        for row in rows
    ]
    report["model"] = model.to_dict()
    report["created"] = created or created_now()
    if curves is not None:
        report["curves"] = curves_record(curves)
    return report


def evaluation_csv(rows: Sequence[Outcome], threshold: float, model: ModelRecord) -> str:
    """One row per labelled file: file, label, nsfw_score, verdict, outcome, correct, threshold, model, revision."""
    header = ("file", "label", "nsfw_score", "verdict", "outcome", "correct", "threshold", "model", "revision")
    return _csv(
        header,
        (
            (
                row.file,
                row.label,
                repr(row.nsfw_score),
                row.verdict,
                row.outcome,
                row.correct,
                threshold,
                model.id,
                model.revision,
            )
            for row in rows
        ),
    )


def metrics_csv(evaluation: Evaluation, model: ModelRecord) -> str:
    """The metrics as `metric,value` rows (recommended thresholds flattened to `recommended.<name>.<field>`)."""
    flat: list[tuple[str, object]] = [("model", model.id), ("revision", model.revision)]
    for key, value in evaluation.to_dict().items():
        if key == "confusion":
            flat.extend((f"confusion.{name}", count) for name, count in value.items())
        elif key == "recommended_thresholds":
            for name, choice in value.items():
                flat.extend((f"recommended.{name}.{field}", item) for field, item in choice.items())
        else:
            flat.append((key, value))
    return _csv(("metric", "value"), ((name, "" if value is None else value) for name, value in flat))
