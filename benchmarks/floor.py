"""The matmul floor: the model's FLOPs per image at the highest GEMM rate any engine here reaches in this run (torch,
OpenVINO's MatMul, ONNX Runtime's; fp32, and bf16 where the CPU has it natively), and the time they need at it."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from model.runtime.devices import cpu_has_native_bf16

__all__ = [
    "add_engine_peaks",
    "count_flops",
    "engine_gemm_peaks",
    "floor",
    "floor_check",
    "gemm_rate",
    "linear_shapes",
    "measure_gemm",
    "remeasure_peak",
]

logger = logging.getLogger(__name__)


def gemm_rate(m: int, k: int, n: int, repeats: int, sample_flops: float = 2e8) -> tuple[float, float]:
    """GFLOP/s of `bias + (m x k) @ (k x n)` in fp32 with torch's current threads: (best, median) over `repeats`
    samples of about `sample_flops` each."""
    a, b, bias = torch.randn(m, k), torch.randn(k, n), torch.randn(n)
    flops = 2 * m * k * n
    # Long enough per sample that the timer and Python overhead do not count (small shapes run many times).
    inner = max(1, int(sample_flops // flops))
    for _ in range(2):
        torch.addmm(bias, a, b)
    rates = []
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        for _ in range(inner):
            torch.addmm(bias, a, b)
        rates.append(inner * flops / (time.perf_counter() - started) / 1e9)
    rates.sort()
    return rates[-1], rates[len(rates) // 2]


def _best_rate(run: Callable[[], object], flops: int, repeats: int, sample_flops: float) -> float:
    """GFLOP/s of `run` (which computes `flops`), the best of `repeats` samples of about `sample_flops` each."""
    inner = max(1, int(sample_flops // flops))
    for _ in range(2):
        run()
    best = 0.0
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        for _ in range(inner):
            run()
        best = max(best, inner * flops / (time.perf_counter() - started) / 1e9)
    return best


def _torch_bf16(size: int) -> Callable[[], object]:
    a, b = torch.randn(size, size, dtype=torch.bfloat16), torch.randn(size, size, dtype=torch.bfloat16)
    return lambda: torch.mm(a, b)


def _openvino(size: int, threads: int, precision: str) -> Callable[[], object]:
    """One MatMul (size x size by a constant size x size) compiled by OpenVINO for the CPU at `precision`."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)
    data = ops.parameter([size, size], np.float32, name="a")
    product = ops.matmul(data, ops.constant(rng.standard_normal((size, size), dtype=np.float32)), False, False)
    model = ov.Model([product], [data], "matmul")
    hint = {"fp32": "f32", "bf16": "bf16"}[precision]
    compiled = ov.Core().compile_model(
        model,
        "CPU",
        {"INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"},
    )
    request = compiled.create_infer_request()
    value = rng.standard_normal((size, size), dtype=np.float32)
    return lambda: request.infer({0: value})


def _onnxruntime(size: int, threads: int) -> Callable[[], object]:
    """One fp32 MatMul (size x size by a constant size x size) in an ONNX Runtime session."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((size, size), dtype=np.float32), name="b")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])],
        "matmul",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [size, size])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [size, size])],
        [weight],
    )
    # IR version 10: what ONNX Runtime 1.2x reads (the onnx package writes a newer one by default).
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        onnx.shape_inference.infer_shapes(model).SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    value = rng.standard_normal((size, size), dtype=np.float32)
    return lambda: session.run(None, {"a": value})


def engine_gemm_peaks(sizes: tuple[int, ...], repeats: int, sample_flops: float, threads: int) -> dict[str, Any]:
    """The best square-GEMM rate of every engine installed, besides torch fp32 (`measure_gemm`): OpenVINO's and ONNX
    Runtime's fp32 MatMul, and torch's and OpenVINO's bf16 where the CPU has native bf16. Each value is
    {"gflops", "size"}; an engine that cannot run here gets {"error"}.

    One library's GEMM can understate a CPU: its kernels may be chosen for another vendor's cores (or cap at AVX2
    where AVX-512 is there), so the peak is the highest rate of all of them, measured in the same run.
    """
    makers: dict[str, Callable[[int], Callable[[], object]]] = {
        "openvino fp32": lambda size: _openvino(size, threads, "fp32"),
        "onnxruntime fp32": lambda size: _onnxruntime(size, threads),
    }
    if cpu_has_native_bf16():
        makers["torch bf16"] = _torch_bf16
        makers["openvino bf16"] = lambda size: _openvino(size, threads, "bf16")
    peaks: dict[str, Any] = {}
    for name, make in makers.items():
        try:
            best, best_size = 0.0, sizes[0]
            for size in sizes:
                rate = _best_rate(make(size), 2 * size**3, repeats, sample_flops)
                if rate > best:
                    best, best_size = rate, size
            peaks[name] = {"gflops": round(best, 1), "size": best_size}
        except Exception as error:  # an engine missing or failing here is reported, not fatal to the run
            logger.warning("No GEMM peak for %s: %s", name, error)
            peaks[name] = {"error": f"{type(error).__name__}: {error}"[:200]}
    return peaks


def _set_peaks(gemm: dict[str, Any]) -> None:
    """`peak_gflops` (fp32) and `bf16_peak_gflops`: the highest rate of any engine, with the engine's name."""
    rates = {"torch fp32": gemm["torch_peak_gflops"]}
    rates |= {name: entry["gflops"] for name, entry in gemm.get("engine_peaks", {}).items() if "gflops" in entry}
    for precision, key in (("fp32", "peak_gflops"), ("bf16", "bf16_peak_gflops")):
        candidates = {name: rate for name, rate in rates.items() if name.endswith(precision)}
        if candidates:
            engine = max(candidates, key=candidates.__getitem__)
            gemm[key], gemm[f"{key}_engine"] = candidates[engine], engine


def linear_shapes(model: torch.nn.Module, input_size: tuple[int, int, int]) -> Counter[tuple[int, int, int]]:
    """The (M, K, N) GEMMs of one image's forward pass: every Linear, and the patch-embedding conv as a GEMM."""
    shapes: Counter[tuple[int, int, int]] = Counter()

    def on_linear(module: torch.nn.Linear, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        rows = inputs[0].numel() // module.in_features
        shapes[(rows, module.in_features, module.out_features)] += 1

    def on_conv(module: torch.nn.Conv2d, _inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        kernel = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        shapes[(output.shape[0] * output.shape[2] * output.shape[3], kernel, module.out_channels)] += 1

    handles = [
        module.register_forward_hook(on_linear if isinstance(module, torch.nn.Linear) else on_conv)
        for module in model.modules()
        if isinstance(module, torch.nn.Linear | torch.nn.Conv2d)
    ]
    try:
        with torch.inference_mode():
            model(torch.zeros(1, *input_size))
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def count_flops(model: torch.nn.Module, input_size: tuple[int, int, int]) -> dict[str, Any]:
    """FLOPs of one image: linear layers (and convs) counted by torch's FlopCounterMode, attention added
    analytically (QK^T and attention x V: 2 x 2 x heads x N^2 x head_dim per block), unless the counter saw it."""
    attention = 0
    tokens_seen: list[int] = []

    def on_attention(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        nonlocal attention
        batch, tokens, _ = inputs[0].shape
        attention += 2 * 2 * batch * module.num_heads * tokens * tokens * module.head_dim
        tokens_seen.append(tokens)

    handles = [
        module.register_forward_hook(on_attention)
        for module in model.modules()
        if hasattr(module, "num_heads") and hasattr(module, "head_dim") and hasattr(module, "qkv")
    ]
    try:
        with FlopCounterMode(display=False) as counter, torch.inference_mode():
            model(torch.zeros(1, *input_size))
    finally:
        for handle in handles:
            handle.remove()
    counted = {str(op): int(value) for op, value in counter.get_flop_counts()["Global"].items()}
    attention_counted = sum(value for op, value in counted.items() if "scaled_dot_product" in op or "bmm" in op)
    linear = sum(value for op, value in counted.items() if op not in {"aten.bmm"} and "scaled_dot_product" not in op)
    if attention_counted:
        attention, source = attention_counted, "flop counter"
    else:
        source = "analytic (the counter does not see CPU scaled_dot_product_attention)"
    return {
        "linear_gflop": round(linear / 1e9, 3),
        "attention_gflop": round(attention / 1e9, 3),
        "total_gflop": round((linear + attention) / 1e9, 3),
        "attention_source": source,
        "tokens": tokens_seen[0] if tokens_seen else None,
        "blocks_with_attention": len(tokens_seen),
        "counted_by_flop_counter_gflop": {op: round(value / 1e9, 3) for op, value in counted.items()},
    }


def measure_gemm(
    model: torch.nn.Module,
    input_size: tuple[int, int, int],
    sizes: tuple[int, ...],
    repeats: int,
    sample_flops: float = 2e8,
) -> dict[str, Any]:
    """Square GEMMs (the peak) and the model's own linear shapes at batch 1 (what one image's forward can get)."""
    square = []
    for size in sizes:
        best, median = gemm_rate(size, size, size, repeats, sample_flops)
        square.append({"size": size, "best_gflops": round(best, 1), "median_gflops": round(median, 1)})
    model_shapes = []
    total_flops = total_seconds = 0.0
    for (m, k, n), count in sorted(linear_shapes(model, input_size).items()):
        best, median = gemm_rate(m, k, n, repeats, sample_flops)
        flops = 2 * m * k * n * count
        total_flops += flops
        total_seconds += flops / (best * 1e9)
        model_shapes.append({"m": m, "k": k, "n": n, "count": count, "best_gflops": round(best, 1)})
    peak = max(entry["best_gflops"] for entry in square)
    return {
        "threads": torch.get_num_threads(),
        "square": square,
        "torch_peak_gflops": peak,
        "peak_gflops": peak,
        "peak_gflops_engine": "torch fp32",
        "model_shapes": model_shapes,
        "model_shapes_gflops": round(total_flops / total_seconds / 1e9, 1),
        "model_linear_ms_at_batch_1": round(1000 * total_seconds, 1),
    }


def remeasure_peak(gemm: dict[str, Any], sizes: tuple[int, ...], repeats: int, sample_flops: float) -> None:
    """Measure the square GEMMs again (at the end of a run) and keep the better peak: on a shared CPU, load from
    elsewhere only ever lowers a rate, so the higher of two measurements is the closer to what the CPU can do."""
    again = max(gemm_rate(size, size, size, repeats, sample_flops)[0] for size in sizes)
    gemm["peak_gflops_first"] = gemm["torch_peak_gflops"]
    gemm["peak_gflops_again"] = round(again, 1)
    gemm["torch_peak_gflops"] = max(gemm["torch_peak_gflops"], gemm["peak_gflops_again"])
    _set_peaks(gemm)
    # For reference: one core's rate (issue 5 quoted ~70 GFLOP/s for this machine, about one core's worth).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gemm["one_thread_gflops"] = round(gemm_rate(max(sizes), max(sizes), max(sizes), repeats, sample_flops)[0], 1)
    finally:
        torch.set_num_threads(threads)


def add_engine_peaks(gemm: dict[str, Any], sizes: tuple[int, ...], repeats: int, sample_flops: float) -> None:
    """Measure every other engine's GEMM peak (`engine_gemm_peaks`) into `gemm` and take the highest per precision."""
    gemm["engine_peaks"] = engine_gemm_peaks(sizes, repeats, sample_flops, torch.get_num_threads())
    _set_peaks(gemm)


def floor(flops: dict[str, Any], gemm: dict[str, Any], precision: str = "fp32") -> dict[str, Any]:
    """The fastest a forward pass could be on this CPU at `precision`: all its FLOPs at that precision's peak GEMM
    rate (the highest any engine reached), or {} when no bf16 peak was measured."""
    key = "peak_gflops" if precision == "fp32" else f"{precision}_peak_gflops"
    if key not in gemm:
        return {}
    milliseconds = 1000 * flops["total_gflop"] / gemm[key]
    return {
        "precision": precision,
        "gflop_per_image": flops["total_gflop"],
        "gemm_gflops": gemm[key],
        "gemm_engine": gemm.get(f"{key}_engine", "torch fp32"),
        "ms_per_image": round(milliseconds, 1),
        "images_per_s": round(1000 / milliseconds, 2),
    }


def floor_check(bound: dict[str, Any], engines: dict[str, Any], precision: str) -> dict[str, Any] | None:
    """The fastest measured engine of `precision` that beats the floor `bound` (images/s above it), or None.

    A floor some engine beats is not a floor: the GEMM peak under it understates the CPU (a kernel the engines
    do not use, or a shape they avoid), and the report says so instead of printing a ratio above 1.
    """
    if not bound:
        return None
    beaten = []
    for name, entry in engines.get("engines", {}).items():
        if ("bf16" in name) != (precision == "bf16") or "batched" not in entry:
            continue
        rate = 1000 / entry["batched"]["median_ms_per_image"]
        if rate > bound["images_per_s"]:
            beaten.append((rate, name))
    if not beaten:
        return None
    rate, name = max(beaten)
    return {"engine": name, "images_per_s": round(rate, 2), "times_the_floor": round(rate / bound["images_per_s"], 3)}
