"""Gradio's queue dispatcher waits for a wake-up instead of polling every millisecond, and a close still ends it
(tests/api/test_queue_wakeup.py shows events still start at once in a launched app)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from gradio import queueing
from gradio.queueing import Queue

from tests.support.loops import run_coroutine
from ui.gradio_fixes import queue_wakeup

#: A bound for what must happen at once: the dispatcher's own idle check is set far beyond it.
PROMPT_SECONDS = 10.0
REAL_SLEEP = asyncio.sleep


def idle_queue() -> Queue:
    """A queue with free workers and no event, as Gradio makes it in `Blocks.queue()` and readies it in `start()`."""
    queue = Queue(
        live_updates=False,
        concurrency_count=4,
        update_intervals=1,
        max_size=None,
        blocks=None,  # type: ignore[arg-type]
        default_concurrency_limit=1,
    )
    queue.active_jobs = [None] * queue.max_thread_count
    return queue


class SleepRecorder:
    """Every `asyncio.sleep` called on the event loop that `run` starts (the dispatcher's), recorded and cut short;
    `then` sees the list after each one. Other loops of the process (an app another test left running) sleep as
    usual and are not recorded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, then: Callable[[list[float]], None] = lambda _: None) -> None:
        self.sleeps: list[float] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self._then = then
        monkeypatch.setattr(queueing.asyncio, "sleep", self._sleep)

    async def _sleep(self, seconds: float, *args: Any) -> Any:
        if asyncio.get_running_loop() is not self.loop:
            return await REAL_SLEEP(seconds, *args)
        self.sleeps.append(seconds)
        self._then(self.sleeps)
        return await REAL_SLEEP(0, *args)

    def run(self, scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
        async def recorded() -> None:
            self.loop = asyncio.get_running_loop()
            await scenario()

        run_coroutine(recorded())  # on a thread of its own: a browser test's loop may hold this one


def test_gradio_s_dispatcher_polls_an_idle_queue_every_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    """Why ui.gradio_fixes.queue_wakeup exists. If a Gradio upgrade waits for work itself, this fails: it can go."""
    queue = idle_queue()

    def stop_after_three(sleeps: list[float]) -> None:
        if len(sleeps) >= 3:
            queue.stopped = True

    recorder = SleepRecorder(monkeypatch, stop_after_three)
    recorder.run(lambda: queue_wakeup.UPSTREAM_START_PROCESSING(queue))
    assert recorder.sleeps == [0.001, 0.001, 0.001]


def test_the_fixed_dispatcher_sleeps_on_an_idle_queue_until_a_close_from_another_thread_ends_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(queue_wakeup, "IDLE_CHECK_SECONDS", 600.0)
    queue = idle_queue()
    recorder = SleepRecorder(monkeypatch)

    async def scenario() -> None:
        dispatcher = asyncio.create_task(queue_wakeup.start_processing(queue))
        await REAL_SLEEP(0.05)
        assert not dispatcher.done()
        await asyncio.to_thread(queue_wakeup._close, queue)  # Blocks.close() runs on the caller's thread
        await asyncio.wait_for(dispatcher, PROMPT_SECONDS)

    recorder.run(scenario)
    assert recorder.sleeps == []
    assert queue.stopped


def test_a_wake_up_for_a_queue_that_never_dispatched_or_whose_loop_closed_is_harmless() -> None:
    queue = idle_queue()
    queue_wakeup._wake(queue)  # not dispatching yet: nothing to wake

    async def dispatch_once() -> None:
        queue.stopped = True
        await queue_wakeup.start_processing(queue)

    run_coroutine(dispatch_once())  # leaves a wake-up bound to a loop that has closed since
    queue_wakeup._wake(queue)
    queue_wakeup._close(queue)
    assert queue.stopped


def test_each_start_of_the_dispatcher_gets_a_wake_up_of_its_own_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """An app closed and launched again serves its queue from a new event loop: the old wake-up must not be reused."""
    monkeypatch.setattr(queue_wakeup, "IDLE_CHECK_SECONDS", 600.0)
    queue = idle_queue()
    loops: list[asyncio.AbstractEventLoop] = []

    async def scenario() -> None:
        queue.stopped = False
        dispatcher = asyncio.create_task(queue_wakeup.start_processing(queue))
        await REAL_SLEEP(0.02)
        loops.append(queue._wakeup[1])  # type: ignore[attr-defined]
        assert loops[-1] is asyncio.get_running_loop()
        queue_wakeup._close(queue)
        await asyncio.wait_for(dispatcher, PROMPT_SECONDS)

    run_coroutine(scenario())
    run_coroutine(scenario())
    assert loops[0] is not loops[1]
