"""`python -m model evaluate`: the Evaluate tab's report, from labelled images on Ray or from a results file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from model import Classifier, Settings
from model.evaluation.metrics import evaluate
from model.evaluation.results import read_results
from model.jobs.commands import EvaluateOptions, run_evaluate
from model.tasks.pipeline import score_labelled
from testbed.images import EXAMPLES
from testbed.zips import build_zip

ROOT = Path(__file__).resolve().parents[2]
METRICS = ("n", "n_nsfw", "n_sfw", "accuracy", "precision", "recall", "f1", "false_positive_rate", "roc_auc")
REPORT_KEYS = {
    *METRICS,
    "average_precision",
    "confusion",
    "recommended_thresholds",
    "prevalence",
    "precision_at_prevalence",
    "threshold",
    "skipped",
    "files",
    "curves",
    "model",
    "created",
}


def evaluate_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m model evaluate ARGS` with a model that does not exist: a results file is all evaluate needs."""
    return subprocess.run(
        [sys.executable, "-m", "model", "evaluate", *args],
        cwd=ROOT,
        env={**os.environ, "NSFW_MODEL": str(tmp_path / "no-model-here")},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_evaluate_on_labelled_images_gives_the_evaluate_tabs_numbers(
    local_ray: None, settings: Settings, classifier: Classifier, tmp_path: Path
) -> None:
    names = ("rocket.jpg", "coffee.png", "astronaut.png", "chelsea.png", "meme.png", "drawing.png")
    members = {
        f"set/{'NSFW' if index < 2 else 'sfw'}/{name}": (EXAMPLES / name).read_bytes()
        for index, name in enumerate(names)
    }
    members["set/sfw/broken.png"] = b"not an image"
    archive = tmp_path / "labelled.zip"
    archive.write_bytes(build_zip(members))
    out = tmp_path / "report.json"
    scores_out = tmp_path / "scores.parquet"

    report = run_evaluate(
        EvaluateOptions(sources=[str(archive)], out=out, threshold=0.4, scores_out=scores_out), settings
    )

    tab = score_labelled(classifier, [archive])
    expected = evaluate(tab.labels, tab.scores, 0.4).to_dict()
    assert set(report) == REPORT_KEYS
    for key in METRICS:
        assert report[key] == pytest.approx(expected[key], abs=1e-6), key
    assert report["confusion"] == expected["confusion"]
    assert report["average_precision"] == pytest.approx(expected["average_precision"], abs=1e-6)
    assert [item["file"] for item in report["skipped"]] == [f"{archive}/set/sfw/broken.png"]
    assert json.loads(out.read_text())["n"] == 6
    assert read_results(scores_out).num_rows == 7  # the scores, kept for evaluating again without the model


def test_evaluate_reads_a_results_file_without_loading_the_model(tmp_path: Path) -> None:
    scores = tmp_path / "scores.csv"
    scores.write_text(
        "file,label,nsfw_score,error\n"
        "n1.jpg,nsfw,0.91,\nn2.jpg,NSFW,0.35,\ns1.jpg,sfw,0.40,\ns2.jpg,0,0.05,\nbad.jpg,sfw,,empty file\n"
    )
    out = tmp_path / "report.json"
    result = evaluate_cli(tmp_path, str(scores), "--out", str(out), "--threshold", "0.3")
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    expected = evaluate([1, 1, 0, 0], [0.91, 0.35, 0.40, 0.05], 0.3).to_dict()
    for key in METRICS:
        assert report[key] == pytest.approx(expected[key]), key
    assert report["skipped"] == [{"file": "bad.jpg", "reason": "empty file"}]
    assert json.loads(result.stdout)["n"] == 4
    assert "precision" in result.stderr


def test_evaluate_says_what_a_results_file_lacks(tmp_path: Path) -> None:
    scores = tmp_path / "scores.csv"
    scores.write_text("file,label,nsfw_score\na.jpg,sfw,0.2\nb.jpg,sfw,0.3\n")
    result = evaluate_cli(tmp_path, str(scores), "--out", str(tmp_path / "r.json"))
    assert result.returncode == 1
    assert "both classes" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r.json").exists()


def test_evaluate_html_writes_one_self_contained_page_with_the_reports_numbers(tmp_path: Path) -> None:
    scores = tmp_path / "scores.csv"
    scores.write_text(
        "file,label,nsfw_score\nn1.jpg,nsfw,0.91\nn2.jpg,nsfw,0.35\ns1.jpg,sfw,0.40\ns2.jpg,sfw,0.05\n"
        "<b>s3</b>.jpg,sfw,0.72\n"
    )
    out, page = tmp_path / "report.json", tmp_path / "out" / "report.html"
    result = evaluate_cli(tmp_path, str(scores), "--out", str(out), "--html", str(page))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["html"] == str(page)
    report, text = json.loads(out.read_text()), page.read_text(encoding="utf-8")
    shown = dict(re.findall(r'data-metric="(\w+)">([^<]+)<', text))
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        assert shown[key] == f"{report[key]:.3f}", key
    assert f'data-figure="threshold">{report["threshold"]:.3f}<' in text
    assert "&lt;b&gt;s3&lt;/b&gt;.jpg" in text and "<b>s3</b>" not in text  # a file name is text, never markup
    assert "<script" not in text and "http://" not in text and "https://" not in text
    assert not list(page.parent.glob(".*partial"))  # written atomically: no temporary file left behind
