"""The separate decode stage on a real Ray with a pretend GPU (`num_gpus=1` on a 1-CPU node; the actor runs on its
CPU): the plan gives the GPU node the actor and decodes in CPU tasks, uint8 pixels flow to it, and the scores are
the plain CLI's. About 40 s on 2 cores."""

from __future__ import annotations

from pathlib import Path

import pytest

from model import Classifier
from model.evaluation.results import read_results
from model.jobs.ray_data import plan_actors
from testbed.images import EXAMPLES
from tests.integration.ray_cluster import cli_scores, cluster, environment, make_images, run_screen


def test_a_gpu_cluster_decodes_in_cpu_tasks_and_scores_like_the_cli(
    standin_dir: Path, classifier: Classifier, tmp_path: Path
) -> None:
    paths = make_images(tmp_path / "images", 16)
    broken = tmp_path / "images" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not a jpeg")
    photo = tmp_path / "images" / "astronaut.png"  # a real photo, resized and cropped by the decode tasks
    photo.write_bytes((EXAMPLES / "astronaut.png").read_bytes())
    out = tmp_path / "results.parquet"
    with cluster({"num_cpus": 1}, {"num_cpus": 1, "num_gpus": 1}) as ray_cluster:
        run = run_screen(
            [str(tmp_path / "images"), "--out", str(out), "--address", ray_cluster.address], environment(standin_dir)
        )

    assert run.returncode == 0, run.stderr
    assert "1 actor(s) on 1 node(s), each 0.5 CPU + 1 GPU" in run.stderr
    assert "files decoded in separate CPU tasks" in run.stderr
    assert run.summary is not None and run.summary["nodes"] == 1 and run.summary["errors"] == 1
    rows = {row["file"]: row for row in read_results(out).to_pylist()}
    assert rows[str(broken)]["nsfw_score"] is None and rows[str(broken)]["error"]
    assert rows[str(photo)]["width"] == 512 and rows[str(photo)]["format"] == "PNG"
    for file, score in cli_scores(classifier, [*paths, photo]).items():
        assert rows[file]["nsfw_score"] == pytest.approx(score, abs=1e-6)


def test_the_decode_stage_is_chosen_by_the_cluster_and_the_setting() -> None:
    assert plan_actors({"CPU": 8.0, "GPU": 1.0}).separate_decode  # a GPU waits on no actor's few CPU threads
    assert not plan_actors({"CPU": 8.0}).separate_decode  # on CPUs the fused path measured faster (SCALING.md)
    assert plan_actors({"CPU": 8.0}, decode_stage="separate").separate_decode
    assert not plan_actors({"CPU": 8.0, "GPU": 1.0}, decode_stage="fused").separate_decode
