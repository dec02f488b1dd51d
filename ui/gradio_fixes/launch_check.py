"""Gradio's start-up check of its own page, made patient enough for a busy CPU.

Before `launch()` returns, Gradio 6.31 sends `HEAD /` to the app it just started (`networking.url_ok`) and, if that
fails, raises "When localhost is not accessible, a shareable link must be created" and the app exits. The check
gives up at the first request that takes over 3 s. On two cores that are busy (requests already arriving at a
restarted Space, a benchmark's clients, the model loading in the background) the page can take longer than that,
and the app died at start-up for no fault of its own (seen in `python -m benchmarks.run`). The replacement below
retries, also after timeouts, until `LAUNCH_CHECK_SECONDS` have passed; a page that truly cannot be reached (a
proxy in the way) still fails the check, with Gradio's message, once that time is up.
"""

from __future__ import annotations

import logging
import time

import httpx
from gradio import networking

__all__ = ["LAUNCH_CHECK_SECONDS", "UPSTREAM_URL_OK", "apply", "page_answers"]

logger = logging.getLogger(__name__)

#: How long the start-up check keeps trying before it gives up.
LAUNCH_CHECK_SECONDS = 60.0
#: Statuses that mean "the page is there" (Gradio's own list: with auth, a 401 or a redirect).
_ANSWERED = {200, 301, 302, 303, 307, 308, 401}
#: Gradio's own check, kept for the test that shows why this module exists.
UPSTREAM_URL_OK = networking.url_ok


def page_answers(url: str, deadline_s: float = LAUNCH_CHECK_SECONDS, timeout_s: float = 5.0) -> bool:
    """True once `HEAD url` answers with one of Gradio's accepted statuses; retries on errors and timeouts until
    `deadline_s` seconds have passed."""
    deadline = time.monotonic() + deadline_s
    attempt = 0
    while True:
        attempt += 1
        try:
            if httpx.head(url, timeout=timeout_s, verify=False).status_code in _ANSWERED:
                if attempt > 1:
                    logger.info("The app's page answered its start-up check at attempt %d", attempt)
                return True
        except httpx.HTTPError as error:  # refused, reset, or too slow: the server may still be starting
            logger.info("Start-up check, attempt %d: %s; trying again", attempt, type(error).__name__)
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


def apply() -> None:
    """Have `launch()` check its page with `page_answers` (see the module's docstring)."""
    networking.url_ok = page_answers
