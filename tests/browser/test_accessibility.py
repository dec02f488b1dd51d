"""Every tab checked by axe-core (WCAG 2.2 AA and best practice) in the light and dark colour schemes, at 1366, 390
and 320 px wide, empty, with results and with an error, the main buttons hovered too; the status panel in each of its
states (loading, ready, ready from the local cache with its note, failed); no sideways scroll from 320 to 414 px;
focus visible on the sliders; completions announced; a light first load."""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from model import Classifier, ModelLoadError
from testbed.images import EXAMPLES
from testbed.served import ServedApp
from testbed.zips import build_zip, tiny_png
from tests.browser.conftest import LAPTOP, PHONE, RESULT_TIMEOUT_MS, open_app, open_tab, upload
from ui import ModelLoader

#: The impacts that fail a test; "moderate" and "minor" findings are left to review.
BLOCKING = ("critical", "serious")
#: axe-core's default rules, and the check that a control's name contains its visible text (WCAG 2.5.3, off by
#: default in axe-core as "experimental").
AXE_OPTIONS = {"resultTypes": ["violations"], "rules": {"label-content-name-mismatch": {"enabled": True}}}
#: The most the first load of the page may transfer (HTML, scripts, styles, fonts, example thumbnails).
FIRST_LOAD_LIMIT = 1_000_000

_AXE = Axe()


def blocking_violations(page: Page, context: str | None = None) -> list[str]:
    """One line per critical or serious axe-core finding on the page as it is (or in `context`, a selector): rule,
    impact, first elements."""
    # axe-core is put into the page once (half a megabyte of script), then run as often as the page changes.
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_AXE.axe_script)
    results = page.evaluate("([context, options]) => axe.run(context ?? document, options)", [context, AXE_OPTIONS])
    found = []
    for violation in results["violations"]:
        if violation["impact"] in BLOCKING:
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:4]]
            found.append(f"{violation['id']} ({violation['impact']}, {len(violation['nodes'])}): {targets}")
    return found


SCHEMES = ("light", "dark")
#: The widths checked: a laptop; a common phone and the narrowest one.
LAPTOP_WIDTHS = (LAPTOP["width"],)
PHONE_WIDTHS = (PHONE["width"], 320)


def set_scheme(page: Page, scheme: str) -> None:
    """Switch the page's colour scheme as the system would (Gradio follows prefers-color-scheme as it changes)."""
    page.emulate_media(color_scheme=scheme)
    page.wait_for_function("(dark) => document.body.classList.contains('dark') === dark", arg=scheme == "dark")


def set_width(page: Page, width: int) -> None:
    page.set_viewport_size({"width": width, "height": page.viewport_size["height"]})
    page.wait_for_function("(width) => document.documentElement.clientWidth === width", arg=width)


def violations_everywhere(page: Page, where: str, widths: tuple[int, ...], hovered: tuple[str, ...] = ()) -> list[str]:
    """axe-core's critical and serious findings at each width in each colour scheme, with each of `hovered` (buttons,
    where shown) under the mouse too; and whether the page scrolls sideways at that width."""
    # Colours checked as they end, not halfway through a fade from one scheme (or hover state) to the other.
    page.add_style_tag(content="*, *::before, *::after { transition: none !important; animation: none !important; }")
    found = []
    for width in widths:
        set_width(page, width)
        if page_overflow(page) != 0:
            found.append(f"{where}, {width} px: the page scrolls sideways")
        for scheme in SCHEMES:
            set_scheme(page, scheme)
            found += [f"{where}, {width} px, {scheme}: {line}" for line in blocking_violations(page)]
            for selector in hovered:
                button = page.locator(selector)
                if button.is_visible():
                    button.hover()
                    lines = blocking_violations(page, selector)
                    found += [f"{where}, {width} px, {scheme}, {selector} hovered: {line}" for line in lines]
            page.mouse.move(0, 0)
    set_scheme(page, "light")
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
    files = {
        "photos.zip": build_zip(photos),
        "notes.txt": b"not an image",
        "eval.zip": build_zip(labelled),
        "broken.png": b"not an image either",
        "labels.csv": b"name,verdict\na.jpg,nsfw\n",
    }
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
    # The skipped files' table is drawn after the summary (a moment later on a busy machine).
    expect(page.locator("#evaluate-skipped-box")).to_be_visible()


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


def fail_single(page: Page, uploads: dict[str, Path]) -> None:
    page.locator("#input-image input[type=file]").set_input_files(str(uploads["broken.png"]))
    page.wait_for_selector("#verdict .verdict-error[role=alert]")
    page.wait_for_function("() => !document.getElementById('single-tab').hasAttribute('data-pending')")
    # No broken-image icon where the preview would be: an image that could not load is hidden.
    page.wait_for_function("() => [...document.querySelectorAll('#input-image img')].every(i => i.complete)")
    broken = "images => images.filter(i => i.naturalWidth === 0 && getComputedStyle(i).visibility !== 'hidden')"
    assert page.locator("#input-image img").evaluate_all(broken) == []


def _clear(page: Page, selector: str) -> None:
    clear = page.locator(f"{selector} button[aria-label=Clear]")
    if clear.is_visible():
        clear.click()


def fail_batch(page: Page, uploads: dict[str, Path]) -> None:
    _clear(page, "#batch-files")
    page.locator("#batch-run").click()  # with nothing to classify
    page.wait_for_selector("#batch-summary [data-state=error]")


def fail_evaluate(page: Page, uploads: dict[str, Path]) -> None:
    _clear(page, "#evaluate-files")
    upload(page, "#evaluate-files", uploads["labels.csv"], listed=True)
    page.locator("#evaluate-run").click()
    error = page.wait_for_selector("#evaluate-summary [data-state=error]")
    assert "labels.csv has no file column" in error.inner_text()  # the manifest's own message


def fail_moderate(page: Page, uploads: dict[str, Path]) -> None:
    page.locator("#moderate-input input[type=file]").set_input_files(str(uploads["broken.png"]))
    page.wait_for_selector("#moderate-decision .verdict-error[role=alert]")


Fill = Callable[[Page, dict[str, Path]], None]

#: (tab name, element shown once the tab is open, how to get results onto it, how to get an error, buttons hovered)
TABS: tuple[tuple[str, str, Fill, Fill | None, tuple[str, ...]], ...] = (
    ("Single image", "#input-image", fill_single, fail_single, ("#verdict .reveal",)),
    ("Batch", "#batch-files", fill_batch, fail_batch, ("#batch-run", "#batch-csv")),
    ("Evaluate", "#evaluate-files", fill_evaluate, fail_evaluate, ("#evaluate-run", "#use-f1-max")),
    ("Moderate", "#moderate-input", fill_moderate, fail_moderate, ("#explain",)),
    ("Live webcam", "#live-input", fill_live, None, ()),  # a webcam stream has no error of its own to show
)


def _loading(classifier: Classifier, release: threading.Event) -> ModelLoader:
    def load() -> Classifier:
        release.wait()
        return classifier

    return ModelLoader(load, classifier.settings).start()


def _from_the_cache(classifier: Classifier) -> ModelLoader:
    noted = copy.copy(classifier)  # the same model, with the note a Hub failure leaves (model.runtime.hub)
    noted.info = replace(
        classifier.info,
        note="Loaded from the local cache (commit c8da1da902e2) because the Hugging Face Hub could not be reached.",
    )
    return ModelLoader.ready(noted)


_FAILURE = ModelLoadError(
    "Could not download Marqo/nsfw-image-detection-384: the Hugging Face Hub is unreachable. Check the network, or "
    "set NSFW_MODEL to a local folder holding config.json and model.safetensors."
)


# Built before the tabs are tested: Gradio registers components in one process-wide context, so a page built while
# another app answers requests (a webcam stream winding down) may pick up that app's components.
@pytest.fixture(scope="module")
def status_apps(app: ServedApp) -> Iterator[dict[str, ServedApp]]:
    """The app with its model still loading, loaded from the cache with a note, and failed (ready: the session's)."""
    release = threading.Event()
    classifier = app.classifier
    apps = {
        "loading": ServedApp(classifier, _loading(classifier, release)),
        "cache note": ServedApp(classifier, _from_the_cache(classifier)),
        "failed": ServedApp(classifier, ModelLoader.failed(_FAILURE, classifier.settings)),
    }
    with contextlib.ExitStack() as stack:
        for served in apps.values():
            stack.enter_context(served)
        yield {**apps, "ready": app}
        release.set()


#: (state, the panel's data-status, text it shows)
STATUS_STATES = (
    ("loading", "loading", "Loading the model"),
    ("ready", "ready", "Model ready"),
    ("cache note", "ready", "Loaded from the local cache"),
    ("failed", "error", "The model could not be loaded"),
)


@pytest.mark.parametrize("state", STATUS_STATES, ids=[state for state, _, _ in STATUS_STATES])
def test_the_status_panel_passes_axe_core_in_each_state(
    browser: Browser, status_apps: dict[str, ServedApp], state: tuple[str, str, str]
) -> None:
    name, status, text = state
    page = browser.new_context(viewport=LAPTOP).new_page()
    page.set_default_timeout(RESULT_TIMEOUT_MS)
    page.goto(status_apps[name].url)
    panel = page.wait_for_selector(f"#model-status [data-status={status}]")
    assert text in panel.inner_text()
    # The page has rendered (Gradio fills the example buttons after the panel; a server still loading the model can
    # be slow to): what a user meets, not a half-drawn page.
    page.locator("#examples").get_by_role("button", name="Example: astronaut").wait_for()
    found = violations_everywhere(page, name, (*LAPTOP_WIDTHS, *PHONE_WIDTHS))
    if status == "ready":  # on a phone the details open from the toggle
        set_width(page, 320)
        toggle = page.get_by_role("button", name="Details")
        toggle.click()
        assert toggle.get_attribute("aria-expanded") == "true"
        page.wait_for_selector("#status-details .chip >> nth=0", state="visible")
        found += violations_everywhere(page, f"{name}, details open", (320,))
    page.context.close()
    assert found == []


@pytest.fixture(params=[LAPTOP, PHONE], ids=["laptop", "phone"])
def viewer(request: pytest.FixtureRequest, browser: Browser, app: ServedApp) -> Iterator[Page]:
    opened = open_app(browser, app, request.param)
    yield opened
    opened.context.close()


@pytest.mark.parametrize("tab", TABS, ids=[tab[0] for tab in TABS])
def test_every_tab_passes_axe_core_in_both_schemes_empty_with_results_and_with_an_error(
    viewer: Page, uploads: dict[str, Path], tab: tuple[str, str, Fill, Fill | None, tuple[str, ...]]
) -> None:
    name, shown, fill, fail, hovered = tab
    widths = PHONE_WIDTHS if viewer.viewport_size == PHONE else LAPTOP_WIDTHS
    open_tab(viewer, name, shown)
    found = violations_everywhere(viewer, f"{name}, empty", widths, hovered)
    set_width(viewer, widths[0])
    fill(viewer, uploads)
    found += violations_everywhere(viewer, f"{name}, with results", widths, hovered)
    if viewer.viewport_size["width"] != LAPTOP["width"]:
        set_width(viewer, 414)  # the widest common phone
        if page_overflow(viewer) != 0:
            found.append(f"{name}, with results, 414 px: the page scrolls sideways")
    if fail is not None:
        set_width(viewer, widths[0])
        fail(viewer, uploads)
        found += violations_everywhere(viewer, f"{name}, with an error", widths)
    assert found == []


def test_on_a_phone_the_status_panel_is_one_line_with_its_details_behind_a_toggle(phone: Page) -> None:
    panel = phone.locator("#model-status .status")
    assert panel.bounding_box()["height"] < 60
    assert not phone.locator("#status-details").is_visible()
    assert phone.locator("#model-status .status-model").inner_text().strip()  # the model's id, in that line
    phone.get_by_role("button", name="Details").click()
    assert phone.locator("#status-details").is_visible()
    assert "Engine" in phone.locator("#status-details").inner_text()


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
