"""Every tab checked by axe-core (WCAG 2.2 AA and best practice) at laptop and phone width, empty and with results
showing; no sideways scroll on a phone; focus visible on the sliders; completions announced; a light first load."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from testbed.images import EXAMPLES
from testbed.served import ServedApp
from testbed.zips import build_zip, tiny_png
from tests.browser.conftest import LAPTOP, PHONE, open_app, open_tab, upload

#: The impacts that fail a test; "moderate" and "minor" findings are left to review.
BLOCKING = ("critical", "serious")
#: axe-core's default rules, and the check that a control's name contains its visible text (WCAG 2.5.3, off by
#: default in axe-core as "experimental").
AXE_OPTIONS = {"resultTypes": ["violations"], "rules": {"label-content-name-mismatch": {"enabled": True}}}
#: The most the first load of the page may transfer (HTML, scripts, styles, fonts, example thumbnails).
FIRST_LOAD_LIMIT = 1_000_000

_AXE = Axe()


def blocking_violations(page: Page) -> list[str]:
    """One line per critical or serious axe-core finding on the page as it is: rule, impact, first elements."""
    results = _AXE.run(page, options=AXE_OPTIONS).response
    found = []
    for violation in results["violations"]:
        if violation["impact"] in BLOCKING:
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:4]]
            found.append(f"{violation['id']} ({violation['impact']}, {len(violation['nodes'])}): {targets}")
    return found


#: JavaScript: the element is on screen at full opacity (no fade on it or any ancestor), so its colours are final.
FULLY_SHOWN = """(selector) => {
  for (let element = document.querySelector(selector); element; element = element.parentElement) {
    if (getComputedStyle(element).opacity !== '1') return false;
  }
  return document.querySelector(selector) !== null;
}"""


def page_overflow(page: Page) -> int:
    """How many pixels the page is wider than the window (0: no sideways scroll), once the layout has settled
    (tables and galleries re-measure themselves a moment after the window changes)."""
    measure = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(f"({measure})() <= 0", timeout=5_000)
    return page.evaluate(measure)


@pytest.fixture(scope="module")
def uploads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("a11y-uploads")
    photos = {f"holiday/photo-with-a-rather-long-file-name-{index:02d}.png": tiny_png(index) for index in range(10)}
    photos["holiday/rocket.jpg"] = (EXAMPLES / "rocket.jpg").read_bytes()
    labelled = {
        "set/NSFW/rocket.jpg": (EXAMPLES / "rocket.jpg").read_bytes(),
        "set/NSFW/crop.png": tiny_png(7),
        "set/SFW/astronaut.png": (EXAMPLES / "astronaut.png").read_bytes(),
        "set/SFW/crop.png": tiny_png(8),
    }
    files = {"photos.zip": build_zip(photos), "notes.txt": b"not an image", "eval.zip": build_zip(labelled)}
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return {name: folder / name for name in files}


def fill_single(page: Page, uploads: dict[str, Path]) -> None:
    page.locator("#examples").get_by_role("button", name="Example: rocket").click()
    page.wait_for_selector("#verdict .verdict[data-label=NSFW]")
    page.wait_for_function("() => !document.getElementById('single-tab').hasAttribute('data-pending')")
    page.wait_for_function(FULLY_SHOWN, arg="#verdict .reveal")  # the card fades while it updates
    # The button shows a small thumbnail; the full picture is what gets classified.
    assert "640 × 427 JPEG" in page.locator("#analysis").inner_text()


def fill_batch(page: Page, uploads: dict[str, Path]) -> None:
    upload(page, "#batch-files", uploads["photos.zip"], uploads["notes.txt"], listed=True)
    page.locator("#batch-run").click()
    page.wait_for_selector("#batch-summary [data-state=done]", timeout=180_000)
    page.wait_for_selector("#batch-gallery img")
    page.wait_for_function(FULLY_SHOWN, arg="#batch-summary .batch-summary")
    summary = page.locator("#batch-summary .batch-summary")
    counts = [summary.get_attribute(f"data-{kind}") for kind in ("nsfw", "sfw")]
    expected = f"11 images classified: {counts[0]} NSFW, {counts[1]} SFW, 1 skipped"
    page.wait_for_function(
        "(text) => document.querySelector('#batch-announcement [role=status]')?.textContent.trim() === text",
        arg=expected,
    )


def fill_evaluate(page: Page, uploads: dict[str, Path]) -> None:
    assert not page.locator("#evaluate-skipped-box").is_visible()  # nothing skipped before anything is evaluated
    upload(page, "#evaluate-files", uploads["eval.zip"], listed=True)
    page.locator("#evaluate-run").click()
    page.wait_for_selector("#evaluate-summary [data-state=done]", timeout=180_000)
    page.wait_for_function(FULLY_SHOWN, arg="#evaluate-summary .eval-results")
    for plot in ("#plot-pr", "#plot-roc", "#plot-threshold"):
        page.wait_for_selector(f"{plot} img")
    page.wait_for_function(
        "(text) => document.querySelector('#evaluate-announcement [role=status]')?.textContent.includes(text)",
        arg="4 labelled images scored: 2 NSFW, 2 SFW, 0 skipped",
    )
    # Each plot's alt text states what it shows.
    assert page.locator("#plot-pr img").get_attribute("alt").startswith("Precision-recall curve: average precision")
    assert "AUC" in page.locator("#plot-roc img").get_attribute("alt")
    assert "F1" in page.locator("#plot-threshold img").get_attribute("alt")
    assert page.locator("#evaluate-skipped-box").is_visible()


def fill_moderate(page: Page, uploads: dict[str, Path]) -> None:
    page.locator("#moderate-examples").get_by_role("button", name="Example: rocket").click()
    card = page.wait_for_selector("#moderate-decision .verdict[data-decision=block]")
    page.wait_for_function(FULLY_SHOWN, arg="#moderate-decision .verdict")
    box = card.bounding_box()
    assert box is not None and box["y"] >= 0, "the decision card's top is scrolled out of view"


def fill_live(page: Page, uploads: dict[str, Path]) -> None:
    page.get_by_text("Click to Access Webcam").click()
    page.locator("#live-input button.capture-button").click()  # starts the stream
    card = page.wait_for_selector("#live-decision .verdict[data-decision]:not([data-decision=''])")
    # The card changes with every frame, so it is no live region; a region of its own says the decision.
    assert card.get_attribute("role") is None
    page.wait_for_function(
        "() => document.querySelector('#live-decision [role=status]')?.textContent.startsWith('Webcam: ')"
    )


#: (tab name, element shown once the tab is open, how to get results onto it)
TABS: tuple[tuple[str, str, Callable[[Page, dict[str, Path]], None]], ...] = (
    ("Single image", "#input-image", fill_single),
    ("Batch", "#batch-files", fill_batch),
    ("Evaluate", "#evaluate-files", fill_evaluate),
    ("Moderate", "#moderate-input", fill_moderate),
    ("Live webcam", "#live-input", fill_live),
)


@pytest.fixture(params=[LAPTOP, PHONE], ids=["laptop", "phone"])
def viewer(request: pytest.FixtureRequest, browser: Browser, app: ServedApp) -> Iterator[Page]:
    opened = open_app(browser, app, request.param)
    yield opened
    opened.context.close()


@pytest.mark.parametrize("tab", TABS, ids=[name for name, _, _ in TABS])
def test_every_tab_passes_axe_core_and_fits_the_screen_empty_and_with_results(
    viewer: Page, uploads: dict[str, Path], tab: tuple[str, str, Callable[[Page, dict[str, Path]], None]]
) -> None:
    name, shown, fill = tab
    open_tab(viewer, name, shown)
    assert blocking_violations(viewer) == [], f"{name}, empty"
    assert page_overflow(viewer) == 0, f"{name}, empty: the page scrolls sideways"
    fill(viewer, uploads)
    assert blocking_violations(viewer) == [], f"{name}, with results"
    assert page_overflow(viewer) == 0, f"{name}, with results: the page scrolls sideways"
    if viewer.viewport_size == PHONE:
        for width in (320, 414):  # the narrowest and widest common phones
            viewer.set_viewport_size({"width": width, "height": PHONE["height"]})
            viewer.wait_for_function("(width) => document.documentElement.clientWidth === width", arg=width)
            assert page_overflow(viewer) == 0, f"{name}, with results, {width} px: the page scrolls sideways"


def test_keyboard_focus_is_visible_on_sliders_and_example_buttons(page: Page) -> None:
    slider = page.locator("#threshold input[type=range]")
    slider.focus()
    page.keyboard.press("ArrowRight")  # a key press: the browser now shows keyboard focus
    for control in (slider, page.locator("#examples").get_by_role("button", name="Example: astronaut")):
        control.focus()
        outline = control.evaluate(
            "e => [getComputedStyle(e).outlineStyle, parseFloat(getComputedStyle(e).outlineWidth)]"
        )
        assert outline[0] != "none" and outline[1] >= 2, outline


def test_the_first_load_is_light(page: Page) -> None:
    page.wait_for_function("() => [...document.images].every(image => image.complete)")
    total, largest = first_load_bytes(page)
    assert 0 < total <= FIRST_LOAD_LIMIT, largest


def first_load_bytes(page: Page) -> tuple[int, dict[str, int]]:
    """Bytes the page's first load moved over the network (Navigation + Resource Timing transferSize), and the
    largest resources."""
    entries = page.evaluate(
        """() => [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
            .map(entry => [entry.name, entry.transferSize])"""
    )
    sizes = {name: size for name, size in entries}
    return sum(sizes.values()), dict(sorted(sizes.items(), key=lambda item: -item[1])[:8])
