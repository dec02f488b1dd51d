"""Recent results keyed by the SHA-256 of an upload's bytes: re-submitting the same file skips decoding and the
model. Never keyed by file name (two files with one name differ; one file under two names does not)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["CACHE_SIZE", "ResultCache", "content_key"]

#: Results kept per loaded model. Each is a few hundred bytes (scores and image facts, never pixels).
CACHE_SIZE = 256

Value = TypeVar("Value")


def content_key(data: bytes) -> str:
    """The cache key of an upload: the SHA-256 of its bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


class ResultCache(Generic[Value]):
    """A thread-safe least-recently-used map from `content_key` to a result, holding at most `size` entries
    (0 disables it)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        if size < 0:
            raise ValueError(f"size must be 0 or more, got {size}")
        self.size = size
        self._entries: OrderedDict[str, Value] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Value | None:
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: str, value: Value) -> None:
        if self.size == 0:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
