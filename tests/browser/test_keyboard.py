"""Keyboard and phone use: arrow keys move between tabs (one tab stop for the bar), focus lands on the next useful
control after each action, every button has a name a screen reader says, and on a phone a new result or error is
scrolled into view."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from testbed.images import EXAMPLES
from testbed.served import ServedApp
from testbed.zips import build_zip, tiny_png
from tests.browser.conftest import PHONE, open_app, open_tab, upload

#: JavaScript: the id of the element with focus, or of the nearest ancestor with one.
FOCUSED = "() => document.activeElement?.closest('[id]')?.id"


def focus_is_on(page: Page, element_id: str) -> None:
    page.wait_for_function(f"(id) => ({FOCUSED})() === id", arg=element_id, timeout=15_000)


def test_arrow_keys_move_between_tabs_and_the_bar_is_one_tab_stop(page: Page) -> None:
    page.locator("#single-tab-button").focus()
    tab_stops = "() => [...document.querySelectorAll('#tabs [role=tab]')].filter(t => t.tabIndex === 0).map(t => t.id)"
    assert page.evaluate(tab_stops) == ["single-tab-button"]
    page.keyboard.press("ArrowRight")
    focus_is_on(page, "batch-tab-button")
    page.wait_for_selector("#batch-files")  # the tab shown follows focus
    assert page.locator("#batch-tab-button").get_attribute("aria-selected") == "true"
    page.wait_for_function(f"() => ({tab_stops})().join() === 'batch-tab-button'")
    page.keyboard.press("End")
    focus_is_on(page, "live-tab-button")
    page.keyboard.press("Home")
    focus_is_on(page, "single-tab-button")
    page.keyboard.press("ArrowLeft")  # wraps round to the last tab
    focus_is_on(page, "live-tab-button")
    page.wait_for_selector("#live-input")


def pick_with_the_keyboard(page: Page, upload_button: str, *paths: Path) -> None:
    """Focus the upload area, press Enter, choose `paths` in the file picker.

    On a loaded machine the page may still be drawing when the key arrives; the key is pressed again (up to four
    times, 5 s apart: a picker opens within the key's own event or not at all) only while focus is on the upload area
    and no picker opened."""
    for _ in range(4):
        page.locator(upload_button).focus()
        page.wait_for_function("(selector) => document.activeElement?.matches(selector)", arg=upload_button)
        try:
            with page.expect_file_chooser(timeout=5_000) as chooser:
                page.keyboard.press("Enter")
        except PlaywrightTimeoutError:
            continue
        chooser.value.set_files([str(path) for path in paths])
        return
    raise AssertionError(f"Enter on the focused {upload_button} never opened the file picker")


@pytest.mark.parametrize(
    ("tab", "files", "run"), [("Batch", "#batch-files", "batch-run"), ("Evaluate", "#evaluate-files", "evaluate-run")]
)
def test_after_a_file_pick_focus_is_on_the_run_button(
    page: Page, tmp_path: Path, tab: str, files: str, run: str
) -> None:
    archive = tmp_path / "set.zip"
    archive.write_bytes(build_zip({"set/nsfw/a.png": tiny_png(1), "set/sfw/b.png": tiny_png(2)}))
    open_tab(page, tab, files)
    pick_with_the_keyboard(page, f"{files} button.upload-container", archive)
    focus_is_on(page, run)
    page.keyboard.press("Enter")  # one key from the pick to the run
    page.wait_for_selector(f"#{tab.lower()}-summary [data-state=done]")


def test_after_an_image_pick_focus_is_on_its_verdict(page: Page) -> None:
    pick_with_the_keyboard(page, "#input-image button.upload-container", EXAMPLES / "astronaut.png")
    focus_is_on(page, "verdict")
    page.wait_for_selector("#verdict .verdict[data-label=SFW], #verdict .verdict[data-label=NSFW]")


def test_a_tab_chosen_from_the_more_tabs_menu_puts_focus_in_its_content(phone: Page) -> None:
    phone.get_by_role("button", name="More tabs").focus()
    phone.keyboard.press("Enter")
    phone.locator(".overflow-dropdown button", has_text="Live webcam").focus()
    phone.keyboard.press("Enter")
    focus_is_on(phone, "live-tab")


def test_after_access_webcam_focus_is_on_the_record_button(page: Page) -> None:
    open_tab(page, "Live webcam", "#live-input")
    page.locator("#live-input button", has_text="Click to Access Webcam").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement?.matches('#live-input button.capture-button')")


def test_every_button_has_a_name_a_screen_reader_says(page: Page) -> None:
    nameless = """() => [...document.querySelectorAll('button')].filter(b => b.offsetParent !== null).filter(b => {
        const image = b.querySelector('img[alt]')?.alt;
        const name = b.getAttribute('aria-label') || b.innerText || image || b.getAttribute('title') || '';
        return !/[\\p{L}\\p{N}]/u.test(name);
    }).map(b => b.outerHTML.slice(0, 120))"""
    for tab, shown in (
        ("Single image", "#input-image"),
        ("Batch", "#batch-files"),
        ("Evaluate", "#evaluate-files"),
        ("Moderate", "#moderate-input"),
        ("Live webcam", "#live-input"),
    ):
        open_tab(page, tab, shown)
        assert page.evaluate(nameless) == [], tab
    open_tab(page, "Single image", "#input-image")
    assert page.get_by_role("button", name="Reset threshold to 0.5").is_visible()
    open_tab(page, "Moderate", "#moderate-input")
    assert page.get_by_role("button", name="Reset allow below to 0.3").is_visible()


def in_view(page: Page, selector: str) -> None:
    """Wait until the top of `selector` is on the screen."""
    page.wait_for_function(
        "(selector) => { const box = document.querySelector(selector)?.getBoundingClientRect();"
        " return box && box.top >= 0 && box.top < window.innerHeight - 40; }",
        arg=selector,
        timeout=15_000,
    )


def test_on_a_phone_an_error_is_scrolled_into_view(phone: Page, tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    phone.locator("#input-image input[type=file]").set_input_files(str(broken))
    phone.wait_for_selector("#verdict .verdict-error[role=alert]")
    in_view(phone, "#verdict .verdict-error")


def test_on_a_small_phone_the_evaluation_is_scrolled_into_view(
    browser: Browser, app: ServedApp, tmp_path: Path
) -> None:
    page = open_app(browser, app, {"width": 320, "height": 640})
    archive = tmp_path / "set.zip"
    archive.write_bytes(build_zip({"set/nsfw/a.png": tiny_png(3), "set/sfw/b.png": tiny_png(4)}))
    open_tab(page, "Evaluate", "#evaluate-files")
    upload(page, "#evaluate-files", archive, listed=True)
    page.locator("#evaluate-run").click()
    page.wait_for_selector("#evaluate-summary [data-state=done]", timeout=180_000)
    in_view(page, "#evaluate-summary [data-state=done]")
    # Still announced, as before.
    page.wait_for_function("() => document.querySelector('#evaluate-announcement [role=status]')?.textContent.trim()")
    page.context.close()


def test_on_a_phone_a_batch_table_that_is_wider_than_the_screen_says_so(phone: Page, tmp_path: Path) -> None:
    archive = tmp_path / "photos.zip"
    archive.write_bytes(build_zip({f"holiday/photo-{index}.png": tiny_png(index) for index in range(3)}))
    phone.set_viewport_size({"width": 320, "height": PHONE["height"]})
    open_tab(phone, "Batch", "#batch-files")
    upload(phone, "#batch-files", archive, listed=True)
    phone.locator("#batch-run").click()
    phone.wait_for_selector("#batch-table[data-scrolls]")
    widths = phone.locator("#batch-table .body-cell").evaluate_all("cells => cells.slice(0, 4).map(c => c.offsetWidth)")
    assert min(widths) >= 70, widths  # a score and a verdict fit on one line ("0.9727", "NSFW")
