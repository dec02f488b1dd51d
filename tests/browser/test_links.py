"""Links that carry the view: a link opens its tab with its threshold or band, switching tabs and moving a slider
rewrite the address, junk in a link is ignored, and the footer's API link opens the API page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Browser, Page, expect

from testbed.images import EXAMPLES
from testbed.served import ServedApp
from tests.browser.conftest import LAPTOP, PHONE, open_app, open_tab, set_threshold, upload


def query(page: Page) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlparse(page.url).query).items()}


def open_link(browser: Browser, app: ServedApp, link: str, viewport: dict[str, int] = LAPTOP) -> Page:
    page = browser.new_context(viewport=viewport).new_page()
    page.goto(f"{app.url}/{link}")
    page.wait_for_selector("#model-status [data-status=ready]")
    return page


def shown_value(page: Page, slider: str) -> str:
    """The value the slider `slider` shows, once a link's value has been applied (or not)."""
    return page.locator(f"{slider} input[type=range]").input_value()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_a_link_opens_its_tab_with_its_threshold(browser: Browser, app: ServedApp, viewport: dict[str, int]) -> None:
    page = open_link(browser, app, "?tab=evaluate&threshold=0.42", viewport)
    page.wait_for_function("() => document.querySelector('#evaluate-threshold input[type=range]')?.value === '0.42'")
    assert page.locator("#evaluate-tab").is_visible()
    # The number box follows the slider once Gradio has drawn it again (a moment later on a busy machine).
    expect(page.locator("#evaluate-threshold input[type=number]")).to_have_value("0.42")
    page.context.close()


def test_a_link_opens_moderate_with_its_allow_and_block_band(browser: Browser, app: ServedApp) -> None:
    page = open_link(browser, app, "?tab=moderate&allow_below=0.2&block_above=0.8")
    page.wait_for_function("() => document.querySelector('#block-above input[type=range]')?.value === '0.8'")
    assert page.locator("#moderate-tab").is_visible()
    assert shown_value(page, "#allow-below") == "0.2"
    page.context.close()


def test_the_threshold_from_a_link_is_the_one_a_run_uses(browser: Browser, app: ServedApp) -> None:
    page = open_link(browser, app, "?tab=batch&threshold=0.9")
    page.wait_for_function("() => document.querySelector('#batch-threshold input[type=range]')?.value === '0.9'")
    upload(page, "#batch-files", EXAMPLES / "astronaut.png", listed=True)
    page.locator("#batch-run").click()
    summary = page.wait_for_selector("#batch-summary [data-state=done]")
    assert "at threshold 0.90" in summary.inner_text()
    page.context.close()


@pytest.mark.parametrize(
    "link",
    [
        "?tab=nowhere&threshold=0.3",  # no such tab: the first tab, and its threshold from the link
        "?tab=batch&threshold=abc",
        "?tab=batch&threshold=1.5",
        "?tab=batch&threshold=-0.2",
        "?tab=batch&threshold=0x1",
        "?tab=moderate&allow_below=0.9&block_above=0.1",  # a band upside down
    ],
)
def test_junk_in_a_link_is_ignored(browser: Browser, app: ServedApp, link: str) -> None:
    page = open_link(browser, app, link)
    tab = parse_qs(link.removeprefix("?"))["tab"][0]  # the link's, not the address: the page rewrites that
    if tab == "nowhere":
        page.wait_for_function("() => document.querySelector('#threshold input[type=range]')?.value === '0.3'")
        assert page.locator("#single-tab").is_visible()
    elif tab == "batch":
        page.wait_for_selector("#batch-threshold input[type=range]")
        page.wait_for_timeout(500)  # time for a value to be applied, were it taken
        assert shown_value(page, "#batch-threshold") == "0.5"
    else:
        page.wait_for_selector("#block-above input[type=range]")
        page.wait_for_timeout(500)
        assert (shown_value(page, "#allow-below"), shown_value(page, "#block-above")) == ("0.3", "0.7")
    page.context.close()


def test_switching_tabs_and_moving_the_threshold_rewrite_the_address(page: Page) -> None:
    open_tab(page, "Evaluate", "#evaluate-threshold")
    page.wait_for_function("() => location.search.includes('tab=evaluate')")
    assert query(page) == {"tab": "evaluate", "threshold": "0.5"}
    set_threshold(page, 0.42, "#evaluate-threshold")
    page.wait_for_function("() => location.search.includes('threshold=0.42')")
    open_tab(page, "Moderate", "#block-above")
    page.wait_for_function("() => location.search.includes('tab=moderate')")
    set_threshold(page, 0.85, "#block-above")
    page.wait_for_function("() => location.search.includes('block_above=0.85')")
    assert query(page) == {"tab": "moderate", "allow_below": "0.3", "block_above": "0.85"}
    # The address now reproduces the view.
    page.goto(page.url)
    page.wait_for_function("() => document.querySelector('#block-above input[type=range]')?.value === '0.85'")
    assert page.locator("#moderate-tab").is_visible()


def api_page_shown(page: Page) -> str:
    """The text of Gradio's API page, once it is open and lists the endpoints."""
    # Read in the same check that finds it: Gradio may go on to redraw the panel (e.g. its MCP view) right after.
    shown = page.wait_for_function(
        "() => { const text = document.querySelector('.api-docs')?.innerText;"
        " return text?.includes('classify_batch') ? text : null; }",
        timeout=30_000,
    )
    return str(shown.json_value())


def test_the_footer_api_link_opens_the_api_page(page: Page) -> None:
    page.get_by_role("link", name="API page").click()
    assert "classify_batch" in api_page_shown(page)
    page.wait_for_function("() => location.search.includes('view=api')")


def test_a_link_to_the_api_page_opens_it(browser: Browser, app: ServedApp) -> None:
    page = open_app(browser, app, LAPTOP)
    page.goto(f"{app.url}/?view=api")
    assert "classify_batch" in api_page_shown(page)
    page.wait_for_function("() => location.search.includes('view=api')")
    page.context.close()


def test_a_link_with_a_threshold_opens_moderate_in_single_threshold_mode_and_the_mode_is_carried(
    browser: Browser, app: ServedApp
) -> None:
    page = open_link(browser, app, "?tab=moderate&threshold=0.6&allow_below=0.1")
    page.wait_for_function("() => document.querySelector('#moderate-threshold input[type=range]')?.value === '0.6'")
    assert page.locator("#moderate-mode").get_by_label("Single threshold").is_checked()
    assert not page.locator("#allow-below").is_visible()
    # The address carries the mode's slider, not the band's hidden ones; back in band mode, the band again.
    set_threshold(page, 0.65, "#moderate-threshold")
    page.wait_for_function("() => location.search.includes('threshold=0.65')")
    assert query(page) == {"tab": "moderate", "threshold": "0.65"}
    page.locator("#moderate-mode").get_by_label("Review band").check()
    page.wait_for_function("() => !location.search.includes('threshold=')")
    assert query(page) == {"tab": "moderate", "allow_below": "0.3", "block_above": "0.7"}
    page.context.close()


def test_on_a_slow_link_switching_moderates_mode_rewrites_the_address_once_the_sliders_change(
    browser: Browser, app: ServedApp
) -> None:
    # Which sliders a mode shows comes back from the server: 800 ms later on this link, long after the page has
    # written the address for the click itself.
    page = open_link(browser, app, "?tab=moderate&threshold=0.6")
    page.wait_for_function("() => document.querySelector('#moderate-threshold input[type=range]')?.value === '0.6'")
    page.context.new_cdp_session(page).send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 800, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    page.locator("#moderate-mode").get_by_label("Review band").check()
    expect(page.locator("#allow-below")).to_be_visible()
    page.wait_for_function("() => !location.search.includes('threshold=')", timeout=10_000)
    assert query(page) == {"tab": "moderate", "allow_below": "0.3", "block_above": "0.7"}
    page.context.close()
