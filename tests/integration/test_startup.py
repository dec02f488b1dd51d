"""What needs no model starts without the model's libraries: `screen`'s driver, `evaluate` on a results file and
reading results never import torch or timm (seconds of start-up on a small CPU); the classifier still loads them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import model

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "timm", "torchvision", "openvino")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_evaluate_on_a_results_file_and_the_screen_driver_never_import_torch(tmp_path: Path) -> None:
    scores = tmp_path / "scores.csv"
    scores.write_text("file,label,nsfw_score\na.jpg,nsfw,0.9\nb.jpg,sfw,0.2\nc.jpg,nsfw,0.6\nd.jpg,sfw,0.1\n")
    out = tmp_path / "report.json"
    result = _run(
        "import sys\n"
        "from model.__main__ import main\n"
        f"code = main(['evaluate', {str(scores)!r}, '--out', {str(out)!r}])\n"
        "import model.jobs.commands, model.jobs.ray_data, model.evaluation.results, model.inputs.sources\n"
        f"print(code, sorted(name for name in {HEAVY!r} if name in sys.modules))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == "0 []"
    assert json.loads(out.read_text())["n"] == 4


def test_the_classifier_and_loader_load_on_first_use() -> None:
    result = _run(
        "import sys, model\n"
        "before = 'torch' in sys.modules\n"
        "from model import Classifier, load_model\n"
        "print(before, 'torch' in sys.modules, Classifier.__module__, load_model.__module__)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "model.runtime.classifier", "model.runtime.loading"]


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Clasifier'"):
        model.Clasifier  # noqa: B018
    assert model.Classifier.__name__ == "Classifier"
