"""Micro-batching: concurrent requests merged into one forward pass, run by one inference thread (a merged batch
as two halves at once on two helper threads)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import torch

__all__ = ["MicroBatcher"]

logger = logging.getLogger(__name__)

Result = TypeVar("Result")


@dataclass
class _Job(Generic[Result]):
    batch: torch.Tensor
    future: Future[list[Result]] = field(default_factory=Future)


def _set_torch_threads(count: int) -> None:
    """Give the calling thread `count` torch threads for good.

    Torch keeps a count per thread, and the process-wide one (the last set by any thread) is copied into a thread
    when it first uses torch. Reading the count does that first use, so that a count set before it is not replaced
    by another thread's later on."""
    torch.get_num_threads()
    torch.set_num_threads(count)


class _Half(threading.Thread, Generic[Result]):
    """A helper thread with its own number of torch threads that runs `forward` on the batches handed to it."""

    def __init__(self, forward: Callable[[torch.Tensor], Sequence[Result]], threads: int, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._forward = forward
        self._threads = threads
        self.jobs: queue.SimpleQueue[_Job[Result]] = queue.SimpleQueue()
        self.ready = threading.Event()

    def run(self) -> None:
        _set_torch_threads(self._threads)
        self.ready.set()
        while True:
            job = self.jobs.get()
            try:
                job.future.set_result(list(self._forward(job.batch)))
            except Exception as error:  # handed to the worker, which hands it to every caller of the batch
                job.future.set_exception(error)


class MicroBatcher(Generic[Result]):
    """Runs `forward` on one worker thread, merging whatever requests are waiting into one batch.

    The worker never waits for a batch to fill: it takes the first waiting request, adds every other request
    already queued (up to `max_batch` images in all), runs one forward pass and hands each caller its rows. A lone
    request therefore costs one forward pass plus a thread hand-off; under load, requests that arrive during a
    forward pass share the next one. Forward passes run on the worker's torch threads (or the helpers'), whichever
    thread called.

    With `split_threads` of 2 or more, a merged batch of two or more images is cut in two halves that run at once on
    two helper threads with half of the torch threads each, while a lone image still gets all of them on the
    worker. A ViT-Tiny's small matrices keep two single-threaded forward passes busier than one two-threaded one:
    on 2 cores, +5 % images/s for the app under 8 clients (+12 % in-process), lone requests unchanged
    (docs/PERFORMANCE.md). Torch keeps a thread count per thread, but a thread's first torch operation takes the
    count last set by any thread, so `start()` sets the helpers' counts first and `split_threads` last, before any
    request is served.

    Args:
        forward: turns an (N, C, H, W) batch into N results, in order.
        max_batch: the most images merged into one call of `forward` (a larger single request is passed whole).
        name: the worker thread's name.
        split_threads: the torch threads to use (0: leave torch's setting alone and never split).
    """

    def __init__(
        self,
        forward: Callable[[torch.Tensor], Sequence[Result]],
        max_batch: int,
        name: str = "inference",
        *,
        split_threads: int = 0,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._forward = forward
        self.max_batch = max_batch
        self._name = name
        self._split_threads = split_threads
        self._halves: tuple[_Half[Result], _Half[Result]] | None = None
        self._jobs: queue.SimpleQueue[_Job[Result]] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._start_lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Requests queued for a forward pass that has not started yet (approximate while they arrive)."""
        return self._jobs.qsize()

    def start(self) -> None:
        """Start the worker (and the helpers) now rather than at the first request."""
        self._ensure_worker()

    def run(self, batch: torch.Tensor) -> list[Result]:
        """Results for every row of `batch`, computed in the worker (possibly with other callers' rows)."""
        if batch.shape[0] == 0:
            return []
        job: _Job[Result] = _Job(batch)
        self._ensure_worker()
        self._jobs.put(job)
        return job.future.result()

    def _ensure_worker(self) -> None:
        if self._worker is not None:
            return
        with self._start_lock:
            if self._worker is None:
                if self._split_threads >= 2:
                    half = self._split_threads // 2
                    self._halves = (
                        _Half(self._forward, half, f"{self._name} (first half)"),
                        _Half(self._forward, self._split_threads - half, f"{self._name} (second half)"),
                    )
                    for helper in self._halves:
                        helper.start()
                        helper.ready.wait()
                ready = threading.Event()
                worker = threading.Thread(target=self._serve, args=(ready,), name=self._name, daemon=True)
                worker.start()
                ready.wait()
                self._worker = worker

    def _gather(self, first: _Job[Result]) -> tuple[list[_Job[Result]], _Job[Result] | None]:
        """`first` and every request queued behind it that still fits; also the one that did not fit, if any."""
        jobs, size = [first], first.batch.shape[0]
        while size < self.max_batch:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return jobs, None
            if size + job.batch.shape[0] > self.max_batch:
                return jobs, job
            jobs.append(job)
            size += job.batch.shape[0]
        return jobs, None

    def _serve(self, ready: threading.Event) -> None:
        if self._split_threads:
            _set_torch_threads(self._split_threads)  # after the helpers': threads started later get this count
        ready.set()
        carried: _Job[Result] | None = None
        while True:
            jobs, carried = self._gather(carried if carried is not None else self._jobs.get())
            try:
                merged = jobs[0].batch if len(jobs) == 1 else torch.cat([job.batch for job in jobs])
                results = self._run_forward(merged)
            except Exception as error:  # handed to every caller of this batch, each of which re-raises it
                for job in jobs:
                    job.future.set_exception(error)
                continue
            start = 0
            for job in jobs:
                count = job.batch.shape[0]
                job.future.set_result(results[start : start + count])
                start += count

    def _run_forward(self, batch: torch.Tensor) -> list[Result]:
        """`forward` on the whole batch here, or on its two halves at once on the helpers."""
        if self._halves is None or batch.shape[0] < 2:
            return list(self._forward(batch))
        middle = batch.shape[0] // 2
        halves = [_Job(batch[:middle]), _Job(batch[middle:])]
        for helper, job in zip(self._halves, halves, strict=True):
            helper.jobs.put(job)
        first, second = (job.future.result() for job in halves)
        return first + second
