"""A results file in the Evaluate tab (Chromium): metrics and the misclassified files from its scores alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from model.evaluation.reports import ModelRecord
from model.evaluation.results import ResultsWriter, rows_table
from model.runtime.classifier import Prediction
from model.tasks.pipeline import FileResult
from testbed.served import ServedApp

from .conftest import open_tab, upload

CLUSTER_MODEL = ModelRecord("Marqo/nsfw-image-detection-384", "0123456789abcdef")


@pytest.fixture(scope="module")
def results_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `screen` writes for a labelled store: two NSFW, four SFW (one scored high), one unreadable file."""
    scores = {"store/nsfw/a.jpg": 0.97, "store/nsfw/b.jpg": 0.81, "store/sfw/c.jpg": 0.72, "store/sfw/d.jpg": 0.2}
    scores |= {"store/sfw/e.jpg": 0.1, "store/sfw/f.jpg": 0.03}
    results = [FileResult(name, Prediction({"NSFW": score, "SFW": 1 - score}, score)) for name, score in scores.items()]
    results.append(FileResult("store/sfw/broken.jpg", error="Corrupt image: the file ends early."))
    truths = {name: int("/nsfw/" in name) for name in [*scores, "store/sfw/broken.jpg"]}
    path = tmp_path_factory.mktemp("results") / "cluster-scores.parquet"
    with ResultsWriter(path) as writer:
        writer.write(rows_table(results, 0.5, CLUSTER_MODEL, truths))
        writer.commit()
    return path


def test_a_results_file_is_evaluated_from_its_scores_without_running_the_model(
    page, app: ServedApp, results_file: Path
) -> None:
    open_tab(page, "Evaluate")
    upload(page, "#evaluate-files", results_file, listed=True)
    before = app.model_calls()
    page.locator("#evaluate-run").click()
    page.wait_for_selector("#evaluate-summary [data-state=done]", timeout=60_000)

    assert page.locator("#evaluate-summary .eval-results").get_attribute("data-n") == "6"
    meta = page.locator("#evaluate-summary .eval-meta").inner_text()
    assert "labels from cluster-scores.parquet" in meta and "Marqo/nsfw-image-detection-384@0123456789ab" in meta
    cells = {cell: page.locator(f"#evaluate-summary [data-cell={cell}]").inner_text() for cell in ("tp", "fp")}
    assert [cells["tp"].split()[0], cells["fp"].split()[0]] == ["2", "1"]
    expect(page.locator("#evaluate-misclassified")).to_contain_text("store/sfw/c.jpg")
    expect(page.locator("#evaluate-gallery")).to_be_hidden()  # the images are not here: names only
    page.get_by_text("Skipped files").click()
    expect(page.locator("#evaluate-skipped")).to_contain_text("Corrupt image")
    page.wait_for_selector("#plot-pr img")
    assert app.model_calls() == before  # the model did not run
