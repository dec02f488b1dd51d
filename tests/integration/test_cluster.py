"""`screen` on a real multi-node Ray (a head and a second node, 1 CPU each, `ray.cluster_utils`): the model runs on
both nodes with the plain CLI's scores, `--actors` beyond what fits is refused, and a node lost mid-run is survived.

Slow (about 2-3 minutes on 2 cores: each run starts Ray Data and loads the model on 1-CPU actors).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from model import Classifier
from model.errors import ConfigurationError
from model.evaluation.results import read_results
from model.jobs.ray_data import Node, plan_actors
from model.thresholds import DEFAULT_THRESHOLD, verdict
from tests.integration.ray_cluster import cli_scores, cluster, environment, make_images, rows_done, run_screen

ONE_CPU = {"num_cpus": 1}


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[Any]:
    with cluster(ONE_CPU, ONE_CPU) as ray_cluster:
        yield ray_cluster


def test_screen_on_two_one_cpu_nodes_runs_the_model_on_both_with_the_cli_scores(
    two_nodes: Any, standin_dir: Path, classifier: Classifier, tmp_path: Path
) -> None:
    paths = make_images(tmp_path / "images", 32)
    out = tmp_path / "results.parquet"
    run = run_screen(
        [str(tmp_path / "images"), "--out", str(out), "--address", two_nodes.address], environment(standin_dir)
    )

    assert run.returncode == 0, run.stderr
    assert run.summary is not None
    assert run.summary["actors"] == 2 and run.summary["nodes"] == 2  # one actor on each 1-CPU node, both worked
    assert run.summary["out"] == str(out) and f"in {out}:" in run.stderr  # the full path, printed
    assert "2 actor(s) on 2 node(s), each 0.5 CPU" in run.stderr
    rows = {row["file"]: row for row in read_results(out).to_pylist()}
    assert len(rows) == 32
    for file, score in cli_scores(classifier, paths).items():
        assert rows[file]["nsfw_score"] == pytest.approx(score, abs=1e-6)
        assert rows[file]["label"] == verdict(score, DEFAULT_THRESHOLD)


def test_more_actors_than_the_nodes_hold_are_refused_with_the_reason(
    two_nodes: Any, standin_dir: Path, tmp_path: Path
) -> None:
    make_images(tmp_path / "images", 2)
    run = run_screen(
        [
            str(tmp_path / "images"),
            "--out",
            str(tmp_path / "r.parquet"),
            "--address",
            two_nodes.address,
            "--actors",
            "3",
        ],
        environment(standin_dir),
    )
    assert run.returncode == 2
    assert run.lines[-1].startswith("error: --actors 3 does not fit: 2 node(s) with 1, 1 CPU(s) hold at most 2")
    assert "Traceback" not in run.stderr


def test_a_node_lost_mid_run_is_survived_and_every_file_gets_one_row(
    two_nodes: Any, standin_dir: Path, tmp_path: Path
) -> None:
    # Last in this module: the cluster keeps one node after it.
    make_images(tmp_path / "images", 48)
    out = tmp_path / "results.parquet"
    worker = next(iter(two_nodes.worker_nodes))
    removed: list[int] = []

    def remove_after_first_rows(line: str, _process: subprocess.Popen[str]) -> None:
        if not removed and rows_done(line) > 0:
            two_nodes.remove_node(worker, allow_graceful=False)
            removed.append(rows_done(line))

    args = [str(tmp_path / "images"), "--out", str(out), "--address", two_nodes.address]
    run = run_screen(args, environment(standin_dir), on_line=remove_after_first_rows)

    assert removed and removed[0] < 48, run.stderr  # the node went while files were left
    if run.returncode != 0:
        # Ray could not go on: one line saying what it waited for, the rows done checkpointed; --resume finishes.
        assert run.lines[-1].startswith("error: "), run.stderr
        assert any("checkpointed" in line for line in run.lines)
        run = run_screen([*args, "--resume"], environment(standin_dir))
        assert run.returncode == 0, run.stderr
    assert run.summary is not None and run.summary["files"] == 48
    files = read_results(out).column("file").to_pylist()
    assert len(files) == len(set(files)) == 48  # every file once
    assert "Traceback" not in run.stderr


def test_plans_leave_the_reads_room_on_one_cpu_two_cpus_and_one_cpu_nodes() -> None:
    one = plan_actors([Node("a", 1.0)])
    assert (one.actors, one.cpus) == (1, 0.5)  # half the CPU: 0.25-CPU read tasks still fit beside it
    two = plan_actors([Node("a", 2.0)])
    assert (two.actors, two.cpus, two.threads) == (1, 1.0, 2)
    pair = plan_actors([Node("head", 1.0), Node("worker", 1.0)])
    assert (pair.actors, pair.cpus, pair.nodes) == (2, 0.5, 2)
    assert sorted(pair.placement) == ["head", "worker"]  # one actor on each node
    mixed = plan_actors([Node("big", 8.0), Node("small", 1.0)])
    assert mixed.actors == 5 and mixed.cpus == 0.5 and mixed.placement[:2] == ("big", "small")
    with pytest.raises(ConfigurationError, match=r"No node of the Ray cluster can hold a model actor"):
        plan_actors([Node("tiny", 0.5)])
    with pytest.raises(ConfigurationError, match=r"--actors 0 is not a number of actors"):
        plan_actors([Node("a", 2.0)], actors=0)
