"""`python -m benchmarks.run` runs end to end on tiny settings, so the benchmark cannot rot (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.report import TARGETS, format_markdown

ROOT = Path(__file__).resolve().parents[2]
ROLES = {"small", "camera", "large"}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("bench")
    out = folder / "results.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--tiny", "--experiments", "--work", str(folder), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=450,  # about 100 s on 2 idle cores; a busy CI machine can take three times that
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Threshold change:" in completed.stdout
    return json.loads(out.read_text(encoding="utf-8"))


def test_the_results_have_every_section(results: dict) -> None:
    assert {"meta", "images", "floor", "latency_ms", "score_checks", "api", "experiments", "ratios", "targets"} <= set(
        results
    )
    assert set(results["images"]) == ROLES
    assert results["meta"]["profile"] == "tiny"
    assert len(results["meta"]["load_average_end"]) == 3


def test_the_floor_counts_the_vit_tiny_flops(results: dict) -> None:
    flops = results["floor"]["flops"]
    assert flops["linear_gflop"] == pytest.approx(6.30, abs=0.01)
    assert flops["attention_gflop"] == pytest.approx(3.07, abs=0.01)
    assert flops["tokens"] == 577
    floor = results["floor"]["floor"]
    assert floor["gemm_gflops"] > 0
    assert floor["ms_per_image"] * floor["images_per_s"] == pytest.approx(1000, rel=0.01)


def test_every_pipeline_is_timed_on_every_image_and_scores_agree(results: dict) -> None:
    latency = results["latency_ms"]
    pipelines = ("card", "ours", "api", "api_resubmit", "api_default", "api_http", "api_http_resubmit", "api_rest")
    for pipeline in pipelines:
        assert set(latency[pipeline]) == ROLES
        assert all(stats["median_ms"] > 0 and stats["count"] == 1 for stats in latency[pipeline].values())
    assert latency["bare_forward"]["median_ms"] > 0
    for check in results["score_checks"].values():
        assert set(check["nsfw_score"]) == {"card", "ours", "api", "api_default", "api_http", "api_rest"}
        assert check["largest_difference_vs_card"] <= 1e-4


def test_the_api_section_has_throughput_threshold_and_cold_start(results: dict) -> None:
    api = results["api"]
    assert [level["clients"] for level in api["throughput"]] == [1, 2]
    assert [level["clients"] for level in api["throughput_gradio_client"]] == [1]
    assert {level["client"] for level in api["throughput"]} == {"plain HTTP"}
    assert {level["client"] for level in api["throughput_gradio_client"]} == {"gradio_client"}
    for level in api["throughput"] + api["throughput_gradio_client"] + api["throughput_rest"]:
        assert level["errors"] == 0
        assert level["completed"] == level["sent"] > 0
        # Each level runs twice in the tiny profile and reports its median round, every round beside it.
        assert len(level["rounds_images_per_s"]) == 2 and level["images_per_s"] == min(level["rounds_images_per_s"])
        assert level["peak_rss_mb"] > 100
        assert level["app_cpu_ms_per_image"] > 0
    # The largest level up to 8 clients (2 in the tiny profile), plain HTTP and /v1, is paired round by round with the
    # engine's bare forward pass measured just before it, while the app was paused; its ratio is their median.
    for level in (api["throughput"][-1], api["throughput_rest"][0]):
        assert len(level["engine_images_per_s_rounds"]) == len(level["vs_engine_rounds"]) == 2
        assert all(rate > 0 for rate in level["engine_images_per_s_rounds"])
        assert min(level["vs_engine_rounds"]) <= level["vs_engine"] <= max(level["vs_engine_rounds"])
    assert all("vs_engine" not in level for level in api["throughput"][:-1] + api["throughput_gradio_client"])
    # /v1 requests never enter Gradio's queue, which is therefore not polled (over HTTP, on the measured cores).
    assert api["throughput_rest"][0]["max_queue_size"] is None
    assert all(level["max_queue_size"] >= 0 for level in api["throughput"] + api["throughput_gradio_client"])
    change = api["threshold_change"]
    assert change["model_calls"] == 0
    assert change["responses_without_new_threshold"] == 0
    assert change["server_ms"]["count"] == 2
    cold = api["cold_start"]
    assert cold["runs"][0]["model"] == "Marqo/nsfw-image-detection-384"
    assert cold["ready_s"] >= cold["listening_s"] > 0


def test_every_target_is_listed_with_its_limit(results: dict) -> None:
    assert [row["key"] for row in results["targets"]] == [key for _, key, _, _ in TARGETS]
    measured = {row["key"]: row for row in results["targets"]}
    assert measured["threshold_model_calls"]["met"] is True
    assert measured["clients_8_vs_engine"]["met"] is None  # the tiny profile runs 1 and 2 clients only
    roofline = measured["engine_vs_roofline"]
    assert measured["app_vs_peer"]["value"] > 0
    # A ratio at most 1, or (when an engine beats the floor) no ratio and the report saying the floor is wrong.
    assert 0 < roofline["value"] <= 1 if roofline["value"] is not None else roofline["note"].startswith("the floor is")
    assert measured["api_rest_small_vs_ours"]["value"] > 0 and measured["api_rest_camera_vs_card"]["value"] > 0
    assert measured["rest_8_vs_engine"]["value"] is None  # the tiny profile's paired level has 2 clients, not 8
    assert measured["first_start_s"]["value"] > 0  # the first start of the revision, with the engine's export


def test_the_engines_and_the_peer_are_measured_in_the_same_run(results: dict) -> None:
    engines = results["engines"]
    assert {"torch", "onnxruntime", "openvino"} <= set(engines["engines"]) and engines["in_use"] == "openvino"
    for name in ("onnxruntime", "openvino"):
        assert engines["engines"][name]["max_probability_difference_vs_torch"] <= 1e-5
    peer = results["api"]["peer"]
    assert peer["errors"] == {"app": 0, "peer": 0} and peer["app"]["median_images_per_s"] > 0
    assert [run["engine"] for run in results["api"]["cold_start"]["runs"]] == ["openvino", "openvino"]
    assert results["ratios"]["gradio_client_1_vs_floor"] > 0
    assert results["ratios"]["api_camera_vs_card"] > 0


def test_the_experiments_report_scores_within_the_fidelity_bound(results: dict) -> None:
    experiments = results["experiments"]
    assert {"threads", "batch_sizes", "forward_variants", "decoding", "concurrent_requests"} <= set(experiments)
    assert len(experiments["concurrent_requests"]["images_per_s"]) == 4
    assert len(experiments["concurrent_requests"]["lone_request_ms"]) == 2
    [configuration] = experiments["app_configurations"].values()
    assert configuration["errors"] == 0 and configuration["client"] == "plain HTTP"
    assert set(experiments["batch_sizes"]["ms_per_image"]) == {"batch 1", "batch 2"}
    for image in experiments["decoding"].values():
        assert image["within_fidelity_bound"]["draft (as shipped)"]


def test_the_markdown_report_has_the_latency_throughput_and_target_tables(results: dict) -> None:
    markdown = format_markdown(results)
    header = "| median ms | model card | ours | API (gradio_client, one SSL context) | API (gradio_client, defaults) |"
    assert header in markdown
    assert "| client | clients | images/s |" in markdown
    level = results["api"]["throughput"][0]
    low, high = sorted(level["rounds_images_per_s"])
    assert f"| plain HTTP | 1 | {level['images_per_s']:.2f} ({low:.2f}–{high:.2f}) |" in markdown
    assert markdown.count("| threshold change, server ms (median) |") == 1
    assert "Batched forward pass" in markdown


def test_the_json_api_is_timed_and_loaded_beside_gradios_api(results: dict) -> None:
    [level] = results["api"]["throughput_rest"]
    assert level["client"] == "JSON API (/v1)" and level["clients"] == 2
    assert level["errors"] == 0 and level["completed"] == level["sent"] > 0
    assert results["ratios"]["api_http_small_vs_ours"] > 0


def test_the_floor_rests_on_the_fastest_gemm_of_every_engine(results: dict) -> None:
    gemm = results["floor"]["gemm"]
    peaks = {name: entry["gflops"] for name, entry in gemm["engine_peaks"].items()}
    assert {"openvino fp32", "onnxruntime fp32"} <= set(peaks)
    fp32 = {
        **{name: rate for name, rate in peaks.items() if name.endswith("fp32")},
        "torch fp32": gemm["torch_peak_gflops"],
    }
    assert gemm["peak_gflops"] == max(fp32.values()) and results["floor"]["floor"]["gemm_gflops"] == gemm["peak_gflops"]
    if "torch bf16" in peaks:  # a CPU with native bf16
        assert results["floor"]["bf16_floor"]["gemm_gflops"] == gemm["bf16_peak_gflops"] >= peaks["torch bf16"]


def test_nudenet_is_measured_or_the_run_says_how_to_install_it(results: dict) -> None:
    nudenet = results["api"]["nudenet"]
    if "error" in nudenet:
        assert "requirements-bench.txt" in nudenet["error"]
    else:
        assert nudenet["nudenet"]["images_per_s"] > 0 and nudenet["ours"]["images_per_s"] > 0
