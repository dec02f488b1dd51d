"""The upload-cache sweep keeps working while uploads arrive (Gradio 6.31's own sweep dies on the first collision)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import pytest
from gradio import route_utils

from ui.gradio_fixes.upload_cache import UPSTREAM_SWEEP, delete_old_uploads
from ui.gradio_fixes.upload_cache import apply as make_cache_sweep_safe

Sweep = Callable[[gr.Blocks, int | None], None]


def uploading(demo: gr.Blocks, folder: Path, stop: threading.Event) -> threading.Thread:
    """A thread that adds a new cached file to the app's upload set as fast as it can, as the upload route does."""

    def add() -> None:
        for index in itertools.count():
            if stop.is_set():
                return
            path = folder / f"upload-{index}.jpg"
            path.write_bytes(b"x")
            demo.upload_file_set.add(str(path))

    return threading.Thread(target=add, daemon=True)


def sweep_while_uploading(demo: gr.Blocks, folder: Path, sweep: Sweep, seconds: float = 5.0) -> None:
    """Sweep (deleting nothing: every file is young) again and again for `seconds` while uploads arrive."""
    stop = threading.Event()
    thread = uploading(demo, folder, stop)
    thread.start()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            sweep(demo, 3600)
    finally:
        stop.set()
        thread.join()


def test_gradios_own_sweep_fails_when_an_upload_arrives_meanwhile(tmp_path: Path) -> None:
    # Why ui.gradio_fixes.upload_cache exists. If a Gradio upgrade fixes its sweep, this fails: the fix can go.
    original = UPSTREAM_SWEEP
    with gr.Blocks() as demo:
        gr.Markdown("cache")
    with pytest.raises(RuntimeError, match="Set changed size during iteration"):
        sweep_while_uploading(demo, tmp_path, original, seconds=20.0)


def test_the_safe_sweep_keeps_working_while_uploads_arrive_and_then_deletes_them(tmp_path: Path) -> None:
    with gr.Blocks() as demo:
        gr.Markdown("cache")
    sweep_while_uploading(demo, tmp_path, delete_old_uploads, seconds=2.0)
    assert len(demo.upload_file_set) > 100
    delete_old_uploads(demo, 0)
    assert list(tmp_path.iterdir()) == []
    assert demo.upload_file_set == set()


def test_young_files_and_kept_examples_stay(tmp_path: Path) -> None:
    young, example = tmp_path / "young.jpg", tmp_path / "example.jpg"
    young.write_bytes(b"x")
    example.write_bytes(b"x")
    with gr.Blocks() as demo:
        image = gr.Image()
    image.keep_in_cache.add(str(example))
    demo.upload_file_set.update({str(young), str(example), str(tmp_path / "already-gone.jpg")})
    delete_old_uploads(demo, 600)
    assert young.exists() and example.exists()
    assert demo.upload_file_set == {str(young), str(example)}
    delete_old_uploads(demo, None)
    assert not young.exists() and example.exists()


def test_the_app_installs_the_safe_sweep_for_gradios_schedule() -> None:
    make_cache_sweep_safe()
    assert route_utils.delete_files_created_by_app is delete_old_uploads
