"""Gradio's sweep of its upload cache (`delete_cache`), made safe while uploads keep arriving.

Gradio 6.31's `route_utils.delete_files_created_by_app` walks the live sets of cached files in a worker thread while
the server thread adds every new upload to them. An upload during a sweep raises "Set changed size during
iteration", the scheduled sweep task ends silently, and from then on nothing is deleted: under steady traffic the
upload folder grows until the disk is full (found by `python -m benchmarks.load`; see docs/RELIABILITY.md). The
replacement below does the same work on a snapshot of each set.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import gradio as gr
from gradio import route_utils

__all__ = ["UPSTREAM_SWEEP", "apply", "delete_old_uploads"]

logger = logging.getLogger(__name__)

#: Gradio's own sweep, kept for the test that shows why this module exists.
UPSTREAM_SWEEP = route_utils.delete_files_created_by_app


def delete_old_uploads(blocks: gr.Blocks, age: int | None) -> None:
    """Delete the files `blocks` cached more than `age` seconds ago (all of them if `age` is None), as Gradio does,
    but iterating over copies: `set.copy()` and `difference_update` are atomic under the GIL, so uploads added
    meanwhile are neither lost nor able to stop the sweep. Examples kept by a component (`keep_in_cache`) stay."""
    keep: set[str] = set()
    for component in list(blocks.blocks.values()):
        keep.update(getattr(component, "keep_in_cache", set()))
    now = time.time()
    for files in list(blocks.temp_file_sets):
        removed = set()
        for file in files.copy():
            if file in keep:
                continue
            try:
                if age is None or now - Path(file).lstat().st_ctime > age:
                    os.remove(file)
                    removed.add(file)
            except FileNotFoundError:
                removed.add(file)
            except OSError as error:  # one file that cannot be removed must not stop the sweep for good
                logger.warning("Could not delete a cached upload: %s", error.strerror)
        files.difference_update(removed)


def apply() -> None:
    """Have Gradio's scheduled sweep (and its clean-up at shutdown) call `delete_old_uploads`."""
    route_utils.delete_files_created_by_app = delete_old_uploads
