"""The app survives a slow first page load at start-up (Gradio's own check exits it after one 3 s timeout)."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest
from gradio import networking

from ui.gradio_fixes.launch_check import UPSTREAM_URL_OK, page_answers
from ui.gradio_fixes.launch_check import apply as make_launch_check_patient

GRADIO_URL_OK = UPSTREAM_URL_OK


class SlowFirstAnswer(http.server.BaseHTTPRequestHandler):
    """Answers HEAD with 200, but the first request only after `delay` seconds (a page rendered on a busy CPU)."""

    delay = 4.0
    served = 0
    lock = threading.Lock()

    def do_HEAD(self) -> None:
        with self.lock:
            first = SlowFirstAnswer.served == 0
            SlowFirstAnswer.served += 1
        if first:
            threading.Event().wait(self.delay)
        try:
            self.send_response(200)
            self.end_headers()
        except OSError:  # the client gave up on this request
            pass

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def slow_page() -> Iterator[str]:
    SlowFirstAnswer.served = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowFirstAnswer)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_gradio_s_own_check_fails_a_page_that_is_slow_once(slow_page: str) -> None:
    """The failure this module exists for: one answer slower than 3 s and Gradio's check says "not accessible"."""
    assert GRADIO_URL_OK(slow_page) is False


def test_the_patient_check_passes_a_page_that_is_slow_once(slow_page: str) -> None:
    assert page_answers(slow_page, deadline_s=30.0, timeout_s=3.0) is True
    assert SlowFirstAnswer.served >= 2


def test_the_patient_check_still_fails_when_nothing_answers() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert page_answers(f"http://127.0.0.1:{port}/", deadline_s=1.0, timeout_s=0.5) is False


def test_the_app_installs_the_patient_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(networking, "url_ok", GRADIO_URL_OK)
    make_launch_check_patient()
    assert networking.url_ok is page_answers
