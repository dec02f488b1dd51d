"""Refresh docs/screenshot.png, docs/screenshot-mobile.png, the Batch and Evaluate tabs (laptop and phone) and the
dark colour scheme (laptop and phone) in docs/screenshots/: `python -m tests.browser.make_screenshots`.

The app runs as in the tests: the stand-in checkpoint served from a Hugging Face cache with HF_HUB_OFFLINE=1, so the
status panel reads like an air-gapped deployment of Marqo/nsfw-image-detection-384. The scores shown are the
stand-in's (random weights), not the real model's.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright

from testbed.browser import CHROMIUM
from testbed.images import EXAMPLES
from testbed.server import ROOT, AppServer, launch_app
from testbed.standin import COMMIT, REPO_ID, build_standin, install_in_cache
from testbed.zips import build_zip
from tests.browser.conftest import CHROMIUM_ARGS, LAPTOP, PHONE, open_tab

DOCS = ROOT / "docs"


def _classify(page: Page, app: AppServer, example: str) -> None:
    page.goto(app.url)
    page.wait_for_selector("#model-status [data-status=ready]")
    page.set_input_files("#input-image input[type=file]", str(EXAMPLES / example))
    page.wait_for_selector("#verdict .verdict[data-label=NSFW], #verdict .verdict[data-label=SFW]")
    page.wait_for_function("() => !document.getElementById('single-tab').hasAttribute('data-pending')")
    page.wait_for_timeout(400)  # let the preview image finish painting
    page.mouse.click(1, 1)  # focus went to the verdict after the pick: a click aside, so no focus ring in the shot


def _crops(example: str, count: int) -> list[bytes]:
    """`count` different JPEG crops of one licensed example photo (the Batch and Evaluate sets are made of these)."""
    image = Image.open(EXAMPLES / example).convert("RGB")
    width, height = image.size
    crops = []
    for index in range(count):
        left, top = (index * 37) % (width // 3), (index * 23) % (height // 3)
        buffer = io.BytesIO()
        image.crop((left, top, left + 2 * width // 3, top + 2 * height // 3)).save(buffer, "JPEG", quality=85)
        crops.append(buffer.getvalue())
    return crops


def _evaluation_set() -> bytes:
    """44 images labelled by folder (the stand-in scores rocket and coffee crops high, the others low) and two files
    the Evaluate tab skips, so every panel of the tab has something to show."""
    members = {}
    for label, examples in (("NSFW", ("rocket.jpg", "coffee.png")), ("sfw", ("astronaut.png", "chelsea.png"))):
        for example in examples:
            for index, data in enumerate(_crops(example, 11)):
                members[f"eval/{label}/{Path(example).stem}_{index:02d}.jpg"] = data
    members["eval/README.txt"] = b"labels for a screenshot"
    members["../escape.jpg"] = _crops("rocket.jpg", 1)[0]
    return build_zip(members)


def _tab(page: Page, app: AppServer, tab: str, selector: str, upload: Path, done: str) -> None:
    page.goto(app.url)
    page.wait_for_selector("#model-status [data-status=ready]")
    open_tab(page, tab)
    page.locator(f"{selector}-files input[type=file]").set_input_files(str(upload))
    page.wait_for_selector(f"{selector}-files tr.file a.download-link", timeout=30_000)
    page.locator(f"{selector}-run").click()
    page.wait_for_selector(done, timeout=180_000)
    page.wait_for_selector(f"{selector}-gallery img")


def _evaluate(page: Page, app: AppServer, evaluation: Path) -> None:
    """Evaluate `evaluation` on the Evaluate tab and wait for its three plots."""
    _tab(page, app, "Evaluate", "#evaluate", evaluation, "#evaluate-summary [data-state=done]")
    for plot in ("#plot-pr", "#plot-roc", "#plot-threshold"):
        page.wait_for_selector(f"{plot} img")


def _screenshot(page: Page, name: str) -> None:
    """The whole page as docs/screenshots/`name`, once its last changes have settled."""
    page.wait_for_timeout(400)
    page.screenshot(path=DOCS / "screenshots" / name, full_page=True)


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

            evaluation = folder / "eval-set.zip"
            evaluation.write_bytes(_evaluation_set())
            photos = folder / "photos.zip"
            members = {
                f"photos/{Path(example).stem}_{index:02d}.jpg": data
                for example in ("coffee.png", "rocket.jpg", "chelsea.png")
                for index, data in enumerate(_crops(example, 4))
            }
            photos.write_bytes(build_zip(members))
            wide = browser.new_page(viewport=LAPTOP)
            _tab(wide, app, "Batch", "#batch", photos, "#batch-summary [data-state=done]")
            _screenshot(wide, "batch-tab.png")
            _evaluate(wide, app, evaluation)
            wide.get_by_text("Skipped files").click()
            expect(wide.locator("#evaluate-skipped")).to_contain_text("eval/README.txt", timeout=30_000)
            _screenshot(wide, "evaluate-tab.png")
            phone = browser.new_page(viewport=PHONE)
            _tab(phone, app, "Batch", "#batch", photos, "#batch-summary [data-state=done]")
            _screenshot(phone, "batch-tab-mobile.png")
            _evaluate(phone, app, evaluation)
            _screenshot(phone, "evaluate-tab-mobile.png")
            # The dark colour scheme, as a browser set to it shows the page (Gradio follows prefers-color-scheme).
            dark = browser.new_page(viewport=LAPTOP, color_scheme="dark")
            _classify(dark, app, "rocket.jpg")
            dark.screenshot(path=DOCS / "screenshots" / "dark-mode.png", full_page=True)
            _evaluate(dark, app, evaluation)
            _screenshot(dark, "evaluate-tab-dark.png")
            dark_phone = browser.new_page(viewport=PHONE, device_scale_factor=2, color_scheme="dark")
            _classify(dark_phone, app, "astronaut.png")
            dark_phone.screenshot(path=DOCS / "screenshots" / "dark-mode-mobile.png", full_page=True)
            browser.close()
    print(f"wrote {DOCS / 'screenshot.png'}, {DOCS / 'screenshot-mobile.png'}, the Batch and Evaluate tabs, dark mode")


if __name__ == "__main__":
    main()
