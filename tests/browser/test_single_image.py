"""The single-image tab in headless Chromium: upload, threshold, examples, webcam, blur and reveal, phone layout."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from testbed.images import EXAMPLES
from testbed.served import ServedApp

from .conftest import set_threshold, upload, wait_until_unblurred

VERDICT = "#verdict .verdict"
PREVIEW = "#input-image .image-frame img"


def wait_for_verdict(page: Page, label: str) -> str:
    page.wait_for_selector(f"{VERDICT}[data-label={label}]")
    return page.inner_text(VERDICT)


def preview_filter(page: Page) -> str:
    return page.eval_on_selector(PREVIEW, "image => getComputedStyle(image).filter")


def timings(page: Page) -> str:
    return page.inner_text("#analysis .facts")


def test_uploading_an_image_shows_its_verdict_probabilities_and_timings(page: Page) -> None:
    upload(page, "#input-image", EXAMPLES / "astronaut.png")
    text = wait_for_verdict(page, "SFW")
    assert "Safe for work" in text and "< threshold 0.50" in text
    rows = page.locator("#analysis .prob-row")
    assert sorted(rows.evaluate_all("rows => rows.map(row => row.dataset.label)")) == ["NSFW", "SFW"]
    assert "512 × 512 PNG" in timings(page)
    for step in ("decode", "inference", "total"):
        assert page.inner_text(f"#analysis [data-timing={step}]").endswith("ms")
    wait_until_unblurred(page, PREVIEW)


def test_moving_the_threshold_changes_the_verdict_without_running_the_model(page: Page, app: ServedApp) -> None:
    upload(page, "#input-image", EXAMPLES / "astronaut.png")  # scores about 0.06 with the stand-in
    wait_for_verdict(page, "SFW")
    runs, shown_timings = app.model_calls(), timings(page)
    set_threshold(page, 0.05)
    assert "≥ threshold 0.05" in wait_for_verdict(page, "NSFW")
    set_threshold(page, 0.9)
    assert "< threshold 0.90" in wait_for_verdict(page, "SFW")
    assert app.model_calls() == runs
    assert timings(page) == shown_timings
    assert page.inner_text("#analysis .score-chart-value").endswith("< 0.90")


def test_clicking_an_example_classifies_it_and_a_repeat_says_the_result_was_reused(page: Page, app: ServedApp) -> None:
    runs = app.model_calls()
    examples = page.locator("#examples")
    examples.get_by_role("button", name="Example: rocket").click()  # NSFW under the stand-in
    assert "Not safe for work" in wait_for_verdict(page, "NSFW")
    assert app.model_calls() == runs + 1
    first_timings = timings(page)
    examples.get_by_role("button", name="Example: astronaut").click()
    wait_for_verdict(page, "SFW")
    examples.get_by_role("button", name="Example: rocket").click()
    wait_for_verdict(page, "NSFW")
    page.wait_for_selector("#analysis [data-reused]")
    assert "Result reused" in page.inner_text("#analysis")
    assert timings(page) == first_timings  # the run that produced the result, not the lookup


def test_an_nsfw_preview_is_blurred_until_revealed(page: Page) -> None:
    upload(page, "#input-image", EXAMPLES / "rocket.jpg")
    wait_for_verdict(page, "NSFW")
    assert "blur" in preview_filter(page)
    page.click("#verdict button[data-action=reveal]")
    page.wait_for_selector(f"{VERDICT}[data-blur='0']")
    wait_until_unblurred(page, PREVIEW)
    assert page.inner_text("#verdict button[data-action=reveal]") == "Hide image"
    page.click("#verdict button[data-action=reveal]")
    page.wait_for_selector(f"{VERDICT}[data-blur='1']")
    assert "blur" in preview_filter(page)
    set_threshold(page, 1.0)  # above the score: SFW, nothing to hide
    wait_for_verdict(page, "SFW")
    wait_until_unblurred(page, PREVIEW)
    assert page.locator("#verdict button[data-action=reveal]").count() == 0


def test_a_new_image_stays_blurred_until_its_verdict_arrives(page: Page) -> None:
    page.eval_on_selector(
        "#single-tab",
        """tab => { window.pendingSeen = [];
        new MutationObserver(() => window.pendingSeen.push(tab.hasAttribute('data-pending')))
          .observe(tab, {attributes: true, attributeFilter: ['data-pending']}); }""",
    )
    upload(page, "#input-image", EXAMPLES / "coffee.png")
    page.wait_for_selector(f"{VERDICT}[data-label=NSFW], {VERDICT}[data-label=SFW]")
    page.wait_for_function("() => !document.getElementById('single-tab').hasAttribute('data-pending')")
    seen = page.evaluate("window.pendingSeen")
    # Marked pending at the upload, cleared once the verdict is shown (Gradio may fire the upload's change twice).
    assert seen[0] is True and seen[-1] is False, seen


def test_a_webcam_frame_is_captured_and_classified(page: Page, app: ServedApp) -> None:
    runs = app.model_calls()
    page.click("#input-image button[aria-label='Capture from camera']")
    page.click("#input-image button:has-text('Click to Access Webcam')")
    page.wait_for_function("() => document.querySelector('#input-image video')?.readyState >= 2")
    page.click("#input-image button[aria-label='capture photo']")
    page.wait_for_selector(f"{VERDICT}[data-label=NSFW], {VERDICT}[data-label=SFW]")
    assert app.model_calls() == runs + 1
    assert page.locator("#analysis .prob-row").count() == 2


def test_a_bad_upload_shows_the_decoders_message(page: Page, tmp_path: Path) -> None:
    fake = tmp_path / "holiday.jpg"
    fake.write_bytes(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n")
    upload(page, "#input-image", fake)
    text = wait_for_verdict(page, "error")
    assert "Unsupported file: this is a PDF document. Upload a JPEG, PNG, WebP, GIF, BMP, AVIF or HEIC image." in text
    assert not page.locator("#analysis").is_visible()
    set_threshold(page, 0.3)  # no scores to re-check: the message stays
    page.wait_for_function("() => document.querySelector('#threshold input[type=number]').value === '0.3'")
    assert page.get_attribute(VERDICT, "data-label") == "error"


def test_on_a_phone_the_examples_follow_the_image_then_the_verdict_in_screen_and_focus_order(phone: Page) -> None:
    upload(phone, "#input-image", EXAMPLES / "chelsea.png")
    phone.wait_for_selector(f"{VERDICT}[data-label=NSFW], {VERDICT}[data-label=SFW]")
    order = ("#input-image", "#examples", "#verdict", "#threshold")
    # Measured at once: the verdict may be scrolled into view meanwhile.
    top = phone.evaluate(
        "(names) => names.map(n => document.querySelector(n).getBoundingClientRect().top)", list(order)
    )
    assert top == sorted(top)
    # Keyboard focus follows the document, so the document must be in the same order as the screen.
    in_document = phone.evaluate(
        "(names) => names.map(n => document.querySelector(n)).every((e, i, all) => i === 0 ||"
        " (all[i - 1].compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING))",
        list(order),
    )
    assert in_document
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
