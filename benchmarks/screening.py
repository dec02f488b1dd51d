"""`python -m benchmarks.screening`: the same images through `python -m model` and through `screen` on a local Ray,
one run each, start-up included: images/s and the ratio (the target is screen at 0.8 of the plain CLI or more).
`--decode both` also runs `screen` with the separate decode stage (NSFW_SCREEN_DECODE=separate: CPU tasks decode to
uint8 pixels, the actor normalises and runs the model) to compare it with the fused path on this machine."""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from testbed.images import encode, noise_photo
from testbed.server import ROOT
from testbed.standin import build_standin

__all__ = ["main", "run_screening_benchmark"]

logger = logging.getLogger("benchmarks.screening")

DEFAULT_WORK = ROOT / "benchmarks" / "results" / "screening"
#: An ordinary web photo, as in the other benchmarks.
IMAGE_SIZE = (600, 400)
JPEG_QUALITY = 90
TARGET_RATIO = 0.8


def make_images(folder: Path, count: int) -> list[Path]:
    """`count` distinct JPEGs (an example photo with different grain each), made once and kept."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"photo-{index:05d}.jpg"
        if not path.is_file():
            path.write_bytes(encode(noise_photo(IMAGE_SIZE, seed=index), "JPEG", quality=JPEG_QUALITY))
        paths.append(path)
    return paths


def _run(command: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} ... failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return seconds, result


def run_screening_benchmark(
    count: int, work: Path, model: str | None = None, decodes: tuple[str, ...] = ("fused",)
) -> dict[str, Any]:
    """Both commands (`screen` once per decode stage in `decodes`), one after the other, on the same `count` images;
    wall-clock seconds from process start."""
    if model is None:
        standin = work / "standin"
        if not (standin / "model.safetensors").is_file():
            build_standin(standin)
        model = str(standin)
    paths = make_images(work / "images", count)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    cli_seconds, cli = _run([sys.executable, "-m", "model", "--model", model, *map(str, paths)], env)
    scored = sum(1 for line in cli.stdout.splitlines() if '"nsfw_score"' in line)
    cli_rate = scored / cli_seconds
    result: dict[str, Any] = {
        "images": count,
        "cli": {"seconds": round(cli_seconds, 2), "images_per_second": round(cli_rate, 2), "scored": scored},
    }
    for decode in decodes:
        out = work / f"screen-{decode}.parquet"
        screen_seconds, screen = _run(
            [sys.executable, "-m", "model", "screen", str(work / "images"), "--out", str(out), "--model", model],
            {**env, "NSFW_SCREEN_DECODE": decode},
        )
        summary = json.loads(screen.stdout.splitlines()[-1])
        screen_rate = summary["classified"] / screen_seconds
        name = "screen" if decode == "fused" else f"screen_{decode}"
        result[name] = {
            "decode": decode,
            "seconds": round(screen_seconds, 2),
            "images_per_second": round(screen_rate, 2),
            "classified": summary["classified"],
            "actors": summary["actors"],
            "seconds_inside_the_command": summary["seconds"],
        }
    if "screen" in result:
        result["ratio"] = round(result["screen"]["images_per_second"] / cli_rate, 3)
    if "screen" in result and "screen_separate" in result:
        separate, fused = result["screen_separate"]["images_per_second"], result["screen"]["images_per_second"]
        result["separate_vs_fused"] = round(separate / fused, 3)
    result.update(
        {
            "target_ratio": TARGET_RATIO,
            "cores": os.cpu_count(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.screening", description=__doc__)
    parser.add_argument("--images", type=int, default=500, help="images to classify (default 500)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="folder for the images and results")
    parser.add_argument("--model", help="model folder or Hub id (default: the stand-in checkpoint, built once)")
    parser.add_argument(
        "--decode",
        choices=("fused", "separate", "both"),
        default="fused",
        help="screen's decode stage: fused (the CPU default), separate, or both one after the other",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    decodes = ("fused", "separate") if args.decode == "both" else (args.decode,)
    result = run_screening_benchmark(args.images, args.work, args.model, decodes)
    (args.work / "screening.json").write_text(json.dumps(result, indent=2))
    for name in ("screen", "screen_separate"):
        if name in result:
            logger.info(
                "%d images: python -m model %.2f images/s (%.1f s); %s on local Ray (%s decode) %.2f images/s (%.1f s)",
                result["images"],
                result["cli"]["images_per_second"],
                result["cli"]["seconds"],
                "screen",
                result[name]["decode"],
                result[name]["images_per_second"],
                result[name]["seconds"],
            )
    if "ratio" in result:
        logger.info("ratio %.2f (target >= %.1f)", result["ratio"], TARGET_RATIO)
    if "separate_vs_fused" in result:
        logger.info("separate decode stage / fused: %.2f", result["separate_vs_fused"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
