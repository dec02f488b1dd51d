"""`python -m benchmarks.engines`: torch eager, ONNX Runtime, OpenVINO (f32) and bf16 (torch autocast, OpenVINO)
side by side, same images, interleaved rounds: batched images/s, single-image latency, deviation from torch; prints
and writes JSON."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from model import Classifier, ModelSource, Settings
from model.config import available_cores
from model.runtime.devices import autocast, cpu_has_native_bf16
from model.runtime.engines import _openvino_runner, build_engine, export_folder
from testbed.server import ROOT

from .output import configure_logging, save_results

__all__ = ["WIN_MARGIN", "batched_rate", "compare_engines", "main"]

logger = logging.getLogger("benchmarks.engines")

#: An engine is kept only if it beats torch eager by at least this fraction in both measures (issue 14).
WIN_MARGIN = 0.15
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "engines.json"


def _runners(classifier: Classifier, threads: int, work: Path) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    model = classifier.model
    size = tuple(classifier.data_config["input_size"])
    cpu = torch.device("cpu")
    runners: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"torch": model}
    for name in ("onnxruntime", "openvino"):
        if importlib.util.find_spec(name) is None:
            logger.warning("%s is not installed: not compared", name)
            continue
        engine = build_engine(
            model, name, device=cpu, precision="fp32", input_size=size, cache_root=work, threads=threads
        )
        if engine.name == name:
            runners[name] = engine.run
    if cpu_has_native_bf16():

        def bf16(batch: torch.Tensor) -> torch.Tensor:
            with autocast("bf16", cpu):
                return model(batch).float()

        runners["torch bf16"] = bf16
        if "openvino" in runners:
            runners["openvino bf16"] = _openvino_runner(export_folder(work), threads, "bf16")
    return runners


def compare_engines(classifier: Classifier, batch: torch.Tensor, rounds: int, threads: int) -> dict[str, Any]:
    """Each engine's ms per image at batch 1 and at `len(batch)`, over interleaved rounds, and its largest
    probability difference from torch eager; with the verdict of the 15 % rule."""
    with tempfile.TemporaryDirectory(prefix="engines-") as work:
        runners = _runners(classifier, threads, Path(work))
        single = batch[:1]
        with torch.inference_mode():
            reference = classifier.model(batch).softmax(dim=-1)
            timings: dict[str, dict[str, list[float]]] = {name: {"single": [], "batched": []} for name in runners}
            deviation = {
                name: float((run(batch).float().softmax(dim=-1) - reference).abs().max())
                for name, run in runners.items()
            }
            for round_index in range(rounds + 1):
                for name, run in runners.items():
                    for kind, inputs in (("single", single), ("batched", batch)):
                        started = time.perf_counter()
                        run(inputs)
                        elapsed = 1000 * (time.perf_counter() - started) / inputs.shape[0]
                        if round_index:  # the first round warms every engine up
                            timings[name][kind].append(elapsed)
    results: dict[str, Any] = {"batch": batch.shape[0], "rounds": rounds, "threads": threads, "engines": {}}
    torch_median = {kind: statistics.median(timings["torch"][kind]) for kind in ("single", "batched")}
    for name, by_kind in timings.items():
        entry: dict[str, Any] = {"max_probability_difference_vs_torch": deviation[name]}
        for kind, values in by_kind.items():
            median = statistics.median(values)
            entry[kind] = {
                "median_ms_per_image": round(median, 2),
                "min_ms_per_image": round(min(values), 2),
                "max_ms_per_image": round(max(values), 2),
                "speedup_vs_torch": round(torch_median[kind] / median, 3),
            }
        # bf16 rows are precisions, not engines: judged by their fidelity and speed-up instead (docs/PERFORMANCE.md).
        entry["wins_by_15_percent"] = (
            None
            if "bf16" in name
            else name != "torch"
            and all(entry[kind]["speedup_vs_torch"] >= 1 + WIN_MARGIN for kind in ("single", "batched"))
        )
        results["engines"][name] = entry
    return results


def batched_rate(forward: Callable[[torch.Tensor], object], batch: torch.Tensor, seconds: float) -> float:
    """Images/s of `forward` on `batch`: its median pass over `seconds` (at least three passes), after one pass that
    warms the caches up."""
    with torch.inference_mode():
        forward(batch)
        passes: list[float] = []
        deadline = time.perf_counter() + seconds
        while len(passes) < 3 or time.perf_counter() < deadline:
            started = time.perf_counter()
            forward(batch)
            passes.append(time.perf_counter() - started)
    return batch.shape[0] / statistics.median(passes)


def format_table(results: dict[str, Any]) -> str:
    lines = [
        f"Engines, ms per image (median [min-max]) over {results['rounds']} interleaved rounds, "
        f"{results['threads']} threads, batch {results['batch']}:",
        f"{'engine':<12} {'batch 1':>22} {'batched':>22} {'vs torch (1/batched)':>22} {'max diff':>9}  verdict",
    ]
    for name, entry in results["engines"].items():
        cells = []
        for kind in ("single", "batched"):
            value = entry[kind]
            cells.append(
                f"{value['median_ms_per_image']:.1f} [{value['min_ms_per_image']:.1f}-{value['max_ms_per_image']:.1f}]"
            )
        ratio = f"{entry['single']['speedup_vs_torch']:.2f}x / {entry['batched']['speedup_vs_torch']:.2f}x"
        verdict = {True: "wins >=15 % in both", False: "no", None: "bf16 (limit 0.01)"}[entry["wins_by_15_percent"]]
        verdict = "reference" if name == "torch" else verdict
        difference = entry["max_probability_difference_vs_torch"]
        lines.append(f"{name:<12} {cells[0]:>22} {cells[1]:>22} {ratio:>22} {difference:>9.1e}  {verdict}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engines", description=__doc__)
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--batch", type=int, default=8, help="images per batched call (default 8)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    configure_logging()
    from testbed.standin import build_standin

    threads = available_cores()
    with tempfile.TemporaryDirectory(prefix="standin-") as folder:
        standin = build_standin(Path(folder))
        classifier = Classifier.load(Settings(model=ModelSource(local_dir=str(standin)), engine="torch"))
        batch = torch.randn(
            args.batch, *classifier.data_config["input_size"], generator=torch.Generator().manual_seed(0)
        )
        results = compare_engines(classifier, batch, args.rounds, threads)
    save_results(results, args.out, format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
