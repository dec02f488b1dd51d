"""One evaluation chain: the Evaluate tab, `/evaluate` and `python -m model evaluate` give the same JSON report for
the same scores and labels (only the report's creation time may differ), and the tab and the command line the same
HTML page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from model.config import Settings
from model.jobs.commands import EvaluateOptions, run_evaluate
from model.runtime.classifier import Classifier
from ui import evaluate as evaluate_tab
from ui.loader import ModelLoader

SCORES = (
    "file,true_label,nsfw_score,error,model_id,revision\n"
    "a.jpg,nsfw,0.91,,org/model,abc123\n"
    "b.jpg,nsfw,0.35,,org/model,abc123\n"
    "c.jpg,sfw,0.40,,org/model,abc123\n"
    "d.jpg,sfw,0.05,,org/model,abc123\n"
    "e.jpg,sfw,,broken file,org/model,abc123\n"
    "f.jpg,,0.7,,org/model,abc123\n"
)


def _undated(report: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in report.items() if key != "created"}


def _path(value: Any) -> Path:
    return Path(value if isinstance(value, str) else value["path"])


def _undated_page(text: str, created: str) -> str:
    return text.replace(created, "")


def test_the_tab_the_endpoint_and_the_command_line_write_the_same_report(
    tmp_path: Path, classifier: Classifier
) -> None:
    scores = tmp_path / "scores.csv"
    scores.write_text(SCORES)
    loader = ModelLoader.ready(classifier)

    cli = run_evaluate(
        EvaluateOptions(
            sources=[str(scores)],
            out=tmp_path / "report.json",
            html_out=tmp_path / "report.html",
            threshold=0.3,
            target_recall=0.9,
            prevalence=0.1,
        ),
        Settings(),
    )
    endpoint = evaluate_tab.evaluate_set(loader, str(scores), 0.3, target_recall=0.9, prevalence=0.1)
    views = evaluate_tab.start(loader, [str(scores)], 0.3, 0.95, 0.9, 10)  # prevalence in percent
    # The views end with the downloads (JSON, files CSV, metrics CSV, HTML) and the thumbnails box.
    tab = json.loads(_path(views[-5].value).read_text())
    tab_page = _path(views[-2].value).read_text()
    cli_page = (tmp_path / "report.html").read_text()

    assert _undated(cli) == _undated(endpoint) == _undated(tab)
    assert json.loads((tmp_path / "report.json").read_text())["n"] == 4
    assert cli["model"] == {"id": "org/model", "revision": "abc123"}
    assert {item["file"] for item in cli["skipped"]} == {"e.jpg", "f.jpg"}
    assert _undated_page(tab_page, tab["created"]) == _undated_page(cli_page, cli["created"])
