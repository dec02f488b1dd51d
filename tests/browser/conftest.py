"""Headless Chromium (Playwright; the session's one browser is `browser` in tests/conftest.py) against one app per
session, served by the test process around a classifier of its own (the stand-in as a local folder), so that tests
read the model's run count from the code."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from model import Classifier, ModelSource, Settings
from testbed.browser import CHROMIUM_ARGS as BASE_ARGS
from testbed.browser import FAKE_CAMERA_ARGS
from testbed.served import ServedApp

CHROMIUM_ARGS = [*BASE_ARGS, *FAKE_CAMERA_ARGS]
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
#: Longest wait for one classification in the browser (a busy CI machine runs the ViT on CPU).
RESULT_TIMEOUT_MS = 60_000
#: Longest wait for one click while opening a tab, before looking again where the tab is.
TAB_TRY_MS = 3_000


@pytest.fixture(scope="session")
def app(standin_dir: Path) -> Iterator[ServedApp]:
    with ServedApp(Classifier.load(Settings(model=ModelSource(local_dir=str(standin_dir))))) as served:
        yield served


def open_app(browser: Browser, app: ServedApp, viewport: dict[str, int]) -> Page:
    context = browser.new_context(viewport=viewport, permissions=["camera"])
    page = context.new_page()
    page.set_default_timeout(RESULT_TIMEOUT_MS)
    page.goto(app.url)
    page.wait_for_selector("#model-status [data-status=ready]")
    # The status panel sits above the tabs and can say ready before the first tab is drawn.
    page.wait_for_selector("#single-tab", state="attached")
    return page


def open_tab(page: Page, name: str, shown: str | None = None) -> None:
    """Click the tab called `name`, from Gradio's "more" menu when the screen is too narrow to show every tab; with
    `shown`, wait until that selector is on the page.

    Gradio measures the tab bar after the page renders and again whenever its width changes, moving tabs between the
    bar and the menu; a tab seen in one place can be in the other a moment later. So each try looks afresh and a try
    that finds the tab gone is repeated until the usual timeout."""
    deadline = time.monotonic() + RESULT_TIMEOUT_MS / 1000
    while True:
        try:
            _click_tab(page, name)
            break
        except PlaywrightTimeoutError:
            if time.monotonic() > deadline:
                raise
    if shown is not None:
        page.wait_for_selector(shown)


def _click_tab(page: Page, name: str) -> None:
    tab = page.get_by_role("tab", name=name)
    more = page.locator(".overflow-menu > button")
    listed = page.locator(".overflow-dropdown button", has_text=name)
    if listed.is_visible():  # the menu is open already (a try that lost the race opened it)
        listed.click(timeout=TAB_TRY_MS)
    elif tab.is_visible():
        tab.click(timeout=TAB_TRY_MS)
    elif more.is_visible():
        more.click(timeout=TAB_TRY_MS)
        listed.click(timeout=TAB_TRY_MS)
    else:  # the bar is between two layouts
        page.wait_for_timeout(100)
        raise PlaywrightTimeoutError(f"tab {name!r} is neither in the tab bar nor behind the more button")


def upload(page: Page, selector: str, *paths: Path, listed: bool = False) -> None:
    """Give `paths` to the file input inside `selector`; with `listed` (a file list, as on the Batch and Evaluate
    tabs), wait until every file is listed with its download link, which is when the upload is done."""
    page.locator(f"{selector} input[type=file]").set_input_files([str(path) for path in paths])
    if listed:
        page.wait_for_function(
            "([selector, count]) => document.querySelectorAll(`${selector} tr.file a.download-link`).length === count",
            arg=[selector, len(paths)],
            timeout=30_000,
        )


def set_threshold(page: Page, value: float, selector: str = "#threshold") -> None:
    """Type `value` into the number box of the slider `selector` and press Enter."""
    box = page.locator(f"{selector} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


@pytest.fixture
def page(browser: Browser, app: ServedApp) -> Iterator[Page]:
    """The app at laptop size, model ready."""
    opened = open_app(browser, app, LAPTOP)
    yield opened
    opened.context.close()


@pytest.fixture
def phone(browser: Browser, app: ServedApp) -> Iterator[Page]:
    """The app at phone width."""
    opened = open_app(browser, app, PHONE)
    yield opened
    opened.context.close()


def wait_until_unblurred(page: Page, image: str) -> None:
    """Wait for the image at `image` to show unfiltered. A new upload's preview stays blurred while it is classified,
    and the page lifts that blur one step after the verdict appears, so a single read can still see it."""
    page.wait_for_function(
        "(selector) => getComputedStyle(document.querySelector(selector)).filter === 'none'", arg=image
    )
