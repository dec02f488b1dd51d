"""The Moderate and Live webcam tabs in headless Chromium: review band, single-threshold mode, scan, per-frame plot,
explanation, reveal and the live stream. Each test leaves a screenshot: in docs/screenshots/ with UPDATE_SCREENSHOTS=1,
else in a temporary folder (a test run leaves the checkout as it found it)."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page

from testbed.images import EXAMPLES, encode, photo
from testbed.served import ServedApp
from testbed.zips import build_zip

from .conftest import open_tab, upload, wait_until_unblurred

SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "nsfw-moderate-screenshots"
)
DECISION = "#moderate-decision .verdict"
INPUT_PREVIEW = "#moderate-input .image-frame img"


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def wait_for_decision(page: Page, decision: str) -> str:
    page.wait_for_selector(f"{DECISION}[data-decision={decision}]")
    return page.inner_text(DECISION)


def set_slider(page: Page, elem_id: str, value: float) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def input_filter(page: Page) -> str:
    return page.eval_on_selector(INPUT_PREVIEW, "image => getComputedStyle(image).filter")


@pytest.fixture
def pasted_rocket(tmp_path: Path) -> Path:
    """Flat gray (~0.04 with the stand-in) with the rocket photo (~0.997 alone) small in one corner."""
    image = Image.new("RGB", (960, 720), (128, 128, 128))
    image.paste(photo("rocket.jpg").resize((300, 200)), (600, 460))
    path = tmp_path / "pasted.png"
    path.write_bytes(encode(image))
    return path


@pytest.fixture
def animation(tmp_path: Path) -> Path:
    """Twelve frames: the astronaut, the rocket for frames 4-6, then the cat."""
    astronaut, rocket, cat = (photo(name).resize((240, 160)) for name in ("astronaut.png", "rocket.jpg", "chelsea.png"))
    frames = [(rocket if 4 <= index <= 6 else astronaut if index < 4 else cat).copy() for index in range(12)]
    for index, frame in enumerate(frames):
        frame.putpixel((index, 0), (0, 0, 0))  # keeps the encoder from merging identical frames
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    path = tmp_path / "clip.gif"
    path.write_bytes(buffer.getvalue())
    return path


def test_the_band_gives_three_colour_coded_decisions_without_rerunning_the_model(page: Page, app: ServedApp) -> None:
    open_tab(page, "Moderate", "#moderate-input")
    upload(page, "#moderate-input", EXAMPLES / "coffee.png")  # ~0.53 with the stand-in
    assert "Needs human review" in wait_for_decision(page, "review")
    chart = page.locator("#band-chart .band-chart")
    assert chart.get_attribute("class").endswith("decision-review")
    assert page.locator("#band-chart .zone-allow, #band-chart .zone-review, #band-chart .zone-block").count() == 3
    assert "blur" in input_filter(page)
    screenshot(page, "moderate-review-band")
    runs = app.model_calls()
    set_slider(page, "allow-below", 0.6)
    assert "below the allow threshold" in wait_for_decision(page, "allow")
    wait_until_unblurred(page, INPUT_PREVIEW)
    set_slider(page, "allow-below", 0.2)
    set_slider(page, "block-above", 0.5)
    wait_for_decision(page, "block")
    assert app.model_calls() == runs


def test_single_threshold_mode_hides_the_band_and_never_sends_to_review(page: Page) -> None:
    open_tab(page, "Moderate", "#moderate-input")
    upload(page, "#moderate-input", EXAMPLES / "coffee.png")
    wait_for_decision(page, "review")
    page.locator("#moderate-mode").get_by_text("Single threshold").click()
    page.wait_for_selector("#moderate-threshold", state="visible")
    assert page.locator("#allow-below").is_hidden() and page.locator("#block-above").is_hidden()
    assert "threshold 0.50" in wait_for_decision(page, "block")
    set_slider(page, "moderate-threshold", 0.6)
    wait_for_decision(page, "allow")
    screenshot(page, "moderate-single-threshold")


def test_the_scan_boxes_the_small_region_on_a_blurred_preview_and_shows_its_cost(
    page: Page, pasted_rocket: Path
) -> None:
    open_tab(page, "Moderate", "#moderate-input")
    upload(page, "#moderate-input", pasted_rocket)
    wait_for_decision(page, "allow")
    page.locator("#moderate-scan input").check()
    wait_for_decision(page, "block")
    summary = page.inner_text("#moderation-facts .scan-summary")
    assert summary.startswith("Scan: 9 tiles of 384 px plus the whole image in") and "ms" in summary
    assert "[576, 336, 960, 720]" in summary
    assert page.locator("#moderate-preview img").is_visible()
    screenshot(page, "moderate-scan")


def test_an_animation_gets_a_score_per_frame_plot(page: Page, animation: Path) -> None:
    open_tab(page, "Moderate", "#moderate-input")
    upload(page, "#moderate-input", animation)
    wait_for_decision(page, "block")
    plot = page.locator("#frame-scores svg")
    assert plot.locator("circle").count() == 12
    assert "max 0.997 at 4" in page.inner_text("#frame-scores figcaption")
    assert "12 of 12 scored" in page.inner_text("#moderation-facts .frames-summary")
    screenshot(page, "moderate-frames")


def test_explain_blends_a_heatmap_on_the_preview_and_says_what_it_means(page: Page) -> None:
    open_tab(page, "Moderate", "#moderate-input")
    upload(page, "#moderate-input", EXAMPLES / "chelsea.png")
    wait_for_decision(page, "review")
    before = page.get_attribute("#moderate-preview img", "src")
    page.click("#explain")
    page.wait_for_selector("#explain-note", state="visible")
    page.wait_for_function(
        "before => document.querySelector('#moderate-preview img')?.getAttribute('src') !== before", arg=before
    )
    note = page.inner_text("#explain-note")
    assert "What the heatmap shows" in note and "What it does not show" in note
    screenshot(page, "moderate-explain")


def test_show_image_reveals_a_blocked_preview_and_hide_blurs_it_again(page: Page) -> None:
    open_tab(page, "Moderate", "#moderate-input")
    upload(page, "#moderate-input", EXAMPLES / "rocket.jpg")
    wait_for_decision(page, "block")
    assert page.get_attribute(DECISION, "data-blur") == "1" and "blur" in input_filter(page)
    page.click("#moderate-reveal")
    page.wait_for_selector(f"{DECISION}[data-blur='0']")
    wait_until_unblurred(page, INPUT_PREVIEW)
    page.click("#moderate-reveal")
    page.wait_for_selector(f"{DECISION}[data-blur='1']")


def test_a_bad_upload_shows_the_decoders_message_in_the_card(page: Page, tmp_path: Path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"just some text, not an image\n")
    open_tab(page, "Moderate", "#moderate-input")
    upload(page, "#moderate-input", bad)
    page.wait_for_selector("#moderate-decision .verdict-error")
    assert "Unsupported file: this is a text file" in page.inner_text("#moderate-decision")


def test_the_live_webcam_is_classified_continuously_with_a_rolling_plot(page: Page) -> None:
    page.get_by_role("tab", name="Live webcam").click()
    page.get_by_text("Click to Access Webcam").click()
    page.locator("#live-input button.capture-button").click()  # starts the stream
    page.wait_for_selector("#live-decision .verdict[data-decision]:not([data-decision=''])")
    page.wait_for_function("document.querySelectorAll('#live-plot svg circle').length >= 2")
    assert page.locator("#live-chart .band-chart").is_visible()
    screenshot(page, "live-webcam")


def _upload_files(page: Page, selector: str, paths: list[Path]) -> None:
    page.locator(f"{selector} input[type=file]").set_input_files([str(path) for path in paths])
    page.wait_for_function(
        "([selector, count]) => document.querySelectorAll(`${selector} tr.file a.download-link`).length === count",
        arg=[selector, len(paths)],
    )


def test_batch_and_evaluate_count_the_band_and_the_automatic_errors(page: Page, tmp_path: Path) -> None:
    labelled = tmp_path / "set.zip"
    labelled.write_bytes(
        build_zip(
            {
                "set/NSFW/rocket.jpg": (EXAMPLES / "rocket.jpg").read_bytes(),  # ~0.997: blocked
                "set/NSFW/coffee.png": (EXAMPLES / "coffee.png").read_bytes(),  # ~0.53: review
                "set/SFW/astronaut.png": (EXAMPLES / "astronaut.png").read_bytes(),  # ~0.06: allowed
                "set/sfw/chelsea.png": (EXAMPLES / "chelsea.png").read_bytes(),  # ~0.32: review
            }
        )
    )
    page.get_by_role("tab", name="Batch").click()
    _upload_files(page, "#batch-files", [labelled])
    page.locator("#batch-run").click()
    page.wait_for_selector("#batch-summary [data-state=done]")
    page.click("#batch-band")
    counts = page.wait_for_selector("#batch-band-counts .band-counts")
    assert (counts.get_attribute("data-allow"), counts.get_attribute("data-review")) == ("1", "2")
    set_slider(page, "batch-band-allow", 0.4)
    page.wait_for_selector("#batch-band-counts .band-counts[data-allow='2'][data-review='1'][data-block='1']")

    page.get_by_role("tab", name="Evaluate").click()
    _upload_files(page, "#evaluate-files", [labelled])
    page.locator("#evaluate-run").click()
    page.wait_for_selector("#evaluate-summary [data-state=done]")
    page.click("#evaluate-band")
    page.wait_for_selector("#evaluate-band-counts .band-counts[data-review='2']")
    text = page.inner_text("#evaluate-band-counts")
    assert "NSFW allowed: 0 of 1 (0.0%)" in text and "safe blocked: 0 of 1 (0.0%)" in text
    screenshot(page, "evaluate-review-band")
