"""`python -m benchmarks.load --short` runs every phase end to end and stops by itself: the load test cannot rot. No
timing is asserted; the app must not crash or answer 5xx, and the report must have every field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PHASE_FIELDS = {"requests", "by_kind", "errors", "error_examples", "wall_s", "images_per_s", "latency_ms"}
LATENCY_FIELDS = {"p50", "p95", "p99", "mean", "max", "count"}
TARGETS = {
    "no_crash",
    "no_5xx",
    "no_errors",
    "spike_only_busy_answers",
    "spike_recovery_within_30_s",
    "p95_at_most_2_s_with_4_clients",
    "memory_flat_in_soak",
    "temp_folder_flat_in_soak",
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("load")
    out = folder / "load.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.load", "--short", "--work", str(folder / "work"), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "targets:" in completed.stdout
    return json.loads(out.read_text(encoding="utf-8"))


def test_the_app_neither_crashes_nor_answers_5xx_nor_errs(report: dict) -> None:
    assert report["health"]["alive"] and report["health"]["model_status"] == "ready"
    assert report["health"]["unexpected_errors_logged"] == 0
    assert report["targets"]["no_crash"] and report["targets"]["no_5xx"]
    assert report["targets"]["no_errors"], [phase["error_examples"] for phase in report["steps"]]


def test_every_phase_reports_errors_by_type_latency_percentiles_and_images_per_second(report: dict) -> None:
    assert [step["clients"] for step in report["steps"]] == report["meta"]["plan"]["steps"]
    phases = [*report["steps"], report["spike"], report["evaluation"]["clients"], report["soak"]]
    for phase in phases:
        assert set(phase) >= PHASE_FIELDS
        assert phase["requests"] > 0 and sum(phase["by_kind"].values()) == phase["requests"]
        assert set(phase["latency_ms"]) == LATENCY_FIELDS
    assert report["spike"]["recovery_s"] is not None
    assert report["evaluation"]["evaluation"]["kind"] == "ok"
    assert report["evaluation"]["evaluation"]["n"] == report["meta"]["plan"]["evaluation_images"]


def test_the_soak_sends_hostile_files_and_tracks_the_servers_resources(report: dict) -> None:
    soak = report["soak"]
    assert soak["hostile"].get("refused_as_expected", 0) >= 1, soak["hostile"]
    for resource in ("memory_mb", "open_files"):
        assert set(soak[resource]) == {"after_warmup", "end", "peak", "growth"}
    # The upload folder is a sawtooth (swept every minute): judged by the peaks of the soak's two halves.
    temp = soak["temp_mb"]
    assert {"peak_first_half", "peak_second_half", "growth_end_vs_warmup", "warmup_s"} <= set(temp)
    assert temp["peak"] >= max(temp["peak_first_half"], temp["peak_second_half"]) > 0
    samples = report["resources"]
    assert len(samples) >= 3
    assert {"t_s", "phase", "rss_mb", "open_files", "temp_mb", "queue"} <= set(samples[0])
    assert samples[-1]["rss_mb"] > 0 and samples[-1]["open_files"] > 0


def test_the_report_says_where_and_how_it_ran_and_checks_every_target(report: dict) -> None:
    meta = report["meta"]
    assert len(meta["load_average_start"]) == len(meta["load_average_end"]) == 3
    assert meta["cpus"] >= 1 and meta["jpeg_mb"]
    assert set(report["targets"]) == TARGETS
