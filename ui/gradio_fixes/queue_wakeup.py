"""Gradio's queue dispatcher, woken when there is something to do instead of polling every millisecond.

Gradio 6.31's `Queue.start_processing` loops for the life of the app: whenever no event is waiting, or every worker
is busy, or no waiting event may start yet, it sleeps `sleep_when_free` (1 ms) and looks again. The app's event loop
therefore wakes a thousand times a second, idle or not, on the cores that run the forward pass: an idle app used
8 % of a core on a 2-core host (2 % with this fix), and under 8 concurrent `/v1` clients, whose requests never enter
Gradio's queue, the app used 5 % more CPU per image and served 0.756 against 0.835 of the images per second of the
engine's bare batched forward pass (docs/PERFORMANCE.md, What was tried).

The replacement below is Gradio's loop with one change: where it slept 1 ms it waits for a wake-up, which
`Queue.push` (an event arrived), `Queue.process_events` (a worker became free) and `Queue.close` give it. It also
looks again after `IDLE_CHECK_SECONDS` without one, so that a path that changes the queue without either (none is
known) delays an event by at most that, never for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from gradio import queueing
from gradio.queueing import Queue

__all__ = [
    "IDLE_CHECK_SECONDS",
    "UPSTREAM_CLOSE",
    "UPSTREAM_PROCESS_EVENTS",
    "UPSTREAM_PUSH",
    "UPSTREAM_START_PROCESSING",
    "apply",
    "start_processing",
]

#: The longest the dispatcher waits for a wake-up before it looks at the queue anyway.
IDLE_CHECK_SECONDS = 0.1

#: Gradio's own methods, kept for the wrappers and for the test that shows why this module exists.
UPSTREAM_START_PROCESSING = Queue.start_processing
UPSTREAM_PUSH = Queue.push
UPSTREAM_PROCESS_EVENTS = Queue.process_events
UPSTREAM_CLOSE = Queue.close


def _new_wakeup(queue: Queue) -> asyncio.Event:
    """A wake-up for the event loop that starts dispatching now (an app launched again runs a new loop)."""
    event = asyncio.Event()
    queue._wakeup = (event, asyncio.get_running_loop())  # type: ignore[attr-defined]
    return event


def _wake(queue: Queue) -> None:
    """Wake the queue's dispatcher, from its own event loop or from any other thread (`close` may come from one)."""
    wakeup = getattr(queue, "_wakeup", None)
    if wakeup is None:  # not dispatching yet: its first look at the queue finds what is there
        return
    event, loop = wakeup
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        event.set()
        return
    with contextlib.suppress(RuntimeError):  # that loop has closed: its dispatcher has ended
        loop.call_soon_threadsafe(event.set)


async def _nap(wakeup: asyncio.Event) -> None:
    """Until the next wake-up, or `IDLE_CHECK_SECONDS`."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wakeup.wait(), IDLE_CHECK_SECONDS)


async def start_processing(self: Queue) -> None:
    """`Queue.start_processing` of Gradio 6.31, line for line, waiting for a wake-up where it slept."""
    wakeup = _new_wakeup(self)
    try:
        while not self.stopped:
            wakeup.clear()  # before looking: a wake-up given while this pass looks is not lost
            if len(self) == 0 or None not in self.active_jobs:
                await _nap(wakeup)
                continue

            # Using mutex to avoid editing a list in use
            async with self.delete_lock:
                event_batch = self.get_events()

            if event_batch:
                events, batch, concurrency_id = event_batch
                self.active_jobs[self.active_jobs.index(None)] = events
                event_queue = self.event_queue_per_concurrency_id[concurrency_id]
                event_queue.current_concurrency += 1
                start_time = time.time()
                fn = events[0].fn
                event_queue.start_times_per_fn[fn].add(start_time)
                for event in events:
                    if (a := self.event_analytics.get(event._id)) is not None:
                        a["status"] = "processing"
                process_event_task = queueing.run_coro_in_background(self.process_events, events, batch, start_time, fn)
                queueing.set_task_name(process_event_task, events[0].session_hash, fn._id, events[0]._id, batch)

                self._asyncio_tasks.add(process_event_task)
                process_event_task.add_done_callback(self._asyncio_tasks.discard)
                if self.live_updates:
                    self.broadcast_estimations(concurrency_id)
            else:
                await _nap(wakeup)
    finally:
        self.stopped = True
        self._cancel_asyncio_tasks()


async def _push(self: Queue, *args: Any, **kwargs: Any) -> Any:
    try:
        return await UPSTREAM_PUSH(self, *args, **kwargs)
    finally:
        _wake(self)


async def _process_events(self: Queue, *args: Any, **kwargs: Any) -> None:
    try:
        await UPSTREAM_PROCESS_EVENTS(self, *args, **kwargs)
    finally:
        _wake(self)


def _close(self: Queue) -> None:
    UPSTREAM_CLOSE(self)
    _wake(self)


def apply() -> None:
    """Have every Gradio queue dispatch on wake-ups (see the module's docstring)."""
    Queue.start_processing = start_processing  # type: ignore[method-assign]
    Queue.push = _push  # type: ignore[method-assign]
    Queue.process_events = _process_events  # type: ignore[method-assign]
    Queue.close = _close  # type: ignore[method-assign]
