"""Recent results keyed by the SHA-256 of an upload's bytes, one small store per user session: re-submitting the
same file in the same session skips decoding and the model. Never keyed by file name (two files with one name
differ; one file under two names does not), and never shared between sessions (a reused result would tell one user
that another had sent the same image)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = [
    "CACHE_SIZE",
    "MAX_SESSIONS",
    "SESSION_IDLE_SECONDS",
    "ResultCache",
    "SessionCaches",
    "content_key",
]

#: Results kept per session. Each is a few hundred bytes (scores and image facts, never pixels).
CACHE_SIZE = 16
#: Sessions with a store at once; past it, the one idle longest loses its store (about 100 KB each at most).
MAX_SESSIONS = 2000
#: A session's store is dropped after this long without an upload (and at once when Gradio closes the session).
SESSION_IDLE_SECONDS = 15 * 60

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


class SessionCaches(Generic[Value]):
    """One `ResultCache` per session id, thread-safe: what one session stores, no other session can read.

    A session of None (an API call with no session) neither reads nor stores anything. Stores idle for
    `idle_seconds` are dropped, at most `max_sessions` are kept (the one idle longest goes first), and `drop`
    forgets a closed session at once.
    """

    def __init__(
        self,
        entries_per_session: int = CACHE_SIZE,
        *,
        max_sessions: int = MAX_SESSIONS,
        idle_seconds: float = SESSION_IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_sessions < 0:
            raise ValueError(f"max_sessions must be 0 or more, got {max_sessions}")
        ResultCache(entries_per_session)  # the same check on the size
        self.entries_per_session = entries_per_session
        self.max_sessions = max_sessions
        self.idle_seconds = idle_seconds
        self._clock = clock
        #: session -> (last use, its store), least recently used first.
        self._sessions: OrderedDict[str, tuple[float, ResultCache[Value]]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Sessions holding a store now."""
        with self._lock:
            self._expire(self._clock())
            return len(self._sessions)

    def _expire(self, now: float) -> None:
        while self._sessions:
            session, (used, _) = next(iter(self._sessions.items()))
            if now - used < self.idle_seconds:
                break
            del self._sessions[session]

    def _store(self, session: str, create: bool) -> ResultCache[Value] | None:
        now = self._clock()
        with self._lock:
            self._expire(now)
            found = self._sessions.get(session)
            if found is None:
                if not create or self.max_sessions == 0:
                    return None
                found = (now, ResultCache(self.entries_per_session))
            self._sessions[session] = (now, found[1])
            self._sessions.move_to_end(session)
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
            return found[1]

    def get(self, session: str | None, key: str) -> Value | None:
        """`session`'s result for `key`, or None (always None without a session)."""
        if session is None:
            return None
        store = self._store(session, create=False)
        return None if store is None else store.get(key)

    def put(self, session: str | None, key: str, value: Value) -> None:
        """Keep `value` for `session` (nothing is kept without a session)."""
        if session is None:
            return
        store = self._store(session, create=True)
        if store is not None:
            store.put(key, value)

    def drop(self, session: str | None) -> None:
        """Forget everything stored for `session` (Gradio closed it)."""
        if session is None:
            return
        with self._lock:
            self._sessions.pop(session, None)
