"""`screen` where a team first meets trouble: a 1-CPU machine makes progress, SIGTERM checkpoints and `--resume`
finishes, an unreachable cluster and a relative `--out` in a Ray job are one line each. About 60 s on 2 cores."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from model.evaluation.results import read_results
from tests.integration.ray_cluster import environment, make_images, rows_done, run_screen


def _one_cpu() -> None:
    os.sched_setaffinity(0, {0})  # what `taskset -c 0` does: Ray then sizes its local cluster to 1 CPU


def test_on_one_cpu_sigterm_checkpoints_and_resume_finishes_without_classifying_twice(
    standin_dir: Path, tmp_path: Path
) -> None:
    make_images(tmp_path / "images", 40)
    out = tmp_path / "results.parquet"
    sent: list[int] = []

    def terminate_after_first_rows(line: str, process: subprocess.Popen[str]) -> None:
        if not sent and 0 < rows_done(line) < 40:
            process.send_signal(signal.SIGTERM)  # what Kubernetes, `ray job stop` and schedulers send
            sent.append(rows_done(line))
        elif sent and line.startswith("SIGTERM;"):
            # A second one while Ray shuts down (a scheduler that asks again) still ends as the first did.
            process.send_signal(signal.SIGTERM)

    args = [str(tmp_path / "images"), "--out", str(out)]
    stopped = run_screen(args, environment(standin_dir), on_line=terminate_after_first_rows, preexec_fn=_one_cpu)

    assert "on 1 node(s), 1 CPU(s): 1 actor(s) on 1 node(s), each 0.5 CPU" in stopped.stderr  # rows do arrive
    assert sent, stopped.stderr
    assert stopped.returncode == 143, stopped.stderr
    assert stopped.lines[-1].startswith("error: stopped by SIGTERM") and "--resume" in stopped.lines[-1]
    assert not out.exists()
    kept = sum(read_results(part).num_rows for part in (tmp_path / ".results.parquet.parts").glob("*.parquet"))
    assert kept >= sent[0]

    resumed = run_screen([*args, "--resume"], environment(standin_dir), preexec_fn=_one_cpu)

    assert resumed.returncode == 0, resumed.stderr
    assert resumed.summary is not None
    assert resumed.summary["kept_from_previous_output"] == kept and resumed.summary["classified"] == 40 - kept
    files = read_results(out).column("file").to_pylist()
    assert len(files) == len(set(files)) == 40


def test_an_unreachable_cluster_is_one_line_within_seconds(standin_dir: Path, tmp_path: Path) -> None:
    make_images(tmp_path / "images", 1)
    started = time.monotonic()
    run = run_screen(
        [str(tmp_path / "images"), "--out", str(tmp_path / "r.parquet")],
        environment(standin_dir, RAY_ADDRESS="127.0.0.1:9"),  # nothing listens on the discard port
    )
    assert time.monotonic() - started < 40
    assert run.returncode == 1
    assert run.lines == [run.lines[0]] and run.lines[0].startswith("error: no Ray cluster answers at 127.0.0.1:9 (")
    assert "`ray status`" in run.lines[0]


def test_a_relative_out_inside_a_ray_job_is_refused_before_any_work(standin_dir: Path, tmp_path: Path) -> None:
    make_images(tmp_path / "images", 1)
    # What Ray sets for a `ray job submit` entrypoint (tests/integration/test_ray_job.py submits a real one).
    job = json.dumps({"runtime_env": {}, "metadata": {"job_submission_id": "raysubmit_test"}})
    run = run_screen(
        [str(tmp_path / "images"), "--out", "results.parquet"],
        environment(standin_dir, RAY_JOB_CONFIG_JSON_ENV_VAR=job),
    )
    assert run.returncode == 2
    assert run.lines == [
        "error: --out results.parquet is a relative path, and this runs as Ray job raysubmit_test, whose working "
        "directory Ray deletes when the job ends. Give --out a path on shared storage (or on the head node), e.g. "
        "--out /mnt/shared/results.parquet."
    ]
