"""What the multi-node Ray tests share: tiny distinct images, a real cluster of 1-CPU nodes (`ray.cluster_utils`),
and `python -m model screen` run as a user runs it, its stderr read line by line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model import Classifier
from model.tasks.pipeline import classify_sources
from testbed.images import encode, noise_photo

ROOT = Path(__file__).resolve().parents[2]
#: Each cluster test stops within this many seconds, whatever Ray does.
RUN_SECONDS = 240
#: Short watchdog limits, so that a hang fails a test in a minute rather than in ten.
WATCHDOG = {"NSFW_SCREEN_STALL_WARN": "10", "NSFW_SCREEN_STALL_LIMIT": "60"}


def make_images(folder: Path, count: int) -> list[Path]:
    """`count` distinct 64x48 JPEGs (cheap to read and decode; the model sees each at its input size)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"photo-{index:03d}.jpg"
        path.write_bytes(encode(noise_photo((64, 48), seed=index), "JPEG", quality=85))
        paths.append(path)
    return paths


def environment(model: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "NSFW_MODEL": str(model),
        "HF_HUB_OFFLINE": "1",
        "RAY_USAGE_STATS_ENABLED": "0",
        **WATCHDOG,
        **extra,
    }


@dataclass
class Screen:
    """A finished `screen` run: its exit status, its stderr lines and its JSON summary (None when it failed)."""

    returncode: int
    lines: list[str] = field(default_factory=list)
    summary: dict[str, Any] | None = None

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)


def run_screen(
    args: list[str],
    env: dict[str, str],
    *,
    on_line: Callable[[str, subprocess.Popen[str]], None] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Screen:
    """`python -m model screen ARGS`, calling `on_line(line, process)` for each line of stderr as it comes."""
    process = subprocess.Popen(
        [sys.executable, "-m", "model", "screen", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,
    )
    lines: list[str] = []
    deadline = time.monotonic() + RUN_SECONDS
    try:
        assert process.stderr is not None and process.stdout is not None
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            if on_line is not None:
                on_line(line, process)
            if time.monotonic() > deadline:
                raise TimeoutError("screen ran past the test's limit:\n" + "\n".join(lines[-20:]))
        process.wait(timeout=30)
        out = process.stdout.read().splitlines()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    summary = json.loads(out[-1]) if process.returncode == 0 and out else None
    return Screen(process.returncode, lines, summary)


def cli_scores(classifier: Classifier, paths: list[Path]) -> dict[str, float]:
    """The NSFW score `python -m model IMAGE...` prints for each file, computed here by the same function
    (`classify_sources`) with the session's stand-in classifier (the command line itself: test_cli.py)."""
    results = classify_sources(classifier, ((str(path), str(path)) for path in paths))
    return {result.file: result.prediction.nsfw_score for result in results if result.prediction is not None}


def rows_done(line: str) -> int:
    """The files done in a progress line `screen: 12 / 40 files ...` (0 for any other line)."""
    words = line.split()
    if len(words) > 3 and words[0] == "screen:" and words[2] == "/":
        return int(words[1].replace(",", ""))
    return 0


@contextmanager
def cluster(*nodes: dict[str, Any]) -> Iterator[Any]:
    """A real Ray cluster on this machine: a head and one more node per item of `nodes` (`ray.cluster_utils`), each a
    separate raylet; this process does not join it (the CLI does). Shut down at the end, even after a failure."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    from ray.cluster_utils import Cluster

    store = 80 * 1024**2
    head, *others = nodes
    ray_cluster = Cluster(
        initialize_head=True,
        connect=False,
        head_node_args={**head, "include_dashboard": False, "object_store_memory": store},
    )
    try:
        for node in others:
            ray_cluster.add_node(**node, object_store_memory=store)
        ray_cluster.wait_for_nodes()
        yield ray_cluster
    finally:
        ray_cluster.shutdown()
