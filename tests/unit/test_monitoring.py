"""The app's queue rebuilds Gradio's /monitoring summary every 100 events, not after every event."""

from __future__ import annotations

import time

import gradio as gr
import pytest
from gradio import queueing

import app as demo_app
from model import ModelNotFoundError, Settings
from ui import ModelLoader
from ui.gradio_fixes.monitoring import REFRESH_EVENTS
from ui.gradio_fixes.monitoring import apply as refresh_monitoring_summary_less_often


def _rebuilds(monkeypatch: pytest.MonkeyPatch, events: int) -> int:
    """Queue `events` events the way the app's main() makes its queue; how many times the summary was rebuilt."""
    demo = demo_app.build_demo(ModelLoader.failed(ModelNotFoundError("no model in this test"), Settings()))
    demo.queue(max_size=8)
    queue: queueing.Queue = demo._queue
    rebuilds = 0
    get_df = queueing.Queue._get_df

    def counting(records: list[dict]) -> object:
        nonlocal rebuilds
        rebuilds += 1
        return get_df(records)

    monkeypatch.setattr(queueing.Queue, "_get_df", staticmethod(counting))
    for index in range(events):  # what Queue.push and process_events record for each event
        queue.event_analytics[f"event {index}"] = {
            "time": time.time(),
            "status": "success",
            "process_time": 0.1,
            "function": "classify",
            "session_hash": f"session {index}",
        }
        queue.events_recorded += 1
        queue.compute_analytics_summary(list(queue.event_analytics.values()))
    assert queue.cached_event_analytics_summary["functions"]["classify"]["total_requests"] > 0
    return rebuilds


def test_gradio_alone_rebuilds_the_summary_after_every_event(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADIO_ANALYTICS_CACHE_FREQUENCY", raising=False)
    assert _rebuilds(monkeypatch, 30) == 30


def test_the_app_rebuilds_it_every_hundred_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADIO_ANALYTICS_CACHE_FREQUENCY", raising=False)
    refresh_monitoring_summary_less_often()
    assert _rebuilds(monkeypatch, 2 * REFRESH_EVENTS + 10) == 2


def test_an_operators_own_setting_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1")
    refresh_monitoring_summary_less_often()
    assert _rebuilds(monkeypatch, 5) == 5


def test_main_makes_the_queue_with_that_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADIO_ANALYTICS_CACHE_FREQUENCY", raising=False)
    launched: list[gr.Blocks] = []
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **options: launched.append(self))
    failed = ModelLoader.failed(ModelNotFoundError("no model in this test"), Settings())
    monkeypatch.setattr(demo_app, "create_loader", lambda model, device=None: failed)
    # The other fixes patch Gradio for the whole process: only the monitoring one runs here.
    monkeypatch.setattr(demo_app, "apply_gradio_fixes", refresh_monitoring_summary_less_often)
    demo_app.main([])
    [demo] = launched
    assert demo._queue.ANAYLTICS_CACHE_FREQUENCY == REFRESH_EVENTS
