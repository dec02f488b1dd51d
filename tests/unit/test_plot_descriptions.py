"""The Evaluate tab's plots carry alt text that states their numbers (read by screen readers instead of the image)."""

from __future__ import annotations

from model.evaluation.metrics import compute_curves, evaluate
from ui import plots

LABELS = [1, 1, 1, 0, 0, 0]
SCORES = [0.9, 0.8, 0.3, 0.6, 0.2, 0.1]


def test_each_plot_is_described_by_the_values_it_shows() -> None:
    curves = compute_curves(LABELS, SCORES)
    evaluation = evaluate(LABELS, SCORES, 0.5)
    precision_recall = plots.precision_recall(curves, evaluation)
    assert precision_recall.type == "matplotlib" and precision_recall.plot.startswith("data:image/webp;base64,")
    assert f"average precision (AP) {evaluation.average_precision:.3f}" in precision_recall.chart
    assert "precision 0.667, recall 0.667" in precision_recall.chart
    assert f"(AUC) {evaluation.roc_auc:.3f}" in plots.roc(curves, evaluation).chart
    assert "F1 0.667" in plots.metrics_by_threshold(curves, evaluation).chart
