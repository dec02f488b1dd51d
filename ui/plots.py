"""The Evaluate tab's plots (matplotlib figures, drawn from scikit-learn's curves): PR, ROC, and P/R/F1 vs threshold,
each sent with alt text that states what it shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from gradio import processing_utils
from gradio.components.plot import PlotData

from model.evaluation.metrics import Curves, Evaluation, precision_at_prevalence

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["DescribedPlot", "metrics_by_threshold", "precision_recall", "roc"]

_SIZE = (4.6, 3.6)
_NSFW = "#dc2626"
_SFW = "#16a34a"
_ACCENT = "#4f46e5"
_GREY = "#94a3b8"


class DescribedPlot(PlotData):
    """A figure as `gr.Plot` sends it, plus `chart`: Gradio's page makes the image's alt text from it (and
    ui/page_fixes.js drops the generic words Gradio appends)."""

    chart: str


def _described(figure: Figure, description: str) -> DescribedPlot:
    return DescribedPlot(
        type="matplotlib", plot=processing_utils.encode_plot_to_base64(figure, "webp"), chart=description
    )


def _figure(title: str) -> tuple[Figure, object]:
    # Imported here, not at the top: matplotlib adds most of a second to the app's start.
    from matplotlib.figure import Figure

    # A bare Figure (not pyplot): no global registry to leak into, freed with its last reference.
    figure = Figure(figsize=_SIZE, dpi=110, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=10, loc="left")
    axes.grid(True, alpha=0.3)
    axes.set_xlim(-0.01, 1.01)
    axes.set_ylim(-0.01, 1.03)
    axes.tick_params(labelsize=8)
    return figure, axes


def _finish(axes: Axes, point: tuple[float, float], threshold: float, legend: str) -> None:
    """Mark the threshold's `point` (x, y) on a curve and add the legend at `legend`."""
    axes.plot([point[0]], [point[1]], "o", color=_NSFW, label=f"threshold {threshold:.3f}")
    axes.legend(fontsize=8, loc=legend)


def _precision_recall_figure(curves: Curves, evaluation: Evaluation) -> Figure:
    """Precision against recall, with this set's NSFW share as the no-skill line and the threshold's point."""
    figure, axes = _figure(f"Precision–recall (AP {evaluation.average_precision:.3f})")
    axes.step(curves.pr_recall, curves.pr_precision, where="post", color=_ACCENT, linewidth=1.6)
    baseline = curves.n_nsfw / (curves.n_nsfw + curves.n_sfw)
    axes.axhline(baseline, color=_GREY, linestyle=":", linewidth=1, label=f"no skill ({baseline:.2f})")
    _finish(axes, (evaluation.recall, evaluation.precision), evaluation.threshold, "lower left")
    axes.set_xlabel("Recall (NSFW found)", fontsize=9)
    axes.set_ylabel("Precision (flags that are NSFW)", fontsize=9)
    return figure


def _roc_figure(curves: Curves, evaluation: Evaluation) -> Figure:
    """True-positive rate against false-positive rate, with the chance diagonal and the threshold's point."""
    figure, axes = _figure(f"ROC (AUC {evaluation.roc_auc:.3f})")
    axes.plot(curves.roc_fpr, curves.roc_tpr, color=_ACCENT, linewidth=1.6)
    axes.plot([0, 1], [0, 1], color=_GREY, linestyle=":", linewidth=1, label="chance")
    _finish(axes, (evaluation.false_positive_rate, evaluation.recall), evaluation.threshold, "lower right")
    axes.set_xlabel("False-positive rate (SFW flagged)", fontsize=9)
    axes.set_ylabel("True-positive rate (recall)", fontsize=9)
    return figure


def _metrics_by_threshold_figure(curves: Curves, evaluation: Evaluation) -> Figure:
    """Precision, recall and F1 at every threshold, the current threshold marked (and precision at the prevalence)."""
    figure, axes = _figure("Precision, recall and F1 vs threshold")
    # Each value holds from its threshold up to the next distinct score: draw steps, extended to 0 and 1.
    thresholds = np.concatenate(([0.0], curves.thresholds, [1.0]))

    def steps(values: np.ndarray, last: float) -> np.ndarray:
        return np.concatenate(([values[0]], values, [last]))

    axes.step(thresholds, steps(curves.precision, curves.precision[-1]), where="post", color=_ACCENT, label="precision")
    axes.step(thresholds, steps(curves.recall, curves.recall[-1]), where="post", color=_SFW, label="recall")
    axes.step(thresholds, steps(curves.f1, curves.f1[-1]), where="post", color="#d97706", label="F1")
    if evaluation.prevalence is not None:
        weighted = precision_at_prevalence(curves.recall, curves.false_positive_rate, evaluation.prevalence)
        axes.step(
            thresholds,
            steps(np.asarray(weighted), float(np.asarray(weighted)[-1])),
            where="post",
            color=_ACCENT,
            linestyle="--",
            label=f"precision at {100 * evaluation.prevalence:g}% NSFW",
        )
    axes.axvline(evaluation.threshold, color=_NSFW, linewidth=1.4, label=f"threshold {evaluation.threshold:.3f}")
    axes.set_xlabel("Threshold (NSFW when score ≥ threshold)", fontsize=9)
    axes.set_ylabel("Value", fontsize=9)
    axes.legend(fontsize=7, loc="lower left")
    return figure


def precision_recall(curves: Curves, evaluation: Evaluation) -> DescribedPlot:
    """The precision-recall plot, described by its AP and the threshold's point."""
    baseline = curves.n_nsfw / (curves.n_nsfw + curves.n_sfw)
    return _described(
        _precision_recall_figure(curves, evaluation),
        f"Precision-recall curve: average precision (AP) {evaluation.average_precision:.3f}. At threshold "
        f"{evaluation.threshold:.3f}: precision {evaluation.precision:.3f}, recall {evaluation.recall:.3f}. "
        f"No-skill precision {baseline:.2f}.",
    )


def roc(curves: Curves, evaluation: Evaluation) -> DescribedPlot:
    """The ROC plot, described by its AUC and the threshold's point."""
    return _described(
        _roc_figure(curves, evaluation),
        f"ROC curve: area under the curve (AUC) {evaluation.roc_auc:.3f}. At threshold {evaluation.threshold:.3f}: "
        f"true-positive rate {evaluation.recall:.3f} at false-positive rate {evaluation.false_positive_rate:.3f}.",
    )


def metrics_by_threshold(curves: Curves, evaluation: Evaluation) -> DescribedPlot:
    """Precision, recall and F1 against the threshold, described by their values at the current threshold."""
    return _described(
        _metrics_by_threshold_figure(curves, evaluation),
        f"Precision, recall and F1 for every threshold from 0 to 1. At threshold {evaluation.threshold:.3f}: "
        f"precision {evaluation.precision:.3f}, recall {evaluation.recall:.3f}, F1 {evaluation.f1:.3f}.",
    )
