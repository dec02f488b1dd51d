"""Headless Chromium as the tests start it: where it is, the flags every run passes, and one launcher."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Browser, Playwright

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "FAKE_CAMERA_ARGS", "launch_chromium"]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: No sandbox (containers), no GPU, and nothing that reaches out to the network on its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: A synthetic camera (a moving test pattern) that needs no permission prompt.
FAKE_CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def launch_chromium(playwright: Playwright, *extra_args: str) -> Browser:
    """Chromium at CHROMIUM with CHROMIUM_ARGS and `extra_args`.

    Raises:
        FileNotFoundError: Chromium is not at CHROMIUM, with what to do about it.
    """
    if not Path(CHROMIUM).is_file():
        raise FileNotFoundError(
            f"Chromium not found at {CHROMIUM}: install it (make test does) or set CHROMIUM to its path."
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
