"""`python -m benchmarks.gpu_check`: on a CUDA machine, GPU fidelity (fp32 within 1e-4 of the CPU, fp16/bf16 within
0.01), images/s at batch 1 to 512 against the CPU's decoding rate, /classify latency, and `python -m model screen` on
a local Ray with the GPU (the separate decode stage against the fused path), in one short run; JSON."""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from model import Classifier, ModelSource, Settings, decode_image, parse_model_source
from model.config import available_cores
from testbed.server import ROOT

__all__ = ["GpuUnavailableError", "main", "run_checks"]

logger = logging.getLogger("benchmarks.gpu_check")

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "gpu_check.json"
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
#: Largest difference from the CPU's fp32 probabilities allowed per precision on the GPU.
TOLERANCES = {"fp32": 1e-4, "fp16": 0.01, "bf16": 0.01}
API_CALLS = 20


class GpuUnavailableError(RuntimeError):
    """This machine has no CUDA GPU that torch can use."""


def _require_cuda() -> None:
    if not torch.cuda.is_available():
        built = torch.version.cuda or "no CUDA"
        raise GpuUnavailableError(
            f"benchmarks/gpu_check.py needs a CUDA GPU, and torch {torch.__version__} (built for {built}) finds none "
            "on this machine. Run it on a machine with an NVIDIA GPU; the CPU checks run in `make test`."
        )


def _fidelity_images() -> list[tuple[str, bytes]]:
    from testbed.images import drawing, encode, large_jpeg, noise_photo, photo

    return [
        ("astronaut photo", encode(photo("astronaut.png"), "PNG")),
        ("coffee photo", encode(photo("coffee.png"), "PNG")),
        ("rocket photo", (ROOT / "examples" / "rocket.jpg").read_bytes()),
        ("drawing", encode(drawing(), "PNG")),
        ("3000x300 panorama", encode(noise_photo((3000, 300)), "JPEG", quality=92)),
        ("12 MP JPEG", large_jpeg(12, seed=1)),
    ]


def _fidelity(settings: Settings) -> dict[str, Any]:
    images = [decode_image(data).image for _, data in _fidelity_images()]
    cpu = Classifier.load(replace(settings, device="cpu", engine="torch"))
    reference = [prediction.nsfw_score for prediction in cpu.predict(images)]
    results: dict[str, Any] = {}
    for precision, tolerance in TOLERANCES.items():
        gpu = Classifier.load(replace(settings, device="cuda", precision=precision))
        scores = [prediction.nsfw_score for prediction in gpu.predict(images)]
        difference = max(abs(score - expected) for score, expected in zip(scores, reference, strict=True))
        results[precision] = {"max_difference_vs_cpu_fp32": difference, "tolerance": tolerance}
        results[precision]["passed"] = difference <= tolerance
    return results


def _gpu_rates(classifier: Classifier, repeats: int) -> dict[str, float]:
    size = tuple(classifier.data_config["input_size"])
    rates: dict[str, float] = {}
    for batch_size in BATCH_SIZES:
        batch = torch.randn(batch_size, *size).pin_memory()
        classifier.forward_probabilities(batch)  # warm-up (cuDNN / cuBLAS choose their kernels)
        torch.cuda.synchronize()
        durations = []
        for _ in range(repeats):
            started = time.perf_counter()
            classifier.forward_probabilities(batch)  # host -> device copy, forward, softmax, device -> host copy
            durations.append(time.perf_counter() - started)
        rates[str(batch_size)] = round(batch_size / statistics.median(durations), 1)
    return rates


def _decode_rate(classifier: Classifier, seconds: float) -> float:
    """Images/s that decoding + preprocessing a 640x480 JPEG reaches on every CPU core (threads; Pillow and the
    transform release the GIL for most of their work)."""
    from testbed.images import encode, noise_photo

    data = encode(noise_photo((640, 480)), "JPEG", quality=90)

    def one(_: int) -> None:
        classifier.preprocess(decode_image(data, classifier.limits).image)

    done, started = 0, time.perf_counter()
    with ThreadPoolExecutor(available_cores()) as pool:
        while time.perf_counter() - started < seconds:
            list(pool.map(one, range(64)))
            done += 64
    return round(done / (time.perf_counter() - started), 1)


def _api_latency(standin: Path, work: Path) -> dict[str, Any]:
    from testbed.images import encode, noise_photo
    from testbed.server import AppServer

    from .api import HttpCaller

    files = []
    for index in range(API_CALLS + 2):
        path = work / f"distinct-{index}.jpg"
        path.write_bytes(encode(noise_photo((640, 480), seed=index), "JPEG", quality=90))
        files.append(path)
    server = AppServer(
        {"NSFW_MODEL": str(standin), "NSFW_DEVICE": "cuda", "HF_HUB_OFFLINE": "1"}, work / "app.log", work / "tmp"
    )
    with server:
        startup = server.wait_until_ready()
        caller = HttpCaller(server.url)
        try:
            for path in files[:2]:
                caller.classify(path)
            durations = []
            for path in files[2:]:
                started = time.perf_counter()
                caller.classify(path)
                durations.append(1000 * (time.perf_counter() - started))
        finally:
            caller.close()
    return {
        "startup_s": startup,
        "median_ms": round(statistics.median(durations), 1),
        "min_ms": round(min(durations), 1),
    }


#: Images `screen` classifies in the GPU check (640x480 JPEGs), per decode stage.
SCREEN_IMAGES = 2000


def _screen_rates(standin: Path, work: Path, count: int = SCREEN_IMAGES) -> dict[str, Any]:
    """`python -m model screen` on a local Ray sized to this machine (one GPU actor): images/s with the separate
    decode stage (CPU tasks -> uint8 pixels -> normalised on the GPU) and with the fused path, wall clock from the
    process start (Ray's start and the model load included) and as the command measured it."""
    import os
    import subprocess

    from testbed.images import encode, noise_photo

    folder = work / "screen-images"
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        path = folder / f"photo-{index:05d}.jpg"
        if not path.is_file():
            path.write_bytes(encode(noise_photo((640, 480), seed=index), "JPEG", quality=90))
    results: dict[str, Any] = {"images": count}
    for decode in ("separate", "fused"):
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0", "NSFW_SCREEN_DECODE": decode}
        command = [
            sys.executable,
            "-m",
            "model",
            "screen",
            str(folder),
            "--out",
            str(work / f"screen-{decode}.parquet"),
        ]
        started = time.perf_counter()
        run = subprocess.run(
            [*command, "--model", str(standin)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200
        )
        seconds = time.perf_counter() - started
        if run.returncode != 0:
            results[decode] = {"error": run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "failed"}
            continue
        summary = json.loads(run.stdout.splitlines()[-1])
        plan = next((line for line in run.stderr.splitlines() if "actor(s) on" in line), "")
        results[decode] = {
            "seconds": round(seconds, 2),
            "images_per_second": round(summary["classified"] / seconds, 1),
            "images_per_second_inside_the_command": summary["images_per_second"],
            "actors": summary["actors"],
            "plan": plan.removeprefix("screen: "),
        }
    return results


def run_checks(
    model: str | None, work: Path, repeats: int = 10, with_api: bool = True, with_screen: bool = True
) -> dict[str, Any]:
    """Every GPU check; raises `GpuUnavailableError` at once on a machine without CUDA."""
    _require_cuda()
    from testbed.standin import build_standin

    standin = build_standin(work / "standin")
    source = ModelSource(local_dir=str(standin)) if model is None else parse_model_source(model)
    settings = Settings(model=source)
    properties = torch.cuda.get_device_properties(0)
    results: dict[str, Any] = {
        "gpu": properties.name,
        "gpu_memory_gib": round(properties.total_memory / 2**30, 1),
        "torch": torch.__version__,
        "cpu_cores": available_cores(),
        "model": str(source),
    }
    results["fidelity"] = _fidelity(settings)
    classifier = Classifier.load(replace(settings, device="cuda"))
    results["gpu_images_per_s"] = _gpu_rates(classifier, repeats)
    results["decode_images_per_s"] = _decode_rate(classifier, seconds=5.0)
    best = max(results["gpu_images_per_s"].values())
    results["limited_by"] = "CPU decoding" if results["decode_images_per_s"] < best else "the GPU"
    if with_api:
        results["classify_api"] = _api_latency(standin, work)
    if with_screen:
        results["screen"] = _screen_rates(standin, work)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__)
    parser.add_argument("--model", help="a Hub id to check instead of the stand-in (needs the Hub or its cache)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results (default {DEFAULT_OUT})")
    parser.add_argument("--no-api", action="store_true", help="skip the /classify latency (no app started)")
    parser.add_argument("--no-screen", action="store_true", help="skip `python -m model screen` on a local Ray")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        with tempfile.TemporaryDirectory(prefix="gpu-check-") as work:
            results = run_checks(args.model, Path(work), with_api=not args.no_api, with_screen=not args.no_screen)
    except GpuUnavailableError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    passed = all(check["passed"] for check in results["fidelity"].values())
    sys.stdout.write(json.dumps(results, indent=2) + f"\n\nFidelity {'passed' if passed else 'FAILED'}; {args.out}\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
