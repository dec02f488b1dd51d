"""`python -m benchmarks.run`: the matmul floor, the model card's pipeline, our classifier and the running app,
measured side by side in one run; prints a table and writes JSON."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from model.config import available_cores
from testbed.server import ROOT, AppServer

from . import api, floor, report
from .engines import batched_rate, compare_engines
from .experiments import run_experiments
from .nudenet_peer import compare_with_nudenet
from .output import configure_logging, save_results
from .peer import compare_with_peer
from .pipelines import CardPipeline, OurPipeline
from .timing import summarise
from .workload import PROFILES, BenchImage, Profile, Workload, peer_images, prepare

__all__ = ["main", "run_benchmark"]

logger = logging.getLogger("benchmarks")

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "latest.json"
DEFAULT_WORK = ROOT / "benchmarks" / "results" / "work"
#: Bare forward passes timed per round (they are short, so a few per round steady the median).
FORWARDS_PER_ROUND = 3


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


class _Sections:
    """Seconds each section of the run took (to see where a slow run spent its time)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str, message: str, *args: object) -> Iterator[None]:
        logger.info(message, *args)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - started, 1)


def _meta(profile: Profile) -> dict[str, Any]:
    import gradio
    import timm

    return {
        "profile": profile.name,
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_name(),
        "cores": available_cores(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "gradio": gradio.__version__,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--", "model", "ui", "app.py", "benchmarks")),
        "load_average_start": [round(value, 2) for value in os.getloadavg()],
    }


def _side_by_side(
    card: CardPipeline,
    ours: OurPipeline,
    callers: dict[str, api.ApiCaller | api.HttpCaller | api.RestCaller],
    images: Sequence[BenchImage],
    profile: Profile,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Interleaved rounds: each round runs every image through the card's pipeline, ours and each API caller
    (gradio_client, plain HTTP), then a few bare forward passes, so load from elsewhere falls on all of them alike.
    Each round sends other bytes (the same pixels), so no cache answers; re-submitting identical bytes is timed
    after the rounds. Returns latencies and score checks."""
    durations: dict[str, dict[str, list[float]]] = {"card": {}, "ours": {}}
    for name in callers:
        durations[name], durations[f"{name}_resubmit"] = {}, {}
    forwards: list[float] = []
    server_timings: dict[str, list[dict[str, float]]] = {}
    scores: dict[str, dict[str, float]] = {}
    nsfw_index = ours.classifier.nsfw_index
    for round_index in range(profile.warmup + profile.repeats):
        timed = round_index >= profile.warmup
        for image in images:
            path = image.copy(round_index)
            calls = {
                "card": lambda path=path: card(path)[nsfw_index],
                "ours": lambda path=path: ours(path),
            }
            for slot, (name, caller) in enumerate(callers.items()):
                copy = image.copy(round_index, slot)
                calls[name] = lambda path=copy, caller=caller: caller.classify(path)
            for pipeline, call in calls.items():
                started = time.perf_counter()
                output = call()
                elapsed = 1000 * (time.perf_counter() - started)
                if not timed:
                    continue
                durations[pipeline].setdefault(image.role, []).append(elapsed)
                if pipeline in callers:
                    if pipeline == "api":
                        server_timings.setdefault(image.role, []).append(output["timings_ms"])
                    output = output["nsfw_score"]
                scores.setdefault(image.role, {})[pipeline] = output
        for _ in range(FORWARDS_PER_ROUND):
            started = time.perf_counter()
            ours.forward()
            if timed:
                forwards.append(1000 * (time.perf_counter() - started))
    # The same bytes again (the caller's copy of the last round): what a user re-submitting an image waits.
    last = profile.warmup + profile.repeats - 1
    for slot, (name, caller) in enumerate(callers.items()):
        for image in images:
            for _ in range(profile.repeats):
                started = time.perf_counter()
                caller.classify(image.copy(last, slot))
                elapsed = 1000 * (time.perf_counter() - started)
                durations[f"{name}_resubmit"].setdefault(image.role, []).append(elapsed)
    latency: dict[str, Any] = {
        pipeline: {role: summarise(values).as_dict() for role, values in by_role.items()}
        for pipeline, by_role in durations.items()
        if by_role
    }
    latency["bare_forward"] = summarise(forwards).as_dict()
    if server_timings:
        latency["api_server_timings"] = {
            role: {key: summarise([entry[key] for entry in entries]).median_ms for key in entries[0]}
            for role, entries in server_timings.items()
        }
    checks = {
        role: {
            "nsfw_score": {name: round(value, 5) for name, value in by_pipeline.items()},
            "largest_difference_vs_card": round(
                max(abs(value - by_pipeline["card"]) for value in by_pipeline.values()), 5
            ),
        }
        for role, by_pipeline in scores.items()
    }
    return latency, checks


def _measure_api(
    workload: Workload, profile: Profile, work: Path, card: CardPipeline, ours: OurPipeline, section: _Sections
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Start the app on the stand-in folder and measure everything that goes through it."""
    server = AppServer(
        {"NSFW_MODEL": str(workload.standin_dir), "HF_HUB_OFFLINE": "1"}, work / "app.log", work / "gradio-tmp"
    )
    results: dict[str, Any] = {}
    with server:
        with section("app_start", "Starting the app on the stand-in folder"):
            results["startup_s"] = server.wait_until_ready()
        results["idle_rss_mb"] = round(server.rss_bytes() / 2**20, 1)
        results["idle_cpu_percent"] = server.cpu_percent()
        rounds = profile.warmup + profile.repeats
        with section("latency", "Latency: card pipeline, ours and the API, %d rounds", rounds):
            callers = {
                "api": api.ApiCaller(server.url),
                "api_default": api.ApiCaller(server.url, defaults=True),
                "api_http": api.HttpCaller(server.url),
                "api_rest": api.RestCaller(server.url),
            }
            latency, checks = _side_by_side(card, ours, callers, workload.images, profile)
            for caller in callers.values():
                caller.close()
        results["throughput"], results["throughput_gradio_client"] = [], []
        # The 8-client levels (plain HTTP and /v1) are compared with the engine's bare batched forward pass, measured
        # in this process before each of their rounds while the app is paused.
        paired = max(count for count in profile.clients if count <= 8)
        sample = torch.randn(8, *ours.input_size, generator=torch.Generator().manual_seed(0))
        engine = functools.partial(batched_rate, ours.classifier.forward_probabilities, sample, profile.engine_seconds)
        for kind, clients in workload.throughput_images:
            images = workload.throughput_images[(kind, clients)]
            caller = api.HttpCaller if kind == "http" else api.ApiCaller
            with section(
                f"{kind}_clients_{clients}",
                "Throughput: %d concurrent %s clients, %d rounds",
                clients,
                kind,
                profile.throughput_rounds,
            ):
                level = api.throughput_rounds(
                    server,
                    clients,
                    images,
                    profile.level_seconds,
                    caller,
                    profile.throughput_rounds,
                    engine if (kind, clients) == ("http", paired) else None,
                )
            results["throughput" if kind == "http" else "throughput_gradio_client"].append(level)
        # The JSON API (/v1) at 8 clients, on the images the 8 plain-HTTP clients sent: /v1 keeps no result cache,
        # so the same bytes run the model again.
        with section(
            f"rest_clients_{paired}",
            "Throughput: %d concurrent JSON API (/v1) clients, %d rounds",
            paired,
            profile.throughput_rounds,
        ):
            images = workload.throughput_images[("http", paired)]
            level = api.throughput_rounds(
                server, paired, images, profile.level_seconds, api.RestCaller, profile.throughput_rounds, engine
            )
        results["throughput_rest"] = [level]
        small = next(image for image in workload.images if image.role == "small")
        with section("threshold_change", "Threshold changes"):
            try:
                results["threshold_change"] = api.threshold_change(server, small.path, profile.threshold_changes)
            except (LookupError, RuntimeError) as error:
                logger.warning("Could not measure the threshold change: %s", error)
                results["threshold_change_error"] = str(error)
        results["model_calls_logged"] = server.model_calls()
        results["runtime"] = server.model_info().get("runtime")
    with section("peer", "The app against the model card's snippet in a gr.Interface, %d rounds", profile.peer_rounds):
        clients = max(count for count in profile.clients if count <= 8)
        rounds = peer_images(profile, work / "images")
        results["peer"] = compare_with_peer(workload.standin_dir, work, clients, rounds, profile.level_seconds)
    with section("nudenet", "NudeNet beside our classifier, %d rounds, one process each", profile.peer_rounds):
        images = rounds[0][: profile.peer_images_per_round]
        results["nudenet"] = compare_with_nudenet(
            workload.standin_dir, images, "640x480 JPEGs", available_cores(), profile.peer_rounds
        )
    with section("cold_start", "Cold start: %d launches with a warm HF cache", profile.cold_starts):
        results["cold_start"] = api.cold_start(workload.hf_home, work, profile.cold_starts)
    return results, latency, checks


def _set_floors(
    results: dict[str, Any], flops: dict[str, Any], gemm: dict[str, Any], engines: dict[str, Any], precision: str
) -> None:
    """The floors from the run's peaks, each checked against every engine measured: `floor` at the precision in use
    (what every ratio divides by), `bf16_floor` where a bf16 peak was measured."""
    bounds = {name: floor.floor(flops, gemm, name) for name in ("fp32", "bf16")}
    results["floor"]["floor"] = bounds[precision] or bounds["fp32"]
    results["floor"]["bf16_floor"] = bounds["bf16"]
    results["floor"]["beaten_by"] = floor.floor_check(results["floor"]["floor"], engines, precision)
    results["floor"]["bf16_beaten_by"] = floor.floor_check(bounds["bf16"], engines, "bf16")


def run_benchmark(profile: Profile, work: Path, *, with_api: bool = True, with_experiments: bool = False) -> dict:
    """Run every section of the benchmark and return the results (see docs/PERFORMANCE.md for what each means)."""
    # The apps' upload folder: a stopped app leaves its uploads behind (hundreds of MB over a run), so it is
    # emptied before and after.
    uploads = work / "gradio-tmp"
    shutil.rmtree(uploads, ignore_errors=True)
    try:
        return _run(profile, work, with_api=with_api, with_experiments=with_experiments)
    finally:
        shutil.rmtree(uploads, ignore_errors=True)


def _run(profile: Profile, work: Path, *, with_api: bool, with_experiments: bool) -> dict:
    started = time.perf_counter()
    section = _Sections()
    meta = _meta(profile)
    with section("prepare", "Preparing the stand-in, the images and both pipelines"):
        workload = prepare(profile, work)
        card = CardPipeline(workload.standin_dir)
        ours = OurPipeline(workload.standin_dir)
    meta["torch_threads"] = torch.get_num_threads()
    with section("engines", "Engines side by side: torch, ONNX Runtime, OpenVINO, bf16, %d rounds", profile.repeats):
        sample = torch.randn(8, *ours.input_size, generator=torch.Generator().manual_seed(0))
        engines = compare_engines(ours.classifier, sample, profile.repeats, available_cores())
        engines["in_use"] = ours.classifier.runtime.engine
    with section("floor", "Floor: FLOPs per image and fp32 GEMM rate"):
        flops = floor.count_flops(ours.classifier.model, ours.input_size)
        gemm = floor.measure_gemm(
            ours.classifier.model, ours.input_size, profile.gemm_sizes, profile.gemm_repeats, profile.gemm_sample_flops
        )
        # The peak is the highest rate any engine here reaches (torch, OpenVINO, ONNX Runtime; bf16 where native).
        floor.add_engine_peaks(gemm, profile.gemm_sizes[-2:], profile.gemm_repeats, profile.gemm_sample_flops)
    results: dict[str, Any] = {
        "meta": meta,
        "images": {image.role: image.describe() for image in workload.images},
        "floor": {"flops": flops, "gemm": gemm},
        "engines": engines,
    }
    if with_api:
        results["api"], latency, checks = _measure_api(workload, profile, work, card, ours, section)
    else:
        with section("latency", "Latency: card pipeline and ours"):
            latency, checks = _side_by_side(card, ours, {}, workload.images, profile)
    results["latency_ms"] = latency
    results["score_checks"] = checks
    with section("floor_again", "Floor: the GEMM peak measured again"):
        floor.remeasure_peak(gemm, profile.gemm_sizes, profile.gemm_repeats, profile.gemm_sample_flops)
    _set_floors(results, flops, gemm, engines, ours.classifier.settings.precision)
    if with_experiments:
        with section("experiments", "Experiments"):
            distinct = workload.throughput_images[("http", max(profile.clients))]
            results["experiments"] = run_experiments(ours.classifier, list(workload.images), distinct, profile)
        if with_api:
            clients = max(count for count in profile.clients if count <= 8)
            with section("app_configurations", "Experiment: app configurations under %d clients", clients):
                results["experiments"]["app_configurations"] = api.compare_configurations(
                    workload.standin_dir,
                    work,
                    clients,
                    workload.throughput_images[("http", max(profile.clients))],
                    profile.app_configurations,
                    profile.configuration_rounds,
                    profile.level_seconds,
                )
    results["ratios"] = report.ratios(results)
    results["targets"] = report.targets(results)
    meta["load_average_end"] = [round(value, 2) for value in os.getloadavg()]
    meta["duration_s"] = round(time.perf_counter() - started, 1)
    meta["section_s"] = section.seconds
    return results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", const="quick", dest="profile", help="fewer repetitions")
    size.add_argument(
        "--tiny", action="store_const", const="tiny", dest="profile", help="smoke test of every section (no meaning)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results (default {DEFAULT_OUT})")
    parser.add_argument(
        "--work", type=Path, default=DEFAULT_WORK, help="folder for the stand-in, images and app logs (kept)"
    )
    parser.add_argument("--no-api", action="store_true", help="skip everything that needs the app")
    parser.add_argument("--experiments", action="store_true", help="also run the model-level experiments")
    parser.set_defaults(profile="full")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Stopped with SIGTERM (or SIGINT where a background shell ignores it), still stop the app processes started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    configure_logging(quiet=("httpx", "timm", "model", "gradio_client"))
    results = run_benchmark(
        PROFILES[args.profile], args.work.resolve(), with_api=not args.no_api, with_experiments=args.experiments
    )
    save_results(results, args.out, report.format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
