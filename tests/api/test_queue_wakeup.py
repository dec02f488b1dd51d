"""In a launched app whose queue dispatcher waits for wake-ups (ui/gradio_fixes/queue_wakeup.py), a call made while
the queue is idle starts at once, and so does one that waits for a busy worker when it frees: neither waits for the
dispatcher's idle check."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import gradio as gr
import pytest
from gradio.queueing import Queue
from gradio_client import Client

from testbed.server import free_port
from ui.gradio_fixes import queue_wakeup

#: Far beyond any bound below: an event that waited for the idle check would fail the test.
IDLE_CHECK_SECONDS = 600.0
RESULT_SECONDS = 60.0


@dataclass(frozen=True)
class EchoApp:
    url: str
    demo: gr.Blocks
    #: Set by a call when it starts; calls return only once `release` is set.
    started: threading.Event
    release: threading.Event

    def wait_until_queued(self, count: int) -> None:
        deadline = time.monotonic() + RESULT_SECONDS
        while len(self.demo._queue) < count:
            assert time.monotonic() < deadline, f"{count} calls never reached the queue"
            time.sleep(0.01)


@pytest.fixture
def echo_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[EchoApp]:
    """A one-endpoint app (one call at a time) served with the woken dispatcher."""
    for name in ("start_processing", "push", "process_events", "close"):
        monkeypatch.setattr(Queue, name, getattr(Queue, name))  # put back whatever was there after the test
    queue_wakeup.apply()
    monkeypatch.setattr(queue_wakeup, "IDLE_CHECK_SECONDS", IDLE_CHECK_SECONDS)
    started, release = threading.Event(), threading.Event()

    def echo(text: str) -> str:
        started.set()
        release.wait(RESULT_SECONDS)
        return text

    with gr.Blocks(analytics_enabled=False) as demo:
        text = gr.Textbox()
        answer = gr.Textbox()
        text.submit(echo, text, answer, api_name="echo")
    demo.queue(default_concurrency_limit=1)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        assert demo._queue.start_processing.__func__ is queue_wakeup.start_processing  # type: ignore[attr-defined]
        yield EchoApp(f"http://127.0.0.1:{port}", demo, started, release)
    finally:
        release.set()
        demo.close()


def test_calls_to_an_idle_queue_and_to_a_busy_worker_start_without_waiting_for_the_idle_check(
    echo_app: EchoApp,
) -> None:
    client = Client(echo_app.url, verbose=False)
    echo_app.release.set()
    assert client.predict("first, to an idle queue", api_name="/echo") == "first, to an idle queue"
    echo_app.release.clear()
    echo_app.started.clear()
    held = client.submit("held", api_name="/echo")
    assert echo_app.started.wait(RESULT_SECONDS)
    waiting = client.submit("waiting for the worker", api_name="/echo")
    echo_app.wait_until_queued(1)  # the only worker is busy: it can start only when the held call ends
    echo_app.release.set()
    assert held.result(timeout=RESULT_SECONDS) == "held"
    assert waiting.result(timeout=RESULT_SECONDS) == "waiting for the worker"
