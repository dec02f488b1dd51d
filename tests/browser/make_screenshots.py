"""Refresh docs/screenshot.png and docs/screenshot-mobile.png: `python -m tests.browser.make_screenshots`.

The app runs as in the tests: the stand-in checkpoint served from a Hugging Face cache with HF_HUB_OFFLINE=1, so the
status panel reads like an air-gapped deployment of Marqo/nsfw-image-detection-384. The scores shown are the
stand-in's (random weights), not the real model's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, LAPTOP, PHONE
from tests.support.app_process import ROOT, RunningApp, launch_app
from tests.support.images import EXAMPLES
from tests.support.standin import COMMIT, REPO_ID, build_standin, install_in_cache

DOCS = ROOT / "docs"


def _classify(page: Page, app: RunningApp, example: str) -> None:
    page.goto(app.url)
    page.wait_for_selector("#model-status [data-status=ready]")
    page.set_input_files("#input-image input[type=file]", str(EXAMPLES / example))
    page.wait_for_selector("#verdict .verdict[data-label=NSFW], #verdict .verdict[data-label=SFW]")
    page.wait_for_function("() => !document.getElementById('single-tab').hasAttribute('data-pending')")
    page.wait_for_timeout(400)  # let the preview image finish painting


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        install_in_cache(build_standin(folder / "standin"), folder / "hf" / "hub", repo_id=REPO_ID, commit=COMMIT)
        with launch_app({"HF_HOME": str(folder / "hf")}, folder / "app.log") as app, sync_playwright() as playwright:
            app.wait_for_status("ready")
            # One request first, with another image, so the timings shown are not the first (cold) run's.
            page = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            _classify(page.new_page(viewport=LAPTOP), app, "chelsea.png")
            page.close()
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            laptop = browser.new_page(viewport=LAPTOP)
            _classify(laptop, app, "astronaut.png")
            laptop.screenshot(path=DOCS / "screenshot.png", full_page=True)
            phone = browser.new_page(viewport=PHONE, device_scale_factor=2)
            _classify(phone, app, "rocket.jpg")  # NSFW under the stand-in: shows the blurred preview
            phone.screenshot(path=DOCS / "screenshot-mobile.png", full_page=True)
            browser.close()
    print(f"wrote {DOCS / 'screenshot.png'} and {DOCS / 'screenshot-mobile.png'}")


if __name__ == "__main__":
    main()
