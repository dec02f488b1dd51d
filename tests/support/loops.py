"""Code that runs an event loop, run on a thread of its own: Playwright's sync API holds the test thread's loop while
the session's browser is open (`browser` in tests/conftest.py), so `asyncio.run` there would fail."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["run_coroutine", "run_on_own_thread"]

T = TypeVar("T")


def run_on_own_thread(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` on a new thread; its result, or its exception raised here."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(coroutine)` on a new thread; its result, or its exception raised here."""
    return run_on_own_thread(asyncio.run, coroutine)
