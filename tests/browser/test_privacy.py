"""Nothing one user sends changes what another sees: two browser sessions against one app, the second sending the
image the first just classified, get no "reused" note and a real inference time; a session's own repeat does."""

from __future__ import annotations

import time

from playwright.sync_api import Browser, Page

from testbed.served import ServedApp

from .conftest import LAPTOP, open_app

VERDICT = "#verdict .verdict"


def classify_example(page: Page, name: str, label: str) -> None:
    page.locator("#examples").get_by_role("button", name=f"Example: {name}").click()
    page.wait_for_selector(f"{VERDICT}[data-label={label}]")
    page.wait_for_function("() => !document.getElementById('single-tab').hasAttribute('data-pending')")


def inference_ms(page: Page) -> float:
    return float(page.inner_text("#analysis [data-timing=inference]").removesuffix(" ms"))


def test_a_second_session_sending_the_same_image_gets_a_fresh_run_and_no_reused_note(
    browser: Browser, app: ServedApp
) -> None:
    first, second = open_app(browser, app, LAPTOP), open_app(browser, app, LAPTOP)
    try:
        classify_example(first, "rocket", "NSFW")
        classify_example(first, "astronaut", "SFW")
        classify_example(first, "rocket", "NSFW")
        first.wait_for_selector("#analysis [data-reused]")  # the same session's repeat is reused

        runs = app.model_calls()
        classify_example(second, "rocket", "NSFW")
        assert second.locator("#analysis [data-reused]").count() == 0
        assert "Result reused" not in second.inner_text("#analysis")
        assert inference_ms(second) > 0
        assert app.model_calls() == runs + 1
    finally:
        first.context.close()
        second.context.close()


def test_a_closed_page_takes_its_kept_results_with_it(browser: Browser, app: ServedApp) -> None:
    page = open_app(browser, app, LAPTOP)
    classify_example(page, "rocket", "NSFW")
    sessions = len(app.classifier.recent)
    page.context.close()
    # Gradio runs the app's unload handler once the page's heartbeat stops.
    deadline = time.monotonic() + 30
    while len(app.classifier.recent) >= sessions and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(app.classifier.recent) < sessions
