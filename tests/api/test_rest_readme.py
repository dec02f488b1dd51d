"""The README's /v1 snippets ("Use it from code"), run as written against the launched app: the curl one-liner, the
httpx snippet, and the fetch snippet in Chromium on the app's page."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from testbed.images import EXAMPLES
from testbed.server import AppServer

README = Path(__file__).resolve().parents[2] / "README.md"
DOCUMENTED_URL = "http://127.0.0.1:7860"


def _block(language: str, marker: str) -> str:
    section = README.read_text(encoding="utf-8").split("## Use it from code", 1)[1]
    blocks = re.findall(rf"```{language}\n(.*?)```", section, re.DOTALL)
    return next(block for block in blocks if marker in block)


def _check(result: dict) -> None:
    assert result["label"] in {"NSFW", "SFW"} and 0.0 <= result["nsfw_score"] <= 1.0
    assert result["image"] == {"width": 640, "height": 427, "format": "JPEG"}


@pytest.fixture
def photo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes((EXAMPLES / "rocket.jpg").read_bytes())
    monkeypatch.chdir(tmp_path)
    return path


def test_the_readme_curl_one_liner_answers_the_classify_json(app: AppServer, photo: Path) -> None:
    command = _block("bash", "/v1/classify").strip()
    assert "\n" not in command  # a one-liner
    output = subprocess.run(
        ["bash", "-c", command.replace(DOCUMENTED_URL, app.url)],
        cwd=photo.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    _check(json.loads(output))


def test_the_readme_httpx_snippet_prints_the_label_and_score(
    app: AppServer, photo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _block("python", "import httpx")
    exec(compile(code.replace(DOCUMENTED_URL, app.url), "README.md", "exec"), {})
    label, score = capsys.readouterr().out.split()
    assert label in {"NSFW", "SFW"} and 0.0 <= float(score) <= 1.0


def test_the_readme_fetch_snippet_classifies_a_blob_in_chromium_on_the_apps_page(
    app: AppServer, browser: Browser
) -> None:
    snippet = _block("js", "fetch(")
    photo = base64.b64encode((EXAMPLES / "rocket.jpg").read_bytes()).decode()
    page = browser.new_page()
    try:
        page.goto(app.url)
        page.add_script_tag(content=snippet)  # the snippet as written: a global `classify` function
        result = page.evaluate(
            """async (encoded) => {
                const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
                return await classify(new Blob([bytes], { type: "image/jpeg" }), 0.4);
            }""",
            photo,
        )
        refused = page.evaluate(
            """async () => {
                try { await classify(new Blob(["not an image"], { type: "image/png" })); return null; }
                catch (error) { return error.message; }
            }"""
        )
    finally:
        page.context.close()
    _check(result)
    assert result["threshold"] == 0.4
    assert "Unsupported file" in refused  # the error's message, thrown by the snippet
