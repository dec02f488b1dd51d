"""File names chosen by an attacker (HTML, markdown, 300 characters) are shown as text wherever the UI lists them: the
Batch table and gallery captions, the Evaluate misclassified table, gallery and skipped list. Nothing in them runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from testbed.images import EXAMPLES
from testbed.served import ServedApp
from testbed.zips import build_zip, tiny_png

from .conftest import LAPTOP, open_app, upload

HTML_NAME = "<img src=x onerror=alert(1)>.png"
BROKEN_HTML_NAME = "<img src=x onerror=alert(2)>.jpg"
MARKDOWN_NAME = "**bold** [link](http://x) `code`.png"
LONG_NAME = "a" * 296 + ".png"
ROCKET = (EXAMPLES / "rocket.jpg").read_bytes()  # scores ~0.997 with the stand-in
ASTRONAUT = (EXAMPLES / "astronaut.png").read_bytes()  # scores ~0.06


@pytest.fixture
def watched(browser: Browser, app: ServedApp) -> Iterator[tuple[Page, list[str]]]:
    """The app at laptop size, and every alert/confirm it opens (a name run as HTML would open one)."""
    page = open_app(browser, app, LAPTOP)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    yield page, dialogs
    page.context.close()


def assert_shown_as_text(page: Page, area: str, dialogs: list[str]) -> None:
    """The names are in the text of `area`, and nothing in them became an element."""
    for name in (HTML_NAME, MARKDOWN_NAME, LONG_NAME):
        expect(page.locator(area)).to_contain_text(name)  # waits: a table's rows can be drawn again as it settles
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator(f"{area} strong, {area} a[href='http://x'], {area} code").count() == 0
    assert dialogs == []


def test_batch_table_and_gallery_show_hostile_names_as_text(watched: tuple[Page, list[str]], tmp_path: Path) -> None:
    page, dialogs = watched
    archive = tmp_path / "names.zip"
    members = {HTML_NAME: tiny_png(1), MARKDOWN_NAME: tiny_png(2), LONG_NAME: tiny_png(3), BROKEN_HTML_NAME: b"text"}
    archive.write_bytes(build_zip(members))
    page.get_by_role("tab", name="Batch").click()
    upload(page, "#batch-files", archive, listed=True)
    page.locator("#batch-run").click()
    page.wait_for_selector("#batch-summary [data-state=done]", timeout=180_000)
    page.wait_for_selector("#batch-gallery img")

    assert_shown_as_text(page, "#batch-table", dialogs)
    expect(page.locator("#batch-table")).to_contain_text(BROKEN_HTML_NAME)
    # Gallery captions: the name is part of each image's caption (its alt text), never markup.
    captions = page.locator("#batch-gallery img").evaluate_all("images => images.map(image => image.alt)")
    for name in (HTML_NAME, MARKDOWN_NAME, LONG_NAME):
        assert any(caption.endswith(f"· {name}") for caption in captions), (name, captions)
    assert page.locator("#batch-gallery strong, #batch-gallery a[href='http://x']").count() == 0


def test_evaluate_tables_and_gallery_show_hostile_names_as_text(
    watched: tuple[Page, list[str]], tmp_path: Path
) -> None:
    page, dialogs = watched
    archive = tmp_path / "labelled.zip"
    # Each hostile name is misclassified at 0.5, so it appears in the misclassified table and gallery.
    archive.write_bytes(
        build_zip(
            {
                f"set/sfw/{HTML_NAME}": ROCKET,
                f"set/nsfw/{MARKDOWN_NAME}": ASTRONAUT,
                f"set/sfw/{LONG_NAME}": ROCKET,
                "set/nsfw/rocket.jpg": ROCKET,
                "set/sfw/astronaut.png": ASTRONAUT,
                f"set/sfw/{BROKEN_HTML_NAME}": b"not a jpeg",
            }
        )
    )
    page.get_by_role("tab", name="Evaluate").click()
    upload(page, "#evaluate-files", archive, listed=True)
    page.locator("#evaluate-run").click()
    page.wait_for_selector("#evaluate-summary [data-state=done]", timeout=180_000)

    assert_shown_as_text(page, "#evaluate-misclassified", dialogs)
    # A 300-character name wraps inside its column instead of pushing the other columns out of view.
    table = page.locator("#evaluate-misclassified")
    table_box = table.bounding_box()
    assert table_box is not None
    for header in ("Label", "NSFW score", "Outcome"):
        cell_box = table.locator("th", has_text=header).first.bounding_box()
        assert cell_box is not None and cell_box["x"] + cell_box["width"] <= table_box["x"] + table_box["width"] + 1, (
            header,
            cell_box,
            table_box,
        )
    page.wait_for_selector("#evaluate-gallery img")
    captions = page.locator("#evaluate-gallery img").evaluate_all("images => images.map(image => image.alt)")
    for name in (f"set/sfw/{HTML_NAME}", f"set/nsfw/{MARKDOWN_NAME}", f"set/sfw/{LONG_NAME}"):
        assert any(caption.endswith(f"· {name}") for caption in captions), (name, captions)
    page.get_by_text("Skipped files").click()
    # The table's rows render a moment after the accordion opens: wait for them rather than read at once.
    # (The virtual table may draw its rows again a moment later: check with waits, not one read.)
    skipped = page.locator("#evaluate-skipped")
    expect(skipped).to_contain_text(f"set/sfw/{BROKEN_HTML_NAME}", timeout=30_000)
    expect(skipped).to_contain_text("Unsupported file", timeout=30_000)
    assert page.locator('img[src="x"]').count() == 0
    assert dialogs == []
