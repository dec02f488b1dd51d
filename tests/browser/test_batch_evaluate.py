"""The Batch and Evaluate tabs in Chromium against `python app.py`: upload, progress, table, plots, downloads, and a
threshold that re-labels without running the model again."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from testbed.images import EXAMPLES
from testbed.served import ServedApp
from testbed.zips import build_zip, labelled_zip, tiny_png

from .conftest import LAPTOP, open_tab, set_threshold, upload

HOSTILE_NAME = "<img src=x onerror=alert(1)>.png"
#: One line per model run over a batch or a labelled set (ui.batch / ui.evaluate log it).


@pytest.fixture
def dialogs(page) -> list[str]:
    """Messages of every alert/confirm the page opens (a file name run as HTML would open one)."""
    opened: list[str] = []
    page.on("dialog", lambda dialog: (opened.append(dialog.message), dialog.dismiss()))
    return opened


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("browser-uploads")
    photos = {f"photos/crop{index}.png": tiny_png(index) for index in range(18)}
    photos[HOSTILE_NAME] = tiny_png(40)
    photos["../escape.png"] = tiny_png(41)
    data = {
        "photos.zip": build_zip(photos),
        "rocket.jpg": (EXAMPLES / "rocket.jpg").read_bytes(),
        "notes.txt": b"not an image",
        "eval.zip": build_zip(
            {
                "set/NSFW/rocket.jpg": (EXAMPLES / "rocket.jpg").read_bytes(),
                "set/NSFW/coffee.png": (EXAMPLES / "coffee.png").read_bytes(),
                "set/nsfw/crop.png": tiny_png(7),
                "set/SFW/astronaut.png": (EXAMPLES / "astronaut.png").read_bytes(),
                "set/sfw/chelsea.png": (EXAMPLES / "chelsea.png").read_bytes(),
                "set/sfw/crop.png": tiny_png(8),
                "set/readme.txt": b"labels made up for a test",
            }
        ),
        "one-class.zip": labelled_zip(2, 0),
    }
    for name, content in data.items():
        (folder / name).write_bytes(content)
    return {name: folder / name for name in data}


def download(page, selector: str) -> tuple[str, str]:
    with page.expect_download() as info:
        page.locator(selector).click()
    return info.value.suggested_filename, Path(info.value.path()).read_text(encoding="utf-8")


def smoothness(page, src: str) -> float:
    """Mean difference between neighbouring pixels: high for a photo, tiny for a blurred preview."""
    image = Image.open(io.BytesIO(page.request.get(src).body())).convert("L")
    array = np.asarray(image, dtype=np.float64)
    return float(np.abs(np.diff(array, axis=1)).mean())


def test_batch_tab_classifies_an_upload_with_progress_and_relabels_without_the_model(
    page, app: ServedApp, files: dict[str, Path], dialogs: list[str]
) -> None:
    open_tab(page, "Batch")
    upload(page, "#batch-files", files["photos.zip"], files["rocket.jpg"], files["notes.txt"], listed=True)
    before = app.images_scored()
    page.locator("#batch-run").click()
    page.wait_for_selector("#batch-summary .progress-text, #batch-summary .eta-bar", timeout=60_000)
    page.wait_for_selector("#batch-summary [data-state=done]", timeout=180_000)
    assert app.images_scored() == before + 20  # every readable image scored once
    runs = app.model_calls()

    summary = page.locator("#batch-summary .batch-summary")
    total = int(summary.get_attribute("data-nsfw")) + int(summary.get_attribute("data-sfw"))
    assert total == 20  # 18 crops + the hostile name + rocket.jpg
    assert summary.get_attribute("data-skipped") == "2"  # ../escape.png and notes.txt
    # Each read waits for its text: the table's virtual rows can be drawn again while it settles.
    table = page.locator("#batch-table")
    expect(table).to_contain_text("unsafe path (../ leaves the archive); not read")
    expect(table).to_contain_text("Unsupported file: this is a text file")
    # A name that is HTML is shown as text, never run.
    expect(table).to_contain_text(HOSTILE_NAME)
    assert page.locator("#batch-table img").count() == 0
    assert dialogs == []

    # The gallery blurs what is NSFW at the threshold: at 0 everything is, at 1 nothing is.
    rocket = '#batch-gallery img[alt$="· rocket.jpg"]'
    set_threshold(page, 0, "#batch-threshold")
    page.wait_for_selector('#batch-summary [data-sfw="0"]')
    nsfw_src = page.wait_for_selector('#batch-gallery img[alt^="NSFW"][alt$="· rocket.jpg"]').get_attribute("src")
    set_threshold(page, 1, "#batch-threshold")
    page.wait_for_selector('#batch-summary [data-nsfw="0"]')
    sfw_src = page.wait_for_selector('#batch-gallery img[alt^="SFW"][alt$="· rocket.jpg"]').get_attribute("src")
    assert page.locator(rocket).count() == 1
    assert smoothness(page, nsfw_src) < 0.25 * smoothness(page, sfw_src)
    assert page.locator("#batch-summary .batch-summary").get_attribute("data-sfw") == "20"
    assert app.model_calls() == runs  # re-labelled from stored scores

    name, text = download(page, "#batch-csv")
    assert name.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 22 and {row["threshold"] for row in rows} == {"1.0"}
    assert {row["label"] for row in rows if row["nsfw_score"]} == {"SFW"}
    assert {row["model"] for row in rows} == {app.model_info()["id"]}
    name, text = download(page, "#batch-json")
    report = json.loads(text)
    assert report["summary"]["files"] == 22 and report["threshold"] == 1.0


def test_evaluate_tab_shows_metrics_plots_and_recommendations_and_follows_the_threshold(
    page, app: ServedApp, files: dict[str, Path]
) -> None:
    open_tab(page, "Evaluate")
    upload(page, "#evaluate-files", files["eval.zip"], listed=True)
    before = app.images_scored()
    page.locator("#evaluate-run").click()
    page.wait_for_selector("#evaluate-summary .progress-text, #evaluate-summary .eta-bar", timeout=60_000)
    page.wait_for_selector("#evaluate-summary [data-state=done]", timeout=180_000)
    assert app.images_scored() == before + 6  # the six labelled images, each scored once
    runs = app.model_calls()

    results = page.locator("#evaluate-summary .eval-results")
    assert results.get_attribute("data-n") == "6"
    for metric in ("accuracy", "precision", "recall", "F1", "ROC_AUC", "average_precision"):
        assert page.locator(f'#evaluate-summary [data-metric="{metric}"]').count() == 1
    for plot in ("#plot-pr", "#plot-roc", "#plot-threshold"):
        page.wait_for_selector(f"{plot} img")
    recommended = page.locator("#evaluate-recommended").inner_text()
    assert "maximum F1" in recommended and "precision ≥ 0.95" in recommended and "recall ≥ 0.95" in recommended
    page.get_by_text("Skipped files").click()
    # The table's rows render a moment after the accordion opens, and its virtual rows can be drawn again while
    # it settles: every read waits for the text rather than reading once.
    skipped = page.locator("#evaluate-skipped")
    for text in ("set/readme.txt", "no label"):
        expect(skipped).to_contain_text(text, timeout=30_000)

    # At threshold 0 every image is predicted NSFW: all NSFW found, every SFW a false alarm.
    set_threshold(page, 0, "#evaluate-threshold")
    page.wait_for_function(
        "() => document.querySelector('#evaluate-summary [data-cell=fp]')?.textContent.startsWith('3')"
    )
    cells = {cell: page.locator(f"#evaluate-summary [data-cell={cell}]").inner_text() for cell in ("tp", "fn", "tn")}
    assert [cells[name].split()[0] for name in ("tp", "fn", "tn")] == ["3", "0", "0"]
    assert "Misclassified at 0.000: 3" in page.locator("#evaluate-tab").inner_text()

    # "Use best F1" moves the slider to the recommendation; nothing is scored again.
    button = page.locator("#use-f1-max")
    recommended_value = button.inner_text().split("(")[1].rstrip(")")
    button.click()
    page.wait_for_function(
        "(value) => document.querySelector('#evaluate-summary .eval-meta')?.textContent.includes(value)",
        arg=f"threshold {recommended_value}",
    )
    assert app.model_calls() == runs

    name, text = download(page, "#evaluate-json")
    report = json.loads(text)
    assert name.endswith(".json")
    assert report["threshold"] == pytest.approx(float(recommended_value))
    assert report["n"] == 6 and set(report["confusion"]) == {"tp", "fp", "tn", "fn"}
    assert report["model"] == {"id": app.model_info()["id"], "revision": app.model_info()["revision"]}
    _, text = download(page, "#evaluate-csv")
    assert len(list(csv.DictReader(io.StringIO(text)))) == 6


def test_evaluate_tab_explains_a_one_class_archive(page, files: dict[str, Path]) -> None:
    open_tab(page, "Evaluate")
    upload(page, "#evaluate-files", files["one-class.zip"], listed=True)
    page.locator("#evaluate-run").click()
    error = page.wait_for_selector("#evaluate-summary [data-state=error]", timeout=60_000)
    assert "All 2 labelled images are NSFW: the evaluation needs both classes" in error.inner_text()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_evaluate_plots_follow_the_colour_scheme(browser, app: ServedApp, files: dict[str, Path], scheme) -> None:
    """The plots are drawn on white; in the dark scheme they must not glare as white boxes on the dark page."""
    page = browser.new_context(viewport=LAPTOP, color_scheme=scheme).new_page()
    page.goto(app.url)
    page.wait_for_selector("#model-status [data-status=ready]")
    page.get_by_role("tab", name="Evaluate").wait_for()  # the tab bar is drawn (a moment after the status panel)
    open_tab(page, "Evaluate")
    upload(page, "#evaluate-files", files["eval.zip"], listed=True)
    page.locator("#evaluate-run").click()
    page.wait_for_selector("#evaluate-summary [data-state=done]", timeout=180_000)
    for plot in ("#plot-pr", "#plot-roc", "#plot-threshold"):
        image = page.wait_for_selector(f"{plot} img")
        image.scroll_into_view_if_needed()
        shown = np.asarray(Image.open(io.BytesIO(image.screenshot())).convert("L"), dtype=np.float64)
        # Mostly background: light in the light scheme, dark in the dark one; the curves and text stay visible.
        assert (shown.mean() > 200) if scheme == "light" else (shown.mean() < 60), (plot, scheme, shown.mean())
        assert shown.std() > 10
    page.context.close()
