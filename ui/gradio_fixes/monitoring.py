"""Gradio's monitoring summary, rebuilt every 100 events instead of after every event.

Gradio 6.31's queue keeps the last 10,000 events for its /monitoring page, and after every event it rebuilds their
summary in a worker thread: a pandas DataFrame of every kept event, grouped, with percentiles. That is ~2 ms of CPU
per event on a fresh app and ~10 ms once 10,000 events are kept, whether or not anyone reads /monitoring. Gradio's
own setting GRADIO_ANALYTICS_CACHE_FREQUENCY (read when the queue is made) lets that many events pass between
rebuilds; an operator's own value is kept.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

__all__ = ["REFRESH_EVENTS", "apply"]

#: Events between two rebuilds of the /monitoring summary.
REFRESH_EVENTS = 100


def apply(environ: MutableMapping[str, str] = os.environ) -> None:
    """Have queues made from now on rebuild the monitoring summary every `REFRESH_EVENTS` events, unless the
    operator set GRADIO_ANALYTICS_CACHE_FREQUENCY."""
    environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(REFRESH_EVENTS))
