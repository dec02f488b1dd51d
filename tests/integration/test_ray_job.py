"""docs/SCALING.md's cluster commands as written: a head started with the dashboard (`ray start --head`), token
authentication on, and `ray job submit ... -- python -m model screen` with the stand-in model; a relative `--out`
in a job and a refused token are one line each. Slow: about 90 s on 2 cores (Ray's start, the job's pip
environment, one model load)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from model.evaluation.results import read_results
from testbed.server import free_port
from tests.integration.ray_cluster import ROOT, environment, make_images, run_screen

RAY = str(Path(sys.executable).with_name("ray"))


@dataclass(frozen=True)
class Head:
    gcs: str
    dashboard: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def head() -> Iterator[Head]:
    """A local head with the dashboard, 2 CPUs and token authentication (the token in RAY_AUTH_TOKEN), started as
    SCALING.md says (`ray start --head`, which returns once the job agent is up) in a temporary folder of its own, and
    stopped at the end, even when a test fails, by killing only the processes that carry its token (never `ray stop`,
    which would stop every Ray on the machine, the test session's own included)."""
    if not Path(RAY).is_file():
        pytest.fail(f"{RAY} is missing: install the cluster requirements (pip install -r requirements-ray.txt)")
    port, dashboard = free_port(), free_port()
    # Short: Ray puts unix sockets under it, and their paths may not exceed 107 characters.
    folder = tempfile.mkdtemp(prefix="rj-", dir="/tmp")
    env = {
        **os.environ,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(16),
        # `--temp-dir` alone leaves the dashboard's agents in /tmp/ray, and with them the job's pip environment
        # (about 7 GB, a CUDA build of torch): a few runs would fill the disk.
        "RAY_TMPDIR": folder,
    }
    # Ports of its own for every server a head starts: a fixed default still held by another Ray on the machine
    # (the session's local Ray, a cluster test) leaves the job agent down ("No available agent to submit job").
    ports = {
        "--ray-client-server-port": free_port(),
        "--dashboard-agent-listen-port": free_port(),
        "--dashboard-agent-grpc-port": free_port(),
        "--runtime-env-agent-port": free_port(),
        "--metrics-export-port": free_port(),
    }
    start = [
        RAY, "start", "--head", "--include-dashboard=true", f"--port={port}", f"--dashboard-port={dashboard}",
        "--dashboard-host=127.0.0.1", "--num-cpus", "2", "--disable-usage-stats", f"--temp-dir={folder}",
        *(f"{flag}={number}" for flag, number in ports.items()),
    ]  # fmt: skip
    try:
        started = subprocess.run(start, env=env, capture_output=True, text=True, timeout=180)
        assert started.returncode == 0, started.stdout + started.stderr
        yield Head(gcs=f"127.0.0.1:{port}", dashboard=f"http://127.0.0.1:{dashboard}", env=env)
    finally:
        _end_processes_of(env["RAY_AUTH_TOKEN"])
        shutil.rmtree(folder, ignore_errors=True)


def _end_processes_of(token: str) -> None:
    """SIGKILL every process started with this head's token in its environment: this head's Ray processes only (Ray
    renames some of them, so their command lines cannot tell), a throwaway head whose folder is removed next, so
    nothing needs a graceful stop. Swept until none is left, since a raylet that is still up may start an agent
    again meanwhile."""
    for _ in range(5):
        ours = []
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if process.environ().get("RAY_AUTH_TOKEN") == token and process.pid != os.getpid():
                    ours.append(process)
        if not ours:
            return
        for process in ours:
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(ours, timeout=10)


def _submit(head: Head, model: Path, *screen: str) -> subprocess.CompletedProcess[str]:
    """SCALING.md's `ray job submit`, with the stand-in as NSFW_MODEL."""
    runtime_env = {"pip": "requirements.txt", "env_vars": {"NSFW_MODEL": str(model), "HF_HUB_DISABLE_TELEMETRY": "1"}}
    command = [
        RAY, "job", "submit", "--address", head.dashboard, "--working-dir", ".",
        "--runtime-env-json", json.dumps(runtime_env), "--", "python", "-m", "model", "screen", *screen,
    ]  # fmt: skip
    deadline = time.monotonic() + 120
    while True:
        submitted = subprocess.run(command, cwd=ROOT, env=head.env, capture_output=True, text=True, timeout=400)
        # The dashboard answers before its job agent is up; Ray's own message says to try again.
        if "No available agent to submit job" not in submitted.stderr or time.monotonic() > deadline:
            return submitted
        time.sleep(2)


def test_scaling_ray_job_submit_command_screens_on_the_cluster(head: Head, standin_dir: Path, tmp_path: Path) -> None:
    make_images(tmp_path / "images", 12)
    out = tmp_path / "shared" / "results.parquet"
    job = _submit(head, standin_dir, str(tmp_path / "images"), "--out", str(out))

    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    summary = json.loads(next(line for line in job.stdout.splitlines() if line.startswith('{"files"')))
    assert summary["files"] == 12 and summary["out"] == str(out)
    table = read_results(out)
    assert table.num_rows == 12 and table.column("nsfw_score").null_count == 0


def test_a_relative_out_in_a_submitted_job_is_refused_with_what_to_give(head: Head, standin_dir: Path) -> None:
    job = _submit(head, standin_dir, "examples", "--out", "results.parquet")

    assert job.returncode != 0
    assert "error: --out results.parquet is a relative path, and this runs as Ray job raysubmit_" in job.stdout
    assert "Give --out a path on shared storage" in job.stdout and "Traceback" not in job.stdout


def test_a_refused_token_is_one_line_saying_what_to_set(head: Head, standin_dir: Path, tmp_path: Path) -> None:
    make_images(tmp_path / "images", 1)
    wrong = environment(standin_dir, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(16))
    run = run_screen([str(tmp_path / "images"), "--out", str(tmp_path / "r.parquet"), "--address", head.gcs], wrong)

    assert run.returncode == 1
    assert len(run.lines) == 1 and run.lines[0].startswith(f"error: the Ray cluster at {head.gcs} refused our")
    assert "RAY_AUTH_MODE=token" in run.lines[0] and "ray get-auth-token" in run.lines[0]
