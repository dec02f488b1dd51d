"""Atomic writes: a reader sees the old file or the new one, never half of one, and nothing is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.files import atomic_file, staging_folder, write_atomically


def test_a_write_replaces_the_file_and_leaves_no_temporary_behind(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text("old")
    write_atomically(path, '{"n": 4}')
    assert path.read_text() == '{"n": 4}'
    assert [item.name for item in tmp_path.iterdir()] == ["report.json"]


def test_a_failed_write_leaves_the_old_file_intact_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "results.parquet"
    path.write_bytes(b"old rows")
    with pytest.raises(RuntimeError, match="disk full"), atomic_file(path) as temporary:
        temporary.write_bytes(b"half of the new ro")
        raise RuntimeError("disk full")
    assert path.read_bytes() == b"old rows"
    assert [item.name for item in tmp_path.iterdir()] == ["results.parquet"]


def test_a_staging_folder_is_removed_but_what_was_moved_out_stays(tmp_path: Path) -> None:
    with staging_folder(tmp_path, ".export-") as staging:
        (staging / "model.onnx").write_bytes(b"graph")
        (staging / "model.onnx").rename(tmp_path / "model.onnx")
        (staging / "scratch").write_bytes(b"left over")
    assert [item.name for item in tmp_path.iterdir()] == ["model.onnx"]
