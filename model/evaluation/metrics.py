"""Evaluation on labelled scores with scikit-learn: metrics at a threshold, curves and recommended thresholds.

NSFW is the positive class (label 1) and an image is predicted NSFW when its score >= the threshold, the same rule
as `model.thresholds.verdict` and scikit-learn's curves. Every rate comes from scikit-learn; the only arithmetic
here combines those rates, and each formula is written next to it:

- F1 per threshold = 2·P·R / (P + R), from `precision_recall_curve`'s precision P and recall R (a per-threshold
  `f1_score` would cost one pass per distinct score; the tests check both agree).
- Precision at prevalence π (the expected NSFW share of real traffic) = TPR·π / (TPR·π + FPR·(1−π)), from
  `roc_curve`'s rates (or the confusion matrix at one threshold). A test set is often half NSFW; real traffic
  rarely is, and precision falls with prevalence while TPR and FPR do not move.

No torch here: this module runs on any list of labels and scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigurationError, EvaluationError, MissingLabelsError, SingleClassError
from ..thresholds import NSFW, SFW, check_threshold

__all__ = [
    "CHOICE_NAMES",
    "DEFAULT_TARGET_PRECISION",
    "DEFAULT_TARGET_RECALL",
    "Confusion",
    "Curves",
    "Evaluation",
    "Outcome",
    "ThresholdChoice",
    "compute_curves",
    "evaluate",
    "misclassified",
    "outcomes",
    "precision_at_prevalence",
    "recommend",
]

DEFAULT_TARGET_PRECISION = 0.95
DEFAULT_TARGET_RECALL = 0.95
#: Rates equal to a target up to float rounding count as reaching it (19/20 must reach 0.95).
_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Confusion:
    """The confusion matrix at one threshold, NSFW positive."""

    tp: int
    fp: int
    tn: int
    fn: int


@dataclass(frozen=True, eq=False)
class Curves:
    """Everything that does not depend on the chosen threshold: computed once per scored set.

    `thresholds` are the distinct scores, ascending; `precision`, `recall`, `f1` and `false_positive_rate` are the
    values at each of them (predicted NSFW when score >= threshold). The `pr_*` and `roc_*` arrays are
    scikit-learn's own curves, for plotting (the ROC curve starts at threshold +inf: nothing flagged).
    """

    labels: np.ndarray
    scores: np.ndarray
    roc_auc: float
    average_precision: float
    pr_precision: np.ndarray
    pr_recall: np.ndarray
    pr_thresholds: np.ndarray
    roc_fpr: np.ndarray
    roc_tpr: np.ndarray
    roc_thresholds: np.ndarray
    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    false_positive_rate: np.ndarray

    @property
    def n_nsfw(self) -> int:
        return int(self.labels.sum())

    @property
    def n_sfw(self) -> int:
        return int(self.labels.size - self.labels.sum())


#: The thresholds `recommend` may return, in the order reports show them, with the names people read.
CHOICE_NAMES = {
    "f1_max": "Best F1",
    "target_precision": "Target precision",
    "target_recall": "Target recall",
    "target_precision_at_prevalence": "Target precision in real traffic",
}


@dataclass(frozen=True)
class ThresholdChoice:
    """A recommended threshold, what it achieves on this set, and whether it meets its goal.

    `threshold` is a score from the set (scikit-learn's convention); every threshold above `lower` (the next lower
    distinct score, or 0) and up to `threshold` gives the same predictions, so a rounder value in that range works.
    """

    goal: str
    threshold: float
    lower: float
    precision: float
    recall: float
    f1: float
    false_positive_rate: float
    reached: bool
    precision_at_prevalence: float | None = None

    def rounded(self, decimals: int = 3) -> float:
        """The roundest threshold (down to `decimals`) that gives the same predictions as `threshold`."""
        for places in range(decimals + 1):
            candidate = math.floor(self.threshold * 10**places) / 10**places
            if self.lower < candidate <= self.threshold:
                return candidate
        return self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "goal": self.goal,
            "threshold": self.threshold,
            "same_predictions_above": self.lower,
            "reached": self.reached,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "false_positive_rate": self.false_positive_rate,
            "precision_at_prevalence": self.precision_at_prevalence,
        }


@dataclass(frozen=True)
class Evaluation:
    """Metrics at one threshold, plus the thresholds recommended from the curves."""

    n: int
    n_nsfw: int
    n_sfw: int
    threshold: float
    accuracy: float
    precision: float
    recall: float
    f1: float
    false_positive_rate: float
    roc_auc: float
    average_precision: float
    confusion: Confusion
    prevalence: float | None = None
    precision_at_prevalence: float | None = None
    recommended: dict[str, ThresholdChoice] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the keys of the `/evaluate` endpoint (NSFW positive)."""
        return {
            "n": self.n,
            "n_nsfw": self.n_nsfw,
            "n_sfw": self.n_sfw,
            "threshold": self.threshold,
            "accuracy": self.accuracy,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "false_positive_rate": self.false_positive_rate,
            "roc_auc": self.roc_auc,
            "average_precision": self.average_precision,
            "confusion": {
                "tp": self.confusion.tp,
                "fp": self.confusion.fp,
                "tn": self.confusion.tn,
                "fn": self.confusion.fn,
            },
            "prevalence": self.prevalence,
            "precision_at_prevalence": self.precision_at_prevalence,
            "recommended_thresholds": {name: choice.to_dict() for name, choice in self.recommended.items()},
        }


@dataclass(frozen=True)
class Outcome:
    """One labelled file at one threshold: TP, FP, TN or FN (NSFW positive)."""

    file: str
    label: str
    nsfw_score: float
    verdict: str
    outcome: str

    @property
    def correct(self) -> bool:
        return self.outcome in ("TP", "TN")


def _arrays(labels: Sequence[int | bool], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Validated copies: labels 0/1 (1 = NSFW), scores finite in [0, 1], both classes present."""
    if len(scores) == 0 and len(labels) == 0:
        raise EvaluationError("No images were scored, so there is nothing to evaluate: upload labelled images.")
    if len(labels) == 0:
        raise MissingLabelsError(f"{len(scores)} scores came with no labels: give one label (1 = NSFW) per score.")
    if len(labels) != len(scores):
        raise EvaluationError(f"{len(labels)} labels but {len(scores)} scores: give exactly one label per score.")
    label_array = np.asarray(labels)
    if label_array.dtype == bool:
        label_array = label_array.astype(int)
    if label_array.ndim != 1 or not np.isin(label_array, (0, 1)).all():
        raise EvaluationError("Labels must be 1 (NSFW) or 0 (SFW).")
    score_array = np.asarray(scores, dtype=float)
    if (
        score_array.ndim != 1
        or not np.isfinite(score_array).all()
        or (score_array < 0).any()
        or (score_array > 1).any()
    ):
        raise EvaluationError("Scores must be numbers between 0 and 1 (the model's NSFW probability).")
    positives = int(label_array.sum())
    if positives in (0, label_array.size):
        only, other = (NSFW, SFW) if positives else (SFW, NSFW)
        raise SingleClassError(
            f"All {label_array.size} scored images are {only}: the evaluation needs both classes. "
            f"Add some {other} images (precision, recall and ROC AUC compare the two)."
        )
    return label_array.astype(int), score_array


def precision_at_prevalence(
    true_positive_rate: np.ndarray | float, false_positive_rate: np.ndarray | float, prevalence: float
) -> np.ndarray | float:
    """Precision when NSFW makes up `prevalence` of the traffic: TPR·π / (TPR·π + FPR·(1−π)); 0 where undefined."""
    tpr = np.asarray(true_positive_rate, dtype=float)
    fpr = np.asarray(false_positive_rate, dtype=float)
    flagged = tpr * prevalence + fpr * (1.0 - prevalence)
    result = np.divide(tpr * prevalence, flagged, out=np.zeros_like(flagged), where=flagged > 0)
    return float(result) if result.ndim == 0 else result


def compute_curves(labels: Sequence[int | bool], scores: Sequence[float]) -> Curves:
    """scikit-learn's PR and ROC curves, AUC, average precision and per-threshold P/R/F1/FPR for a labelled set.

    Raises:
        EvaluationError: a subclass when there are no scores, no labels, or only one class.
    """
    # Imported here, not at the top: scikit-learn (with SciPy) adds about a second to the app's start.
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    y_true, y_score = _arrays(labels, scores)
    pr_precision, pr_recall, pr_thresholds = precision_recall_curve(y_true, y_score)
    roc_fpr, roc_tpr, roc_thresholds = roc_curve(y_true, y_score, drop_intermediate=False)
    # precision_recall_curve's thresholds ascend over the distinct scores; roc_curve's (after its leading +inf)
    # descend over the same scores, so reversing aligns the false-positive rate with precision and recall.
    false_positive_rate = roc_fpr[1:][::-1]
    precision = pr_precision[:-1]
    recall = pr_recall[:-1]
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    return Curves(
        labels=y_true,
        scores=y_score,
        roc_auc=float(roc_auc_score(y_true, y_score)),
        average_precision=float(average_precision_score(y_true, y_score)),
        pr_precision=pr_precision,
        pr_recall=pr_recall,
        pr_thresholds=pr_thresholds,
        roc_fpr=roc_fpr,
        roc_tpr=roc_tpr,
        roc_thresholds=roc_thresholds,
        thresholds=pr_thresholds,
        precision=precision,
        recall=recall,
        f1=f1,
        false_positive_rate=false_positive_rate,
    )


def _choice(curves: Curves, index: int, goal: str, reached: bool, prevalence: float | None) -> ThresholdChoice:
    return ThresholdChoice(
        goal=goal,
        threshold=float(curves.thresholds[index]),
        lower=float(curves.thresholds[index - 1]) if index > 0 else 0.0,
        precision=float(curves.precision[index]),
        recall=float(curves.recall[index]),
        f1=float(curves.f1[index]),
        false_positive_rate=float(curves.false_positive_rate[index]),
        reached=reached,
        precision_at_prevalence=None
        if prevalence is None
        else float(precision_at_prevalence(curves.recall[index], curves.false_positive_rate[index], prevalence)),
    )


def _lowest_reaching(values: np.ndarray, target: float) -> tuple[int, bool]:
    """The lowest threshold whose value reaches `target` (recall only falls as the threshold rises, so this keeps
    the most recall); when none does, the threshold with the best value."""
    reaching = np.flatnonzero(values >= target - _TOLERANCE)
    if reaching.size:
        return int(reaching[0]), True
    return int(np.argmax(values)), False


def recommend(
    curves: Curves,
    *,
    target_precision: float | None = DEFAULT_TARGET_PRECISION,
    target_recall: float | None = DEFAULT_TARGET_RECALL,
    prevalence: float | None = None,
) -> dict[str, ThresholdChoice]:
    """Thresholds worth considering: the F1 maximum, and those reaching the target precision and recall.

    - `f1_max`: the threshold with the highest F1 (the lowest one if several tie).
    - `target_precision`: the lowest threshold whose precision reaches the target, i.e. the most recall at that
      precision; if none does, the most precise threshold, with `reached` false.
    - `target_recall`: the highest threshold whose recall still reaches the target (fewest false positives).
    - `target_precision_at_prevalence`: as `target_precision`, with precision re-weighted to the prevalence.
    """
    choices = {"f1_max": _choice(curves, int(np.argmax(curves.f1)), "maximum F1", True, prevalence)}
    if target_precision is not None:
        index, reached = _lowest_reaching(curves.precision, target_precision)
        choices["target_precision"] = _choice(curves, index, f"precision ≥ {target_precision:g}", reached, prevalence)
    if target_recall is not None:
        reaching = np.flatnonzero(curves.recall >= target_recall - _TOLERANCE)
        choices["target_recall"] = _choice(curves, int(reaching[-1]), f"recall ≥ {target_recall:g}", True, prevalence)
    if target_precision is not None and prevalence is not None:
        weighted = precision_at_prevalence(curves.recall, curves.false_positive_rate, prevalence)
        index, reached = _lowest_reaching(np.asarray(weighted), target_precision)
        goal = f"precision ≥ {target_precision:g} at {100 * prevalence:g}% NSFW"
        choices["target_precision_at_prevalence"] = _choice(curves, index, goal, reached, prevalence)
    return choices


def _check_fraction(value: float | None, name: str, *, open_low: bool = True, open_high: bool = False) -> None:
    if value is None:
        return
    number = float(value)
    low_ok = number > 0 if open_low else number >= 0
    high_ok = number < 1 if open_high else number <= 1
    if not (math.isfinite(number) and low_ok and high_ok):
        bounds = f"{'above' if open_low else 'at least'} 0 and {'below' if open_high else 'at most'} 1"
        raise ConfigurationError(f"The {name} must be {bounds}, not {value!r}.")


def evaluate(
    labels: Sequence[int | bool],
    scores: Sequence[float],
    threshold: float,
    *,
    target_precision: float | None = DEFAULT_TARGET_PRECISION,
    target_recall: float | None = DEFAULT_TARGET_RECALL,
    prevalence: float | None = None,
    curves: Curves | None = None,
) -> Evaluation:
    """Metrics at `threshold` and recommended thresholds, all from scikit-learn.

    Args:
        labels: 1 for NSFW, 0 for SFW, one per score.
        scores: the model's NSFW scores.
        threshold: predicted NSFW when score >= threshold.
        target_precision: precision the `target_precision` recommendation must reach (None: skip it).
        target_recall: recall the `target_recall` recommendation must reach (None: skip it).
        prevalence: expected NSFW share of real traffic, in (0, 1), to re-weight precision (None: this set's).
        curves: `compute_curves(labels, scores)` when already computed (a threshold change then costs no curve).

    Raises:
        EvaluationError: a subclass when there are no scores, no labels, or only one class.
        ConfigurationError: when the threshold, a target or the prevalence is out of range.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

    threshold = check_threshold(threshold)
    _check_fraction(target_precision, "target precision")
    _check_fraction(target_recall, "target recall")
    _check_fraction(prevalence, "prevalence", open_high=True)
    curves = curves if curves is not None else compute_curves(labels, scores)
    y_true = curves.labels
    y_pred = (curves.scores >= threshold).astype(int)
    tn, fp, fn, tp = (int(count) for count in confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel())
    recall = float(recall_score(y_true, y_pred, zero_division=0.0))
    false_positive_rate = fp / (fp + tn)
    return Evaluation(
        n=int(y_true.size),
        n_nsfw=curves.n_nsfw,
        n_sfw=curves.n_sfw,
        threshold=threshold,
        accuracy=float(accuracy_score(y_true, y_pred)),
        precision=float(precision_score(y_true, y_pred, zero_division=0.0)),
        recall=recall,
        f1=float(f1_score(y_true, y_pred, zero_division=0.0)),
        false_positive_rate=false_positive_rate,
        roc_auc=curves.roc_auc,
        average_precision=curves.average_precision,
        confusion=Confusion(tp=tp, fp=fp, tn=tn, fn=fn),
        prevalence=prevalence,
        precision_at_prevalence=None
        if prevalence is None
        else float(precision_at_prevalence(recall, false_positive_rate, prevalence)),
        recommended=recommend(
            curves, target_precision=target_precision, target_recall=target_recall, prevalence=prevalence
        ),
    )


def outcomes(
    files: Sequence[str], labels: Sequence[int | bool], scores: Sequence[float], threshold: float
) -> list[Outcome]:
    """Every file's label, score, verdict and outcome (TP/FP/TN/FN) at `threshold`, in the order given."""
    threshold = check_threshold(threshold)
    rows: list[Outcome] = []
    for file, label, score in zip(files, labels, scores, strict=True):
        predicted = score >= threshold
        outcome = ("TP" if label else "FP") if predicted else ("FN" if label else "TN")
        rows.append(Outcome(file, NSFW if label else SFW, float(score), NSFW if predicted else SFW, outcome))
    return rows


def misclassified(rows: Sequence[Outcome]) -> list[Outcome]:
    """The wrong ones, most confidently wrong first: false positives by falling score, false negatives by rising."""
    wrong = [row for row in rows if not row.correct]
    return sorted(wrong, key=lambda row: -row.nsfw_score if row.outcome == "FP" else row.nsfw_score - 1)
