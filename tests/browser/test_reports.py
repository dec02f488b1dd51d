"""The shareable reports, opened as a manager would open them from an e-mail: from disk, with no network, light and
dark; the figures they show are the JSON's, axe-core finds nothing serious; and the tabs' download buttons give
them."""

from __future__ import annotations

import io
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page

from model import Classifier
from model.evaluation.chain import EvaluatedSet, evaluate_scores
from model.evaluation.html_report import evaluation_html
from model.evaluation.metrics import misclassified
from model.evaluation.reports import ModelRecord
from model.evaluation.result_cards import classification_card, moderation_card
from model.inputs.archives import DEFAULT_ARCHIVE_LIMITS
from model.tasks.pipeline import load_previews, score_labelled
from testbed.images import EXAMPLES
from testbed.served import ServedApp
from testbed.zips import build_zip, tiny_png
from tests.browser.conftest import LAPTOP, PHONE, open_tab, set_threshold, upload
from tests.browser.test_accessibility import blocking_violations

#: When the cards below say they were made.
CREATED = "2026-01-02T03:04:05+00:00"


@pytest.fixture(params=("light", "dark"))
def scheme(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs in the light and the dark colour scheme."""
    return request.param


@pytest.fixture(scope="module")
def labelled_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report-set") / "eval.zip"
    path.write_bytes(
        build_zip(
            {
                "set/NSFW/rocket.jpg": (EXAMPLES / "rocket.jpg").read_bytes(),
                "set/NSFW/coffee.png": (EXAMPLES / "coffee.png").read_bytes(),
                "set/nsfw/crop.png": tiny_png(7),
                "set/SFW/astronaut.png": (EXAMPLES / "astronaut.png").read_bytes(),
                "set/sfw/chelsea.png": (EXAMPLES / "chelsea.png").read_bytes(),
                "set/sfw/<b>crop</b>.png": tiny_png(8),
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def evaluated(classifier: Classifier, labelled_zip: Path) -> EvaluatedSet:
    """The labelled set through the one evaluation chain, at a threshold that misclassifies some files (only the
    top-scoring image is flagged)."""
    scores = score_labelled(classifier, [labelled_zip], names=["eval.zip"])
    threshold = float(max(scores.scores))
    return evaluate_scores(scores, ModelRecord.from_info(classifier.info), threshold, prevalence=0.05)


@pytest.fixture(scope="module")
def evaluation_page(evaluated: EvaluatedSet, classifier: Classifier, labelled_zip: Path, tmp_path_factory) -> Path:
    wrong = [row.file for row in misclassified(evaluated.outcomes)]
    previews = load_previews([labelled_zip], wrong, DEFAULT_ARCHIVE_LIMITS, classifier.limits, names=["eval.zip"])
    path = tmp_path_factory.mktemp("reports") / "evaluation.html"
    path.write_text(evaluation_html(evaluated, thumbnails=previews, source="eval.zip"), encoding="utf-8")
    return path


def open_offline(browser: Browser, path: Path, scheme: str, viewport: dict[str, int] = LAPTOP) -> Iterator[Page]:
    """`path` opened from disk with every request other than file: refused; yields the page, then checks that it
    asked for nothing."""
    context = browser.new_context(viewport=viewport, color_scheme=scheme)
    requested: list[str] = []

    def refuse(route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            requested.append(route.request.url)
            route.abort()

    context.route("**/*", refuse)
    page = context.new_page()
    page.goto(path.as_uri())
    yield page
    context.close()
    assert requested == [], f"the report asked the network for {requested}"


def shown(page: Page, selector: str) -> str:
    return page.locator(selector).inner_text().strip()


def test_the_evaluation_report_opens_offline_with_the_jsons_figures_and_passes_axe(
    browser: Browser, evaluation_page: Path, evaluated: EvaluatedSet, scheme: str
) -> None:
    report = json.loads(json.dumps(evaluated.report))  # as the JSON download holds it
    for page in open_offline(browser, evaluation_page, scheme):
        assert page.evaluate("document.documentElement.lang") == "en"
        assert "NSFW evaluation" in page.title()
        for key in ("accuracy", "precision", "recall", "f1", "false_positive_rate", "roc_auc", "average_precision"):
            assert shown(page, f"[data-metric={key}]") == f"{report[key]:.3f}", key
        assert shown(page, "[data-metric=precision_at_prevalence]") == f"{report['precision_at_prevalence']:.3f}"
        assert shown(page, "[data-figure=threshold]") == f"{report['threshold']:.3f}"
        assert shown(page, "[data-figure=n]") == str(report["n"])
        assert shown(page, "[data-figure=model]") == report["model"]["id"]
        for cell, count in report["confusion"].items():
            assert shown(page, f"[data-cell={cell}]").startswith(f"{count} "), cell
        wrong = sorted(row["file"] for row in report["files"] if row["outcome"] in ("FP", "FN"))
        assert wrong, "the threshold should leave some files misclassified"
        listed = sorted(page.locator("tr[data-file]").evaluate_all("rows => rows.map(row => row.dataset.file)"))
        assert listed == wrong
        for name in report["recommended_thresholds"]:
            assert page.locator(f"tr[data-choice={name}]").count() == 1
        # Every chart is an image with a name and a description a screen reader reads.
        for chart in ("chart-pr", "chart-roc", "chart-threshold"):
            svg = page.locator(f"[data-chart={chart}] svg")
            assert svg.get_attribute("role") == "img"
            assert page.locator(f"#{chart}-desc").text_content().strip()
        # The thumbnails are inline and blurred: every misclassified image is NSFW by label or score.
        sources = page.locator("img.thumb").evaluate_all("images => images.map(image => image.src)")
        assert sources and all(source.startswith("data:image/jpeg;base64,") for source in sources)
        assert page.locator("script").count() == 0
        headings = page.locator("h1, h2, h3").evaluate_all("items => items.map(item => Number(item.tagName[1]))")
        assert headings[0] == 1 and all(later - earlier <= 1 for earlier, later in itertools.pairwise(headings))
        assert blocking_violations(page) == []


def test_the_evaluation_report_fits_a_phone_without_sideways_scrolling(browser: Browser, evaluation_page: Path) -> None:
    for page in open_offline(browser, evaluation_page, "dark", PHONE):
        width = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert width <= 0
        assert blocking_violations(page) == []


def _photo() -> Image.Image:
    return Image.open(EXAMPLES / "rocket.jpg").convert("RGB")


def smoothness(data_uri: str) -> float:
    """Mean difference between neighbouring pixels: high for a photo, tiny for a blurred one."""
    import base64

    image = Image.open(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1]))).convert("L")
    return float(np.abs(np.diff(np.asarray(image, dtype=np.float64), axis=1)).mean())


def test_a_single_image_card_opens_offline_with_the_results_figures_and_a_blurred_nsfw_image(
    browser: Browser, tmp_path: Path, scheme: str
) -> None:
    response = {
        "label": "NSFW",
        "nsfw_score": 0.8765432,
        "threshold": 0.42,
        "probabilities": {"NSFW": 0.8765432, "SFW": 0.1234568},
        "model": {"id": "Marqo/nsfw-image-detection-384", "revision": "0123456789ab"},
        "image": {"width": 640, "height": 480, "format": "JPEG"},
    }
    blurred_card, shown_card = tmp_path / "blurred.html", tmp_path / "shown.html"
    blurred_card.write_text(classification_card(response, _photo(), show_image=False, created=CREATED))
    shown_card.write_text(classification_card(response, _photo(), show_image=True, created=CREATED))
    images = {}
    for path in (blurred_card, shown_card):
        for page in open_offline(browser, path, scheme, PHONE):
            assert shown(page, "[data-figure=label]") == "NSFW"
            assert shown(page, "[data-figure=nsfw_score]") == "0.877"
            assert shown(page, "[data-figure=threshold]") == "0.42"
            assert shown(page, "[data-probability=SFW]") == "0.123"
            assert shown(page, "[data-figure=revision]") == "0123456789ab"
            assert shown(page, "[data-figure=created]") == CREATED
            images[path.stem] = page.locator("img.preview").get_attribute("src")
            assert blocking_violations(page) == []
    assert smoothness(images["blurred"]) < smoothness(images["shown"]) / 3


def test_a_moderation_card_opens_offline_with_the_decision_and_the_band(
    browser: Browser, tmp_path: Path, scheme: str
) -> None:
    response = {
        "decision": "review",
        "nsfw_score": 0.5,
        "allow_below": 0.3,
        "block_above": 0.7,
        "whole_image_score": 0.5,
        "tiles": None,
        "frames": None,
        "image": {"width": 640, "height": 480, "format": "JPEG"},
    }
    path = tmp_path / "moderation.html"
    model = ModelRecord("Marqo/nsfw-image-detection-384", None)
    path.write_text(moderation_card(response, _photo(), model, show_image=False, created=CREATED))
    for page in open_offline(browser, path, scheme):
        assert shown(page, "[data-figure=decision]") == "REVIEW"
        assert (shown(page, "[data-figure=allow_below]"), shown(page, "[data-figure=block_above]")) == ("0.30", "0.70")
        assert page.locator("img.preview").get_attribute("data-blurred") == "true"
        assert blocking_violations(page) == []


def _download(page: Page, selector: str, folder: Path) -> Path:
    with page.expect_download() as info:
        page.locator(selector).click()
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def test_the_tabs_download_buttons_give_the_report_and_the_result_card(
    page: Page, browser: Browser, app: ServedApp, labelled_zip: Path, tmp_path: Path
) -> None:
    open_tab(page, "Evaluate")
    upload(page, "#evaluate-files", labelled_zip, listed=True)
    page.locator("#evaluate-run").click()
    page.wait_for_selector("#evaluate-summary [data-state=done]")
    set_threshold(page, 0.5, "#evaluate-threshold")
    page.wait_for_function(
        "() => document.querySelector('#evaluate-summary .eval-meta')?.innerText.includes('threshold 0.500')"
    )
    report = json.loads(_download(page, "#evaluate-json", tmp_path).read_text())
    page_path = _download(page, "#evaluate-html", tmp_path)
    assert page_path.suffix == ".html"
    text = page_path.read_text()
    assert f'data-metric="accuracy">{report["accuracy"]:.3f}<' in text
    assert "<img" not in text  # no images unless asked for
    page.locator("#evaluate-thumbnails input").check()
    # The button shows no sign of its new file: download until the re-rendered report (with images) arrives.
    for attempt in range(30):
        folder = tmp_path / f"attempt-{attempt}"
        folder.mkdir()
        if "data:image/jpeg;base64," in _download(page, "#evaluate-html", folder).read_text():
            break
        page.wait_for_timeout(1000)
    else:
        pytest.fail("The HTML report never included thumbnails after ticking 'Include thumbnails'.")

    open_tab(page, "Single image")
    page.locator("#examples").get_by_role("button", name="Example: rocket").click()
    page.wait_for_selector("#verdict .verdict[data-label]")
    page.wait_for_selector("#single-download", state="visible")
    card = _download(page, "#single-download", tmp_path)
    label = page.locator("#verdict .verdict").get_attribute("data-label")
    card_text = card.read_text()
    assert re.search(rf'data-figure="label">{label}<', card_text)
    for opened in open_offline(browser, card, "light"):
        assert shown(opened, "[data-figure=label]") == label
        assert shown(opened, "[data-figure=threshold]") == "0.50"
