"""`screen` on a local Ray: one row per file with `python -m model`'s scores, errors per file, resumable output."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from model import ConfigurationError, Settings
from model.errors import ManifestError, SourceError
from model.evaluation.reports import ModelRecord
from model.evaluation.results import SCHEMA, ResultsWriter, read_results, rows_table
from model.inputs.sources import collect_sources
from model.jobs.commands import ScreenOptions, _parts_folder, _write_part, run_screen
from model.jobs.ray_data import Plan, _quiet_ray_logs, plan_actors
from model.runtime.classifier import Prediction
from model.tasks.pipeline import FileResult
from testbed.images import EXAMPLES, drawing, encode
from testbed.zips import build_zip, symlink_zip

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "model", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env=os.environ
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small image store: labelled folders, hostile files, a zip with hostile members and a manifest."""
    root = tmp_path_factory.mktemp("store")
    photos = root / "photos"
    (photos / "NSFW").mkdir(parents=True)
    (photos / "sfw" / "deeper").mkdir(parents=True)
    shutil.copy(EXAMPLES / "rocket.jpg", photos / "NSFW" / "rocket.jpg")
    shutil.copy(EXAMPLES / "astronaut.png", photos / "sfw" / "astronaut.png")
    shutil.copy(EXAMPLES / "chelsea.png", photos / "sfw" / "deeper" / "chelsea.png")
    (photos / "sfw" / "fake.jpg").write_text("not an image")
    (photos / "empty.png").write_bytes(b"")
    (photos / "truncated.png").write_bytes((EXAMPLES / "coffee.png").read_bytes()[:5000])
    (photos / "Thumbs.db").write_bytes(b"system file, left out")
    members = {"set/nsfw/rocket.jpg": (EXAMPLES / "rocket.jpg").read_bytes(), "../escape.png": encode(drawing())}
    (root / "set.zip").write_bytes(build_zip(members))
    (root / "links.zip").write_bytes(symlink_zip("link.png", "/etc/passwd", {"sfw/drawing.png": encode(drawing())}))
    (root / "drawing.png").write_bytes(encode(drawing()))
    (root / "list.csv").write_text("path,label\ndrawing.png,sfw\nmissing.jpg,nsfw\nphotos/sfw/astronaut.png,sfw\n")
    return root


def test_screen_gives_every_file_one_row_with_the_cli_scores_and_its_error(
    local_ray: None, settings: Settings, standin_dir: Path, store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "results.parquet"
    progress = io.StringIO()
    sources = [str(store / "photos"), str(store / "set.zip"), str(store / "links.zip"), str(store / "list.csv")]
    summary = run_screen(ScreenOptions(sources=sources, out=out), settings, stream=progress)

    table = pq.read_table(out)
    assert table.schema.equals(SCHEMA)
    rows = {row["file"]: row for row in table.to_pylist()}
    photos, zipped, links = store / "photos", store / "set.zip", store / "links.zip"
    expected = {
        f"{photos}/NSFW/rocket.jpg",
        f"{photos}/sfw/astronaut.png",
        f"{photos}/sfw/deeper/chelsea.png",
        f"{photos}/sfw/fake.jpg",
        f"{photos}/empty.png",
        f"{photos}/truncated.png",
        f"{zipped}/set/nsfw/rocket.jpg",
        f"{zipped}/../escape.png",
        f"{links}/link.png",
        f"{links}/sfw/drawing.png",
        f"{store}/drawing.png",
        f"{store}/missing.jpg",
    }
    assert set(rows) == expected  # one row per file: Thumbs.db left out, astronaut listed twice counted once
    assert summary["files"] == len(expected) and summary["errors"] == 6
    for name, reason in [
        ("photos/sfw/fake.jpg", "text file"),
        ("photos/empty.png", "empty"),
        ("photos/truncated.png", ""),
        ("set.zip/../escape.png", ".."),
        ("links.zip/link.png", "link"),
        ("missing.jpg", "could not be read"),
    ]:
        row = rows[f"{store}/{name}"]
        assert row["nsfw_score"] is None and row["label"] is None
        assert reason in row["error"].lower(), row["error"]

    loose = [name for name in expected if not name.endswith((".zip", "fake.jpg", "empty.png", "truncated.png"))]
    loose = [name for name in loose if ".zip/" not in name and "missing" not in name]
    cli = run_cli("--model", str(standin_dir), *loose)
    assert cli.returncode == 0, cli.stderr
    for line in map(json.loads, cli.stdout.splitlines()):
        assert rows[line["file"]]["nsfw_score"] == pytest.approx(line["nsfw_score"], abs=1e-6)
        assert rows[line["file"]]["label"] == line["label"]
        assert dict(rows[line["file"]]["probabilities"]) == pytest.approx(line["probabilities"], abs=1e-6)
    zipped_rocket = rows[f"{zipped}/set/nsfw/rocket.jpg"]
    assert zipped_rocket["nsfw_score"] == pytest.approx(rows[f"{photos}/NSFW/rocket.jpg"]["nsfw_score"], abs=1e-6)

    truths = {name: row["true_label"] for name, row in rows.items()}
    assert truths[f"{photos}/NSFW/rocket.jpg"] == "NSFW"  # a folder named nsfw, any case
    assert truths[f"{photos}/sfw/deeper/chelsea.png"] == "SFW"  # at any depth
    assert truths[f"{zipped}/set/nsfw/rocket.jpg"] == "NSFW"  # inside an archive too
    assert truths[f"{store}/drawing.png"] == "SFW"  # from the manifest's label column
    assert truths[f"{photos}/truncated.png"] is None
    assert {row["model_id"] for row in rows.values()} == {standin_dir.name}
    assert "images/s" in progress.getvalue()
    # The total counts the zips' members, found in their central directories before any is read.
    assert "screen: 12 files to classify (8 file(s) and 2 archive(s))" in progress.getvalue()


def test_resume_classifies_only_the_files_not_yet_in_the_output_or_its_checkpoints(
    local_ray: None, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("astronaut.png", "chelsea.png", "coffee.png"):
        shutil.copy(EXAMPLES / name, folder / name)
    out = tmp_path / "results.csv"
    first = run_screen(ScreenOptions(sources=[str(folder)], out=out), settings, stream=io.StringIO())
    assert first["classified"] == 3

    # A score no model gives marks the rows that must be kept as they are rather than classified again.
    table = read_results(out)
    marked = table.set_column(2, "nsfw_score", [[0.123456] * table.num_rows])
    with ResultsWriter(out) as writer:
        writer.write(marked)
        writer.commit()
    shutil.copy(EXAMPLES / "rocket.jpg", folder / "rocket.jpg")
    shutil.copy(EXAMPLES / "meme.png", folder / "meme.png")
    # An interrupted run had already checkpointed the rocket when it stopped.
    prediction = Prediction(probabilities={"NSFW": 0.654321, "SFW": 0.345679}, nsfw_score=0.654321)
    part = rows_table([FileResult(str(folder / "rocket.jpg"), prediction)], 0.5, ModelRecord("standin", None))
    _write_part(_parts_folder(out), [part])

    second = run_screen(ScreenOptions(sources=[str(folder)], out=out, resume=True), settings, stream=io.StringIO())

    assert second["classified"] == 1  # only meme.png went through the model
    assert second["kept_from_previous_output"] == 4 and second["files"] == 5
    rows = {row["file"]: row for row in read_results(out).to_pylist()}
    assert {rows[str(folder / name)]["nsfw_score"] for name in ("astronaut.png", "chelsea.png", "coffee.png")} == {
        0.123456
    }
    assert rows[str(folder / "rocket.jpg")]["nsfw_score"] == 0.654321
    assert 0 <= rows[str(folder / "meme.png")]["nsfw_score"] <= 1
    assert not _parts_folder(out).exists()


def test_quieting_rays_console_leaves_a_host_programs_log_handlers_alone() -> None:
    # Ray Data hangs the root logger's handlers (a program's own, pytest's) on its "ray.data" logger as well.
    ray_data_logger = logging.getLogger("ray.data")
    ours = logging.StreamHandler(io.StringIO())
    ray_data_logger.addHandler(ours)
    try:
        _quiet_ray_logs()
        assert ours.level == logging.NOTSET
    finally:
        ray_data_logger.removeHandler(ours)


def test_sources_that_do_not_exist_or_outputs_we_cannot_write_are_refused_with_a_message(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        collect_sources([str(tmp_path / "nowhere")], max_file_bytes=1024)
    with pytest.raises(SourceError, match="No file matches"):
        collect_sources([str(tmp_path / "*.jpg")], max_file_bytes=1024)
    manifest = tmp_path / "list.csv"
    manifest.write_text("path,label\na.jpg,maybe\n")
    with pytest.raises(ManifestError, match=r"line 2: label 'maybe' is not one of nsfw, sfw"):
        collect_sources([str(manifest)], max_file_bytes=1024)
    manifest.write_text("name\na.jpg\n")
    with pytest.raises(ManifestError, match="has no file column"):
        collect_sources([str(manifest)], max_file_bytes=1024)
    with pytest.raises(ConfigurationError, match=r"use a \.parquet \(default\), \.csv or \.jsonl"):
        run_screen(ScreenOptions(sources=[str(EXAMPLES)], out=tmp_path / "out.xlsx"), Settings())


def test_screen_command_says_what_is_wrong_without_a_traceback(tmp_path: Path) -> None:
    result = run_cli("screen", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out.parquet"))
    assert result.returncode == 1
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.parquet").exists()


def test_files_over_the_size_limit_get_an_error_row_without_being_read(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(bytes(3 * 1024 * 1024))
    sources = collect_sources([str(tmp_path)], max_file_bytes=2 * 1024 * 1024)
    assert sources.files == []
    assert [(item.file, item.reason) for item in sources.refused] == [
        (str(big), "File too large: 3 MB; the limit is 2 MB.")
    ]


def test_a_folder_uri_is_listed_like_a_local_folder_with_labels_and_uri_names(store: Path) -> None:
    sources = collect_sources([f"file://{store}/photos"], max_file_bytes=50 * 1024 * 1024)
    assert sources.files == [
        f"file://{store}/photos/NSFW/rocket.jpg",
        f"file://{store}/photos/empty.png",
        f"file://{store}/photos/sfw/astronaut.png",
        f"file://{store}/photos/sfw/deeper/chelsea.png",
        f"file://{store}/photos/sfw/fake.jpg",
        f"file://{store}/photos/truncated.png",
    ]  # Thumbs.db left out, as in a local folder
    assert sources.truths[f"file://{store}/photos/NSFW/rocket.jpg"] == 1
    assert sources.truths[f"file://{store}/photos/sfw/deeper/chelsea.png"] == 0
    with pytest.raises(SourceError, match="does not exist"):
        collect_sources([f"file://{store}/nowhere"], max_file_bytes=1024)


def test_actors_take_a_gpu_each_when_there_are_gpus_and_never_every_cpu() -> None:
    assert plan_actors({"CPU": 2.0}) == Plan(actors=1, cpus=1, gpus=0, threads=2)  # a read task keeps a CPU
    assert plan_actors({"CPU": 16.0}).actors * plan_actors({"CPU": 16.0}).cpus < 16
    assert plan_actors({"CPU": 32.0, "GPU": 4.0}) == Plan(
        actors=4, cpus=1, gpus=1, threads=4, separate_decode=True, nodes=1
    )
    one_cpu = plan_actors({"CPU": 1.0})
    assert one_cpu.actors == 1 and one_cpu.cpus < 1  # one actor on part of the CPU, beside the reads
    with pytest.raises(ConfigurationError, match=r"--actors 3 does not fit: 1 node\(s\) with 1 CPU"):
        plan_actors({"CPU": 1.0}, actors=3)
