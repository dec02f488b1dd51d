"""Atomic writes: a reader sees a file (or folder) whole or not at all, and a failed write leaves the old one intact."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_file", "commit_file", "staging_folder", "temporary_path", "write_atomically"]


def temporary_path(path: str | os.PathLike[str]) -> Path:
    """A hidden name next to `path` (same folder, so the final move is one rename), unique to this process."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.partial")


def commit_file(temporary: Path, path: str | os.PathLike[str]) -> None:
    """Flush `temporary` to disk and move it over `path` in one step."""
    with open(temporary, "rb") as written:
        os.fsync(written.fileno())
    os.replace(temporary, path)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; when the block ends cleanly it replaces `path`, else it is removed.

    Example: `with atomic_file(out) as temporary: table.write(temporary)`.
    """
    temporary = temporary_path(path)
    try:
        yield temporary
        commit_file(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_atomically(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write text (UTF-8) or bytes to `path` atomically."""
    with atomic_file(path) as temporary:
        if isinstance(data, str):
            temporary.write_text(data, encoding="utf-8")
        else:
            temporary.write_bytes(data)


@contextlib.contextmanager
def staging_folder(parent: str | os.PathLike[str], prefix: str) -> Iterator[Path]:
    """A fresh hidden folder inside `parent` to build several files in before moving them into place; removed when
    the block ends, whatever happened (what was moved out of it stays)."""
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)
