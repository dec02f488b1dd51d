"""NudeNet (PyPI `nudenet`: an ONNX detector shipped inside the wheel, run by ONNX Runtime) beside our classifier on
the same images with the same threads, one process each. Another model and another task (it boxes body parts; we
score whole images), so this is speed context, not a contest; nothing is said about accuracy.

`python -m benchmarks.nudenet_peer {nudenet,ours} --threads N --rounds R [--model FOLDER] IMAGE...` prints JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from testbed.server import ROOT

__all__ = ["compare_with_nudenet"]

logger = logging.getLogger(__name__)

#: What `make bench` installs for this comparison (requirements-bench.txt).
INSTALL_HINT = "pip install -r requirements-bench.txt"


def _nudenet(threads: int) -> Callable[[Path], object]:
    """NudeNet's own `NudeDetector.detect` (decode with OpenCV, letterbox, detect, NMS), on `threads` threads."""
    import nudenet
    import onnxruntime
    from nudenet import NudeDetector

    detector = NudeDetector()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # The same model file, in a session with our thread count (NudeDetector leaves ONNX Runtime's default).
    detector.onnx_session = onnxruntime.InferenceSession(
        str(Path(nudenet.__file__).parent / "320n.onnx"), options, providers=["CPUExecutionProvider"]
    )
    return lambda path: detector.detect(str(path))


def _ours(threads: int, model: Path) -> Callable[[Path], object]:
    from model import ModelSource, Settings

    from .pipelines import OurPipeline

    return OurPipeline(model, Settings(model=ModelSource(local_dir=str(model)), threads=threads))


def measure(run: Callable[[Path], object], images: Sequence[Path], rounds: int) -> dict[str, Any]:
    """Images/s of `run` over every image, one at a time, per round (after one warm-up image)."""
    run(images[0])
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        for path in images:
            run(path)
        rates.append(len(images) / (time.perf_counter() - started))
    return {
        "images": len(images),
        "images_per_s": round(statistics.median(rates), 2),
        "min_images_per_s": round(min(rates), 2),
        "max_images_per_s": round(max(rates), 2),
    }


def _in_process(
    which: str, images: Sequence[Path], threads: int, rounds: int, model: Path | None, timeout: float
) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.nudenet_peer", which, "--threads", str(threads)]
    command += ["--rounds", str(rounds), *(["--model", str(model)] if model else []), *map(str, images)]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr.strip().splitlines()[-1] if completed.stderr.strip() else "failed")
    return json.loads(completed.stdout)


def compare_with_nudenet(
    standin: Path, images: Sequence[Path], sizes: str, threads: int, rounds: int, timeout: float = 600.0
) -> dict[str, Any]:
    """Our classifier and NudeNet, each in a process of its own with `threads` threads, on the same `images`
    (described by `sizes`, e.g. "640x480 JPEGs").

    Returns {"error"} when NudeNet is not installed (it is a benchmark-only dependency) or fails.
    """
    try:
        version = metadata.version("nudenet")
    except metadata.PackageNotFoundError:
        return {"error": f"nudenet is not installed ({INSTALL_HINT})"}
    result: dict[str, Any] = {"version": version, "threads": threads, "rounds": rounds, "sizes": sizes}
    try:
        result["ours"] = _in_process("ours", images, threads, rounds, standin, timeout)
        result["nudenet"] = _in_process("nudenet", images, threads, rounds, None, timeout)
    except (RuntimeError, subprocess.SubprocessError, ValueError) as error:
        logger.warning("NudeNet comparison failed: %s", error)
        return {"error": str(error)[:300], "version": version}
    result["images_per_round"] = len(images)
    result["nudenet_vs_ours"] = round(result["nudenet"]["images_per_s"] / result["ours"]["images_per_s"], 3)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.nudenet_peer", description=__doc__)
    parser.add_argument("which", choices=["nudenet", "ours"])
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", type=Path, help="the checkpoint folder (ours)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.which == "nudenet":
        run = _nudenet(args.threads)
    else:
        if args.model is None:
            parser.error("ours needs --model")
        run = _ours(args.threads, args.model)
    sys.stdout.write(json.dumps(measure(run, args.images, args.rounds)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
