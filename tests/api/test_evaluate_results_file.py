"""/evaluate with a results file (scores computed elsewhere, e.g. by `python -m model screen`): no model run."""

from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from model.evaluation.metrics import evaluate

SCORES = (
    "file,label,nsfw_score,error,model_id,revision\n"
    "n1.jpg,nsfw,0.91,,Marqo/nsfw-image-detection-384,abc123\n"
    "n2.jpg,nsfw,0.35,,Marqo/nsfw-image-detection-384,abc123\n"
    "s1.jpg,sfw,0.62,,Marqo/nsfw-image-detection-384,abc123\n"
    "s2.jpg,sfw,0.05,,Marqo/nsfw-image-detection-384,abc123\n"
    "broken.jpg,sfw,,Corrupt image,Marqo/nsfw-image-detection-384,abc123\n"
)


def test_evaluate_takes_a_results_file_and_reports_its_metrics_and_model(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    path.write_text(SCORES)
    report = client.predict(handle_file(str(path)), 0.5, 0.95, 0.95, None, api_name="/evaluate")
    expected = evaluate([1, 1, 0, 0], [0.91, 0.35, 0.62, 0.05], 0.5).to_dict()
    for key in ("n", "accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "confusion"):
        assert report[key] == pytest.approx(expected[key]), key
    assert report["skipped"] == [{"file": "broken.jpg", "reason": "Corrupt image"}]
    assert report["model"] == {"id": "Marqo/nsfw-image-detection-384", "revision": "abc123"}
    assert [row["file"] for row in report["files"]] == ["n1.jpg", "n2.jpg", "s1.jpg", "s2.jpg"]


def test_evaluate_explains_a_results_file_without_scores(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "labels.parquet"
    path.write_bytes(b"PAR1 but not really parquet")
    with pytest.raises(AppError, match=r"labels\.parquet could not be read as PARQUET"):
        client.predict(handle_file(str(path)), 0.5, 0.95, 0.95, None, api_name="/evaluate")
