"""`python -m model IMAGE...` prints one JSON object per line per image; a bad image never stops the rest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from model import Classifier, decode_image
from testbed.corpus import gif_claiming
from testbed.images import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "model", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_prints_one_json_line_per_image_with_errors_in_place(
    standin_dir: Path, classifier: Classifier, tmp_path: Path
) -> None:
    fake = tmp_path / "fake.jpg"
    fake.write_text("not an image")
    images = [str(EXAMPLES / "astronaut.png"), str(fake), str(EXAMPLES / "rocket.jpg")]
    result = run_cli("--model", str(standin_dir), "--threshold", "0.6", *images)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == images  # input order kept, the bad file in its place
    by_file = {line["file"]: line for line in lines}
    assert by_file[images[1]] == {"file": images[1], "error": by_file[images[1]]["error"]}
    assert "text file" in by_file[images[1]]["error"]
    for path in (images[0], images[2]):
        line = by_file[path]
        assert set(line) >= {"file", "label", "nsfw_score", "threshold", "probabilities"}
        assert line["threshold"] == 0.6
        assert line["label"] == ("NSFW" if line["nsfw_score"] >= 0.6 else "SFW")
        expected = classifier.predict([decode_image(path, draft_min_side=classifier.draft_min_side).image])[0]
        assert line["nsfw_score"] == pytest.approx(expected.nsfw_score, abs=1e-5)
        assert set(line["probabilities"]) == {"NSFW", "SFW"}


def test_cli_loads_from_the_hf_cache_offline(hf_home: Path) -> None:
    result = run_cli(str(EXAMPLES / "coffee.png"), env={"HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["label"] in {"NSFW", "SFW"}


def test_cli_refuses_a_threshold_outside_zero_to_one() -> None:
    result = run_cli("--threshold", "2", "x.png")
    assert result.returncode == 2
    assert "between 0 and 1" in result.stderr and "Traceback" not in result.stderr


def test_cli_names_the_model_source_when_it_cannot_load(tmp_path: Path) -> None:
    missing = tmp_path / "no-model-here"
    result = run_cli("--model", str(missing), str(EXAMPLES / "coffee.png"))
    assert result.returncode == 1
    assert str(missing) in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_the_cli_prints_a_row_for_every_file_around_a_gif_bomb_and_a_folder(standin_dir: Path, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.gif"
    bomb.write_bytes(gif_claiming(65535, 65535))
    images = [str(EXAMPLES / "astronaut.png"), str(bomb), str(tmp_path), str(EXAMPLES / "rocket.jpg")]
    result = run_cli("--model", str(standin_dir), *images)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["file"] for row in rows] == images
    assert rows[1]["error"].startswith("Image too large: 65535 x 65535 = 4294.8 MP; the limit is 40 MP")
    assert rows[2]["error"] == "The file could not be read (Is a directory). Upload it again."
    assert rows[0]["label"] == "SFW" and rows[3]["label"] == "NSFW"
