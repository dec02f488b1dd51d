"""The C allocator of a long-running server: fewer glibc malloc arenas, so that memory freed by one request's thread
serves the next request instead of staying with an idle arena.

glibc gives a process up to 8 arenas per core, one per thread that meets contention, and keeps what each frees for
its own later use. The app decodes uploads on Gradio's worker threads and runs the model on the inference threads, so
under concurrent load each thread's arena keeps its own high-water mark. Two arenas hold the app's peak under 8
concurrent clients about 145 MB lower at the same throughput (docs/PERFORMANCE.md). The limit is what the environment
variable `MALLOC_ARENA_MAX` sets, applied from inside the process so that `python app.py` (a Space) gets it too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Mapping

__all__ = ["SERVER_ARENAS", "limit_malloc_arenas"]

logger = logging.getLogger(__name__)

#: Arenas for the app's process (glibc's own default: 8 per core).
SERVER_ARENAS = 2
#: mallopt's parameter number for the arena limit (glibc's malloc.h).
_M_ARENA_MAX = -8


def limit_malloc_arenas(environ: Mapping[str, str], arenas: int = SERVER_ARENAS) -> bool:
    """Allow at most `arenas` malloc arenas from now on (call it before the server starts its threads).

    Returns whether the limit was set: not where `MALLOC_ARENA_MAX` in `environ` (the process's environment) already
    says what the operator wants, nor where the C library is not glibc (musl, macOS, Windows have no arenas).
    """
    if "MALLOC_ARENA_MAX" in environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    done = mallopt(_M_ARENA_MAX, arenas) == 1
    if done:
        logger.info("malloc: at most %d arenas", arenas)
    return done
