"""Micro-batching: concurrent requests merged into one forward pass, run by one inference thread."""

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


class MicroBatcher(Generic[Result]):
    """Runs `forward` on one worker thread, merging whatever requests are waiting into one batch.

    The worker never waits for a batch to fill: it takes the first waiting request, adds every other request
    already queued (up to `max_batch` images in all), runs one forward pass and hands each caller its rows. A lone
    request therefore costs one forward pass plus a thread hand-off; under load, requests that arrive during a
    forward pass share the next one. One worker also means one pool of torch threads, whichever thread called.

    Args:
        forward: turns an (N, C, H, W) batch into N results, in order.
        max_batch: the most images merged into one call of `forward` (a larger single request is passed whole).
        name: the worker thread's name.
    """

    def __init__(
        self, forward: Callable[[torch.Tensor], Sequence[Result]], max_batch: int, name: str = "inference"
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._forward = forward
        self.max_batch = max_batch
        self._name = name
        self._jobs: queue.SimpleQueue[_Job[Result]] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._start_lock = threading.Lock()

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
                worker = threading.Thread(target=self._serve, name=self._name, daemon=True)
                worker.start()
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

    def _serve(self) -> None:
        carried: _Job[Result] | None = None
        while True:
            jobs, carried = self._gather(carried if carried is not None else self._jobs.get())
            try:
                merged = jobs[0].batch if len(jobs) == 1 else torch.cat([job.batch for job in jobs])
                results = list(self._forward(merged))
            except Exception as error:  # handed to every caller of this batch, each of which re-raises it
                for job in jobs:
                    job.future.set_exception(error)
                continue
            start = 0
            for job in jobs:
                count = job.batch.shape[0]
                job.future.set_result(results[start : start + count])
                start += count
