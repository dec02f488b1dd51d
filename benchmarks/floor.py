"""The matmul floor: fp32 GEMM rate measured now, the model's FLOPs per image, and the time they need at that rate."""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_flops", "floor", "gemm_rate", "linear_shapes", "measure_gemm", "remeasure_peak"]

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
    return {
        "threads": torch.get_num_threads(),
        "square": square,
        "peak_gflops": max(entry["best_gflops"] for entry in square),
        "model_shapes": model_shapes,
        "model_shapes_gflops": round(total_flops / total_seconds / 1e9, 1),
        "model_linear_ms_at_batch_1": round(1000 * total_seconds, 1),
    }


def remeasure_peak(gemm: dict[str, Any], sizes: tuple[int, ...], repeats: int, sample_flops: float) -> None:
    """Measure the square GEMMs again (at the end of a run) and keep the better peak: on a shared CPU, load from
    elsewhere only ever lowers a rate, so the higher of two measurements is the closer to what the CPU can do."""
    again = max(gemm_rate(size, size, size, repeats, sample_flops)[0] for size in sizes)
    gemm["peak_gflops_first"] = gemm["peak_gflops"]
    gemm["peak_gflops_again"] = round(again, 1)
    gemm["peak_gflops"] = max(gemm["peak_gflops"], gemm["peak_gflops_again"])
    # For reference: one core's rate (issue 5 quoted ~70 GFLOP/s for this machine, about one core's worth).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gemm["one_thread_gflops"] = round(gemm_rate(max(sizes), max(sizes), max(sizes), repeats, sample_flops)[0], 1)
    finally:
        torch.set_num_threads(threads)


def floor(flops: dict[str, Any], gemm: dict[str, Any]) -> dict[str, Any]:
    """The fastest a forward pass could be on this CPU: all its FLOPs at the peak GEMM rate."""
    milliseconds = 1000 * flops["total_gflop"] / gemm["peak_gflops"]
    return {
        "gflop_per_image": flops["total_gflop"],
        "gemm_gflops": gemm["peak_gflops"],
        "ms_per_image": round(milliseconds, 1),
        "images_per_s": round(1000 / milliseconds, 2),
    }
