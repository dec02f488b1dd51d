"""The README's gradio_client snippet ("Use it from code"), run as written against the launched app."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from testbed.images import EXAMPLES
from testbed.server import AppServer

README = Path(__file__).resolve().parents[2] / "README.md"


def _snippet() -> str:
    section = README.read_text(encoding="utf-8").split("## Use it from code", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    return next(block for block in blocks if "from gradio_client" in block)


def test_the_readme_snippet_classifies_an_image_and_reads_the_model_info(
    app: AppServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _snippet()
    assert "ssl_verify=context" in code  # the one-context advice is part of what runs
    (tmp_path / "photo.jpg").write_bytes((EXAMPLES / "rocket.jpg").read_bytes())
    monkeypatch.chdir(tmp_path)
    exec(compile(code.replace("http://127.0.0.1:7860/", app.url + "/"), "README.md", "exec"), {})
    label_line, info_line = capsys.readouterr().out.splitlines()[-2:]
    label, score = label_line.split()
    assert label in {"NSFW", "SFW"} and 0.0 <= float(score) <= 1.0
    assert "'status': 'ready'" in info_line
