"""Evaluation numbers are scikit-learn's, recommended thresholds are the best ones, reports record their model."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    metric_at_thresholds,
    precision_score,
    recall_score,
    roc_auc_score,
)

from model import errors
from model.evaluation.metrics import compute_curves, evaluate, misclassified, outcomes, precision_at_prevalence
from model.evaluation.reports import (
    ModelRecord,
    batch_csv,
    batch_report,
    evaluation_csv,
    evaluation_report,
    metrics_csv,
)
from model.inputs.archives import Skipped
from model.runtime.classifier import Prediction
from model.tasks.pipeline import FileResult

MODEL = ModelRecord(id="Marqo/nsfw-image-detection-384", revision="0123abcd")


def labelled_scores(n: int = 400, seed: int = 0, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    scores = np.clip(0.35 * labels + 0.65 * rng.random(n), 0, 1)
    return labels, (np.round(scores, 2) if ties else scores)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.77, 1.0])
def test_metrics_at_a_threshold_equal_scikit_learns(seed: int, threshold: float) -> None:
    labels, scores = labelled_scores(seed=seed, ties=seed == 2)
    predicted = (scores >= threshold).astype(int)
    result = evaluate(labels, scores, threshold)
    assert result.accuracy == accuracy_score(labels, predicted)
    assert result.precision == precision_score(labels, predicted, zero_division=0.0)
    assert result.recall == recall_score(labels, predicted)
    assert result.f1 == f1_score(labels, predicted, zero_division=0.0)
    assert result.roc_auc == roc_auc_score(labels, scores)
    assert result.average_precision == average_precision_score(labels, scores)
    tn, fp, fn, tp = confusion_matrix(labels, predicted).ravel()
    assert (result.confusion.tp, result.confusion.fp, result.confusion.tn, result.confusion.fn) == (tp, fp, tn, fn)
    assert (result.n, result.n_nsfw, result.n_sfw) == (len(labels), labels.sum(), len(labels) - labels.sum())


@pytest.mark.parametrize("ties", [False, True])
def test_precision_recall_and_f1_against_the_threshold_equal_scikit_learns_per_threshold_metrics(ties: bool) -> None:
    labels, scores = labelled_scores(120, seed=3, ties=ties)
    curves = compute_curves(labels, scores)
    for metric, ours in ((f1_score, curves.f1), (precision_score, curves.precision), (recall_score, curves.recall)):
        values, thresholds = metric_at_thresholds(labels, scores, metric)
        np.testing.assert_array_equal(thresholds[::-1], curves.thresholds)
        np.testing.assert_allclose(values[::-1], ours, rtol=0, atol=1e-12)


def by_brute_force(labels: np.ndarray, scores: np.ndarray) -> list[tuple[float, float, float, float]]:
    """(threshold, precision, recall, F1) at every distinct score, each from its own scikit-learn call."""
    rows = []
    for threshold in np.unique(scores):
        predicted = (scores >= threshold).astype(int)
        rows.append(
            (
                float(threshold),
                precision_score(labels, predicted, zero_division=0.0),
                recall_score(labels, predicted),
                f1_score(labels, predicted),
            )
        )
    return rows


@pytest.mark.parametrize("seed", [0, 4])
def test_recommended_thresholds_are_the_best_ones_by_brute_force(seed: int) -> None:
    labels, scores = labelled_scores(150, seed=seed, ties=True)
    rows = by_brute_force(labels, scores)
    result = evaluate(labels, scores, 0.5, target_precision=0.9, target_recall=0.9)
    choices = result.recommended

    best_f1 = max(row[3] for row in rows)
    assert choices["f1_max"].f1 == pytest.approx(best_f1, abs=1e-12)
    reaching_precision = [row for row in rows if row[1] >= 0.9]
    assert choices["target_precision"].reached
    assert choices["target_precision"].threshold == min(row[0] for row in reaching_precision)
    assert choices["target_precision"].recall == max(row[2] for row in reaching_precision)
    reaching_recall = [row for row in rows if row[2] >= 0.9]
    assert choices["target_recall"].threshold == max(row[0] for row in reaching_recall)
    assert choices["target_recall"].recall >= 0.9


def test_an_unreachable_precision_returns_the_most_precise_threshold_marked_not_reached() -> None:
    labels = np.array([1, 0, 1, 0, 1, 0])
    scores = np.array([0.9, 0.95, 0.6, 0.5, 0.3, 0.2])  # the top score is SFW: precision never reaches 1
    choice = evaluate(labels, scores, 0.5, target_precision=1.0).recommended["target_precision"]
    assert not choice.reached
    assert choice.precision == max(compute_curves(labels, scores).precision)


def test_a_target_met_exactly_counts_as_reached() -> None:
    labels = np.array([1] * 19 + [0] * 21)
    scores = np.array([0.9] * 19 + [0.9] + [0.1] * 20)  # precision 19/20 at 0.9
    choice = evaluate(labels, scores, 0.5, target_precision=0.95).recommended["target_precision"]
    assert choice.reached and choice.threshold == 0.9 and choice.precision == 0.95


def test_precision_at_prevalence_reweights_with_the_documented_formula() -> None:
    labels, scores = labelled_scores(500, seed=5)
    result = evaluate(labels, scores, 0.6, prevalence=0.01)
    confusion = result.confusion
    tpr = confusion.tp / (confusion.tp + confusion.fn)
    fpr = confusion.fp / (confusion.fp + confusion.tn)
    assert result.precision_at_prevalence == pytest.approx(tpr * 0.01 / (tpr * 0.01 + fpr * 0.99))
    assert result.precision_at_prevalence < result.precision
    # At the set's own prevalence, re-weighting gives back the plain precision.
    own = labels.mean()
    assert evaluate(labels, scores, 0.6, prevalence=own).precision_at_prevalence == pytest.approx(result.precision)


def test_precision_at_prevalence_is_zero_where_nothing_is_flagged() -> None:
    assert precision_at_prevalence(0.0, 0.0, 0.2) == 0.0


def test_the_prevalence_target_picks_a_stricter_threshold() -> None:
    labels, scores = labelled_scores(500, seed=6)
    choices = evaluate(labels, scores, 0.5, target_precision=0.8, prevalence=0.05).recommended
    weighted = choices["target_precision_at_prevalence"]
    assert weighted.threshold >= choices["target_precision"].threshold
    if weighted.reached:
        assert weighted.precision_at_prevalence >= 0.8


def test_a_threshold_change_reuses_the_curves() -> None:
    labels, scores = labelled_scores(200, seed=7)
    curves = compute_curves(labels, scores)
    assert evaluate(labels, scores, 0.42, curves=curves) == evaluate(labels, scores, 0.42)


@pytest.mark.parametrize(
    ("labels", "scores", "error", "message"),
    [
        ([], [], errors.EvaluationError, "No images were scored"),
        ([], [0.5], errors.MissingLabelsError, "1 scores came with no labels"),
        ([1, 0], [0.5], errors.EvaluationError, "2 labels but 1 scores"),
        ([1, 1, 1], [0.1, 0.5, 0.9], errors.SingleClassError, "All 3 scored images are NSFW: .* Add some SFW images"),
        ([0, 0], [0.1, 0.5], errors.SingleClassError, "All 2 scored images are SFW: .* Add some NSFW images"),
        ([1, 2], [0.1, 0.5], errors.EvaluationError, r"Labels must be 1 \(NSFW\) or 0 \(SFW\)"),
        ([1, 0], [0.1, float("nan")], errors.EvaluationError, "Scores must be numbers between 0 and 1"),
        ([1, 0], [0.1, 1.5], errors.EvaluationError, "Scores must be numbers between 0 and 1"),
    ],
)
def test_unusable_inputs_are_refused_with_a_message(labels, scores, error, message) -> None:
    with pytest.raises(error, match=message):
        evaluate(labels, scores, 0.5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"prevalence": 0.0}, "prevalence must be above 0 and below 1"),
        ({"prevalence": 1.0}, "prevalence must be above 0 and below 1"),
        ({"target_precision": 1.2}, "target precision must be above 0 and at most 1"),
        ({"target_recall": 0}, "target recall must be above 0 and at most 1"),
    ],
)
def test_out_of_range_options_are_refused(options: dict, message: str) -> None:
    with pytest.raises(errors.ConfigurationError, match=message):
        evaluate([1, 0], [0.9, 0.1], 0.5, **options)


def test_outcomes_and_the_misclassified_most_confidently_wrong_first() -> None:
    rows = outcomes(["a", "b", "c", "d", "e"], [1, 0, 1, 0, 0], [0.9, 0.97, 0.05, 0.2, 0.6], 0.5)
    assert [row.outcome for row in rows] == ["TP", "FP", "FN", "TN", "FP"]
    assert [row.file for row in misclassified(rows)] == ["b", "c", "e"]


def result(file: str, score: float | None, error: str | None = None) -> FileResult:
    if score is None:
        return FileResult(file=file, error=error)
    prediction = Prediction(probabilities={"NSFW": score, "SFW": 1 - score}, nsfw_score=score)
    return FileResult(file=file, prediction=prediction, width=64, height=48, format="PNG")


def test_a_batch_report_records_threshold_model_and_revision_and_counts_per_verdict() -> None:
    results = [result("a.png", 0.91), result("b.png", 0.2), result("c.txt", None, "Unsupported file: a text file.")]
    report = batch_report(results, 0.5, MODEL, created="2026-01-01T00:00:00+00:00")
    json.dumps(report, allow_nan=False)
    assert report["summary"] == {"files": 3, "classified": 2, "nsfw": 1, "sfw": 1, "skipped": 1, "threshold": 0.5}
    assert report["model"] == {"id": "Marqo/nsfw-image-detection-384", "revision": "0123abcd"}
    assert report["results"][0]["label"] == "NSFW" and report["results"][0]["image"] == {
        "width": 64,
        "height": 48,
        "format": "PNG",
    }
    assert report["results"][2] == {"file": "c.txt", "error": "Unsupported file: a text file."}
    # The same scores at another threshold: re-labelled, nothing re-run.
    assert batch_report(results, 0.95, MODEL)["summary"]["nsfw"] == 0


def test_a_batch_csv_has_one_row_per_file_and_defuses_spreadsheet_formulas() -> None:
    results = [result("=HYPERLINK(1).png", 0.7), result("-x.png", None, "@bad")]
    rows = list(csv.DictReader(io.StringIO(batch_csv(results, 0.5, MODEL))))
    assert rows[0]["file"] == "'=HYPERLINK(1).png" and rows[0]["label"] == "NSFW" and rows[0]["nsfw_score"] == "0.7"
    assert rows[1]["file"] == "'-x.png" and rows[1]["error"] == "'@bad"
    assert {row["model"] for row in rows} == {MODEL.id} and {row["revision"] for row in rows} == {MODEL.revision}
    assert {row["threshold"] for row in rows} == {"0.5"}


def test_an_evaluation_report_has_the_api_keys_and_is_strict_json() -> None:
    labels, scores = labelled_scores(60, seed=8)
    files = [f"{index}.png" for index in range(60)]
    curves = compute_curves(labels, scores)
    evaluation = evaluate(labels, scores, 0.5, prevalence=0.1, curves=curves)
    rows = outcomes(files, labels, scores, 0.5)
    report = evaluation_report(evaluation, rows, [Skipped("x.txt", "no label")], MODEL, curves=curves)
    json.loads(json.dumps(report, allow_nan=False))
    for key in ("n", "n_nsfw", "n_sfw", "accuracy", "precision", "recall", "f1", "roc_auc", "average_precision"):
        assert isinstance(report[key], int | float), key
    assert set(report["confusion"]) == {"tp", "fp", "tn", "fn"}
    assert set(report["recommended_thresholds"]) == {
        "f1_max",
        "target_precision",
        "target_recall",
        "target_precision_at_prevalence",
    }
    assert report["skipped"] == [{"file": "x.txt", "reason": "no label"}]
    assert report["curves"]["roc"]["thresholds"][0] is None  # +inf: nothing flagged
    assert report["model"]["revision"] == "0123abcd" and report["threshold"] == 0.5

    per_file = list(csv.DictReader(io.StringIO(evaluation_csv(rows, 0.5, MODEL))))
    assert len(per_file) == 60 and {row["outcome"] for row in per_file} <= {"TP", "FP", "TN", "FN"}
    summary = dict(csv.reader(io.StringIO(metrics_csv(evaluation, MODEL))))
    assert summary["roc_auc"] == str(evaluation.roc_auc)
    assert summary["recommended.f1_max.threshold"] == str(evaluation.recommended["f1_max"].threshold)
    assert summary["model"] == MODEL.id and summary["revision"] == MODEL.revision


def test_a_recommended_threshold_rounds_without_changing_any_prediction() -> None:
    labels, scores = labelled_scores(300, seed=9)
    for choice in evaluate(labels, scores, 0.5, prevalence=0.05).recommended.values():
        rounded = choice.rounded()
        assert choice.lower < rounded <= choice.threshold
        np.testing.assert_array_equal(scores >= rounded, scores >= choice.threshold)
        three_decimals = np.floor(choice.threshold * 1000) / 1000
        if three_decimals > choice.lower:  # a round value fits between the neighbouring scores: it is used
            assert rounded == round(rounded, 3)
        else:
            assert rounded == choice.threshold
