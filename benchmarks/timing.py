"""Repeatable timing: warm-up calls, then several timed calls summarised by their median."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Stats", "summarise", "time_call"]


@dataclass(frozen=True)
class Stats:
    """Milliseconds over `count` timed calls."""

    median_ms: float
    min_ms: float
    max_ms: float
    mean_ms: float
    count: int

    def as_dict(self) -> dict[str, Any]:
        return {key: round(value, 2) if isinstance(value, float) else value for key, value in asdict(self).items()}


def summarise(milliseconds: Sequence[float]) -> Stats:
    """Median, min, max and mean of some durations in milliseconds (at least one)."""
    if not milliseconds:
        raise ValueError("summarise() needs at least one duration")
    return Stats(
        median_ms=statistics.median(milliseconds),
        min_ms=min(milliseconds),
        max_ms=max(milliseconds),
        mean_ms=statistics.fmean(milliseconds),
        count=len(milliseconds),
    )


def time_call(function: Callable[[], object], *, warmup: int, repeats: int) -> Stats:
    """Call `function` `warmup` times untimed, then `repeats` times timed (perf_counter)."""
    for _ in range(warmup):
        function()
    durations = []
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        function()
        durations.append(1000 * (time.perf_counter() - started))
    return summarise(durations)
