"""Ratios, targets and the printed table, all computed from one run's results; and the reference section of
docs/PERFORMANCE.md, rendered from a saved run."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .engines import format_table as format_engines

__all__ = [
    "BEGIN_MARKER",
    "END_MARKER",
    "TARGETS",
    "format_markdown",
    "format_reference",
    "format_table",
    "ratios",
    "targets",
    "update_document",
]

#: The targets (issue 5, re-based by issue 14 on the measured floor and the engine in use), each as (name, the
#: ratio or value it bounds, comparison, limit).
TARGETS: tuple[tuple[str, str, str, float], ...] = (
    ("app vs the card's snippet in a plain gr.Interface, images/s (8 HTTP clients)", "app_vs_peer", ">=", 1.4),
    ("8 clients' images/s vs the bare batched forward of the engine in use", "clients_8_vs_engine", ">=", 0.8),
    ("8 clients' images/s vs the bare batched forward of the card's torch", "clients_8_vs_torch", ">=", 0.85),
    ("fp32 engine in use, batched images/s vs the fp32 GEMM roofline", "engine_vs_roofline", ">=", 0.8),
    ("bf16 images/s vs the fp32 engine in use (CPUs with native bf16)", "bf16_vs_engine", ">=", 1.3),
    ("bf16: largest probability difference vs fp32", "bf16_difference", "<=", 0.01),
    ("12 MP JPEG through the API (gradio_client, one SSL context) vs the card", "api_camera_vs_card", "<=", 0.6),
    ("12 MP JPEG through the API (plain HTTP) vs the model card's pipeline", "api_http_camera_vs_card", "<=", 0.6),
    ("600x400 through the API (gradio_client) vs the engine's bare forward", "api_small_vs_forward", "<=", 1.25),
    ("600x400 through the API (plain HTTP) vs the engine's bare forward", "api_http_small_vs_forward", "<=", 1.25),
    (
        "600x400 through POST /v1/classify vs the in-process path (decode + predict)",
        "api_rest_small_vs_ours",
        "<=",
        1.15,
    ),
    ("12 MP JPEG through POST /v1/classify vs the model card's pipeline", "api_rest_camera_vs_card", "<=", 0.5),
    (
        "8 JSON API (/v1) clients' images/s vs the bare batched forward of the engine in use",
        "rest_8_vs_engine",
        ">=",
        0.8,
    ),
    ("errors with 8 clients", "clients_8_errors", "<=", 0),
    ("errors with 16 clients", "clients_16_errors", "<=", 0),
    ("largest queue with 16 clients (bounded by the clients)", "clients_16_max_queue", "<=", 16),
    ("threshold change, server ms (median)", "threshold_server_ms", "<", 50.0),
    ("model calls during threshold changes", "threshold_model_calls", "<=", 0),
    ("cold start to ready, s (median of the starts after the first)", "cold_start_s", "<=", 10.0),
    ("first start of a revision to ready, s (engine export included)", "first_start_s", "<=", 10.0),
    ("peak memory under 8-client load, MB", "peak_rss_mb_8_clients", "<=", 1500e6 / 2**20),
)


#: What is compared with the model card's pipeline: our classifier in-process, the app through gradio_client (with
#: one SSL context, as the README recommends, and with its defaults), through Gradio's plain HTTP call API, and
#: through the JSON API (POST /v1/classify).
PIPELINES = ("ours", "api", "api_default", "api_http", "api_rest")


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def _level(results: dict[str, Any], clients: int) -> dict[str, Any] | None:
    for level in results.get("api", {}).get("throughput", []):
        if level["clients"] == clients:
            return level
    return None


def _rest_level(results: dict[str, Any], clients: int) -> dict[str, Any] | None:
    """The JSON API (/v1) level with `clients` clients, if the run has one."""
    return next(
        (level for level in results.get("api", {}).get("throughput_rest", []) if level["clients"] == clients), None
    )


def ratios(results: dict[str, Any]) -> dict[str, float | None]:
    """Every ratio the table and the targets use, from the medians of one run."""
    latency = results["latency_ms"]
    floor = results["floor"]["floor"]
    forward = latency["bare_forward"]["median_ms"]
    values: dict[str, float | None] = {}
    for role in latency["card"]:
        card = latency["card"][role]["median_ms"]
        for pipeline in PIPELINES:
            measured = latency.get(pipeline, {}).get(role)
            value = measured["median_ms"] if measured else None
            values[f"{pipeline}_{role}_vs_card"] = _ratio(value, card)
            values[f"{pipeline}_{role}_vs_floor"] = _ratio(value, floor["ms_per_image"])
        values[f"card_{role}_vs_floor"] = _ratio(card, floor["ms_per_image"])
    ours_small = latency.get("ours", {}).get("small")
    for pipeline in PIPELINES:
        small = latency.get(pipeline, {}).get("small")
        values[f"{pipeline}_small_vs_forward"] = _ratio(small["median_ms"] if small else None, forward)
        # What the HTTP layer adds on top of the in-process path (decode_image + predict) for one small image.
        values[f"{pipeline}_small_vs_ours"] = _ratio(
            small["median_ms"] if small else None, ours_small["median_ms"] if ours_small else None
        )
    values["forward_vs_floor"] = _ratio(forward, floor["ms_per_image"])
    for level in results.get("api", {}).get("throughput", []):
        values[f"clients_{level['clients']}_vs_floor"] = _ratio(level["images_per_s"], floor["images_per_s"])
    for level in results.get("api", {}).get("throughput_gradio_client", []):
        key = f"gradio_client_{level['clients']}_vs_floor"
        values[key] = _ratio(level["images_per_s"], floor["images_per_s"])
    for level in results.get("api", {}).get("throughput_rest", []):
        values[f"rest_{level['clients']}_vs_floor"] = _ratio(level["images_per_s"], floor["images_per_s"])
    values.update(_engine_ratios(results))
    return values


def _images_per_s(entry: dict[str, Any] | None) -> float | None:
    return 1000 / entry["batched"]["median_ms_per_image"] if entry else None


def _vs_engine(level: dict[str, Any] | None, in_use: float | None) -> float | None:
    """A throughput level against the engine's bare batched forward pass: the median of its rounds' ratios to the
    pass measured just before each (benchmarks.api.throughput_rounds), else against the engines section's median."""
    if not level:
        return None
    if level.get("vs_engine") is not None:
        return level["vs_engine"]
    return _ratio(level["images_per_s"], in_use)


def _engine_ratios(results: dict[str, Any]) -> dict[str, float | None]:
    """The re-based ratios (issue 14): against the peer, the engines' bare batched forward passes and the roofline."""
    engines = results.get("engines", {})
    measured = engines.get("engines", {})
    in_use = _images_per_s(measured.get(engines.get("in_use", "torch")))
    torch_rate = _images_per_s(measured.get("torch"))
    eight = _level(results, 8)
    clients = eight["images_per_s"] if eight else None
    # The bf16 path shipped: NSFW_PRECISION=bf16 runs OpenVINO (f32 adds) where it is installed, else torch autocast.
    bf16 = measured.get("openvino bf16") or measured.get("torch bf16")
    peer = results.get("api", {}).get("peer")
    rest = _rest_level(results, 8)
    # A floor that an engine beats is not a floor: no ratio above 1 is printed, the report says the floor is wrong.
    beaten = results["floor"].get("beaten_by")
    return {
        "app_vs_peer": peer["app_vs_peer"] if peer else None,
        "clients_8_vs_engine": _vs_engine(eight, in_use),
        "clients_8_vs_torch": _ratio(clients, torch_rate),
        "rest_8_vs_engine": _vs_engine(rest, in_use),
        "engine_vs_roofline": None if beaten else _ratio(in_use, results["floor"]["floor"]["images_per_s"]),
        "bf16_vs_engine": _ratio(_images_per_s(bf16), in_use),
        "bf16_vs_torch": _ratio(_images_per_s(bf16), torch_rate),
        "bf16_difference": round(bf16["max_probability_difference_vs_torch"], 5) if bf16 else None,
    }


def _levels(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every throughput level, plain HTTP first, each with its ratio to the floor."""
    api, ratio = results.get("api", {}), results["ratios"]
    levels = []
    for level in api.get("throughput", []):
        levels.append({**level, "vs_floor": ratio.get(f"clients_{level['clients']}_vs_floor")})
    for level in api.get("throughput_gradio_client", []):
        levels.append({**level, "vs_floor": ratio.get(f"gradio_client_{level['clients']}_vs_floor")})
    for level in api.get("throughput_rest", []):
        levels.append({**level, "vs_floor": ratio.get(f"rest_{level['clients']}_vs_floor")})
    return levels


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 5's targets with the measured value and whether it was met (None: not measured in this run)."""
    api = results.get("api", {})
    measured = dict(results["ratios"])
    for clients in (8, 16):
        level = _level(results, clients)
        measured[f"clients_{clients}_errors"] = level["errors"] if level else None
        measured[f"clients_{clients}_max_queue"] = level["max_queue_size"] if level else None
    eight = _level(results, 8)
    measured["peak_rss_mb_8_clients"] = eight["peak_rss_mb"] if eight else None
    threshold = api.get("threshold_change")
    measured["threshold_server_ms"] = threshold["server_ms"]["median_ms"] if threshold else None
    measured["threshold_model_calls"] = threshold["model_calls"] if threshold else None
    cold = api.get("cold_start")
    measured["cold_start_s"] = cold["ready_s"] if cold else None
    measured["first_start_s"] = cold.get("first_ready_s") if cold else None
    rows = []
    for name, key, comparison, limit in TARGETS:
        value = measured.get(key)
        if value is None:
            met = None
        elif comparison == "<=":
            met = value <= limit
        elif comparison == "<":
            met = value < limit
        else:
            met = value >= limit
        row = {"target": name, "key": key, "value": value, "comparison": comparison, "limit": limit, "met": met}
        if key == "engine_vs_roofline" and results["floor"].get("beaten_by"):
            row["note"] = floor_wrong(results["floor"]["beaten_by"], results["floor"]["floor"])
        rows.append(row)
    return rows


def floor_wrong(beaten: dict[str, Any], bound: dict[str, Any]) -> str:
    """What the report says instead of a ratio above 1 when an engine beats the floor."""
    return (
        f"the floor is wrong: {beaten['engine']} runs at {beaten['images_per_s']:.2f} images/s, "
        f"{beaten['times_the_floor']:.2f}x the floor's {bound['images_per_s']:.2f} (peak {bound['gemm_gflops']:.0f} "
        f"GFLOP/s from {bound.get('gemm_engine', 'torch fp32')}); some engine's GEMM outruns every one measured"
    )


def _verdict(row: dict[str, Any], markdown: bool = False) -> str:
    if row.get("note"):
        return "floor wrong"
    return {True: "met", False: "**not met**" if markdown else "NOT met", None: "not measured"}[row["met"]]


def _floor_lines(results: dict[str, Any]) -> list[str]:
    """Every engine's GEMM peak and what each floor rests on; a floor an engine beats is called wrong."""
    floor = results["floor"]
    gemm = floor["gemm"]
    peaks = {"torch fp32": {"gflops": gemm.get("torch_peak_gflops", gemm["peak_gflops"])}}
    peaks |= gemm.get("engine_peaks", {})
    shown = ", ".join(
        f"{name} {entry['gflops']:.0f}" if "gflops" in entry else f"{name} failed" for name, entry in peaks.items()
    )
    lines = [f"GEMM peaks this run, GFLOP/s: {shown}."]
    bf16 = floor.get("bf16_floor")
    if bf16:
        lines.append(
            f"bf16 floor: {bf16['ms_per_image']:.1f} ms per image, {bf16['images_per_s']:.2f} images/s "
            f"(peak {bf16['gemm_gflops']:.0f} GFLOP/s from {bf16['gemm_engine']})."
        )
    for key, bound in (("beaten_by", floor["floor"]), ("bf16_beaten_by", bf16)):
        if floor.get(key):
            lines.append(f"Note: {floor_wrong(floor[key], bound)}.")
    return lines


def _cell(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


def _text_header(header: str) -> list[str]:
    """A plain-text table's header after a blank line, ruled off below."""
    return ["", header, "-" * len(header)]


def _threshold_change_line(change: dict[str, Any]) -> str:
    return (
        f"\nThreshold change: {change['server_ms']['median_ms']:.1f} ms server time (median of {change['changes']}), "
        f"{change['round_trip_ms']['median_ms']:.1f} ms round trip, {change['model_calls']} model calls"
    )


def _cold_start_line(cold: dict[str, Any]) -> str:
    return (
        f"Cold start (warm HF cache, offline): listening {cold['listening_s']:.2f} s, "
        f"model ready {cold['ready_s']:.2f} s; first start of the revision (engine export) "
        f"{cold.get('first_ready_s', 0):.2f} s"
    )


def _peer_line(peer: dict[str, Any]) -> str:
    return (
        f"App vs the card's snippet in a gr.Interface, {peer['clients']} HTTP clients, {peer['rounds']} "
        f"interleaved rounds: {peer['app']['images_per_s']} vs {peer['peer']['images_per_s']} images/s, "
        f"median ratio {peer['app_vs_peer']:.2f}x"
    )


def _nudenet_line(nudenet: dict[str, Any]) -> str:
    if "error" in nudenet:
        return f"NudeNet: {nudenet['error']}"
    return (
        f"NudeNet {nudenet['version']} vs ours on the same {nudenet['images_per_round']} {nudenet['sizes']}, "
        f"{nudenet['threads']} threads, one process each: {nudenet['nudenet']['images_per_s']:.2f} vs "
        f"{nudenet['ours']['images_per_s']:.2f} images/s (another model and task)"
    )


# The optional lines under the API table, in order: the key in results["api"] -> its line.
_API_LINES: dict[str, Callable[[dict[str, Any]], str]] = {
    "threshold_change": _threshold_change_line,
    "cold_start": _cold_start_line,
    "peer": _peer_line,
    "nudenet": _nudenet_line,
}


def format_table(results: dict[str, Any]) -> str:
    """The human-readable summary printed at the end of a run."""
    lines: list[str] = []
    meta = results["meta"]
    floor = results["floor"]
    flops, gemm, bound = floor["flops"], floor["gemm"], floor["floor"]
    lines.append(
        f"Profile {meta['profile']} on {meta['cpu']} ({meta['cores']} cores, torch {meta['torch_threads']} threads); "
        f"load average {meta['load_average_start'][0]:.2f} at start, {meta['load_average_end'][0]:.2f} at end"
    )
    lines.append(
        f"Floor: {flops['total_gflop']:.2f} GFLOP/image ({flops['linear_gflop']:.2f} linear + "
        f"{flops['attention_gflop']:.2f} attention) at {gemm['peak_gflops']:.1f} GFLOP/s peak fp32 GEMM "
        f"(model's shapes at batch 1: {gemm['model_shapes_gflops']:.1f}) = {bound['ms_per_image']:.1f} ms/image, "
        f"{bound['images_per_s']:.2f} images/s"
    )
    if "peak_gflops_again" in gemm:
        lines.append(
            f"GEMM peak at start {gemm['peak_gflops_first']:.1f}, at end {gemm['peak_gflops_again']:.1f} GFLOP/s "
            f"(the higher is used); one thread {gemm['one_thread_gflops']:.1f} GFLOP/s"
        )
    lines += _floor_lines(results)
    latency = results["latency_ms"]
    ratio = results["ratios"]
    lines += _text_header(
        f"{'median ms':<15}{'card':>8}{'ours':>8}{'client':>8}{'default':>9}{'HTTP':>8}{'again':>8}"
        f"{'ours/card':>11}{'client/card':>13}{'HTTP/card':>11}{'HTTP/floor':>12}"
    )

    def median(pipeline: str, role: str) -> float | None:
        return latency.get(pipeline, {}).get(role, {}).get("median_ms")

    for role, image in results["images"].items():
        lines.append(
            f"{image['label']:<15}{_cell(median('card', role)):>8}{_cell(median('ours', role)):>8}"
            f"{_cell(median('api', role)):>8}{_cell(median('api_default', role)):>9}"
            f"{_cell(median('api_http', role)):>8}"
            f"{_cell(median('api_resubmit', role)):>8}"
            f"{_cell(ratio[f'ours_{role}_vs_card'], 2):>11}{_cell(ratio[f'api_{role}_vs_card'], 2):>13}"
            f"{_cell(ratio[f'api_http_{role}_vs_card'], 2):>11}{_cell(ratio[f'api_http_{role}_vs_floor'], 2):>12}"
        )
    forward = latency["bare_forward"]["median_ms"]
    lines.append(
        f"{'bare forward':<15}{'':>8}{forward:>8.1f}{'':>41}{'':>11}{'':>13}{'':>11}"
        f"{_cell(ratio['forward_vs_floor'], 2):>12}"
    )
    lines.append(f"{'floor':<15}{'':>8}{bound['ms_per_image']:>8.1f}")
    lines.append(
        "client: gradio_client with one SSL context (README); default: gradio_client's defaults (a new SSL "
        "context per request); HTTP: Gradio's plain HTTP call API; again: the same bytes re-sent by the same "
        "gradio_client (its session's result cache). "
        f"600x400 over the bare forward pass: client {_cell(ratio['api_small_vs_forward'], 2)}, "
        f"HTTP {_cell(ratio['api_http_small_vs_forward'], 2)}"
    )
    if latency.get("api_rest"):
        lines.append(
            f"JSON API (POST /v1/classify): 600x400 {_cell(median('api_rest', 'small'))} ms "
            f"({_cell(ratio['api_rest_small_vs_ours'], 2)}x in-process; Gradio HTTP "
            f"{_cell(ratio['api_http_small_vs_ours'], 2)}x, gradio_client {_cell(ratio['api_small_vs_ours'], 2)}x), "
            f"{results['images']['camera']['label']} {_cell(median('api_rest', 'camera'))} ms "
            f"({_cell(ratio['api_rest_camera_vs_card'], 2)}x the card; Gradio HTTP "
            f"{_cell(ratio['api_http_camera_vs_card'], 2)}x)"
        )
    api = results.get("api", {})
    if api.get("throughput"):
        lines += _text_header(
            f"{'client':<15}{'clients':>8}{'images/s':>10}{'/floor':>8}{'errors':>8}{'p50 ms':>9}{'max queue':>11}"
            f"{'peak MB':>9}{'app CPU ms/img':>16}{'client CPU ms/img':>19}"
        )
        for level in _levels(results):
            p50 = level["latency_ms"]["median_ms"] if level["latency_ms"] else None
            lines.append(
                f"{level['client']:<15}{level['clients']:>8}{level['images_per_s']:>10.2f}"
                f"{_cell(level['vs_floor'], 2):>8}{level['errors']:>8}"
                f"{_cell(p50):>9}{_cell(level['max_queue_size'], 0):>11}{level['peak_rss_mb']:>9.0f}"
                f"{_cell(level['app_cpu_ms_per_image']):>16}{_cell(level['client_cpu_ms_per_image']):>19}"
            )
    lines += [describe(api[key]) for key, describe in _API_LINES.items() if api.get(key)]
    if results.get("engines"):
        lines += ["", format_engines(results["engines"]), f"Engine in use: {results['engines']['in_use']}"]
    lines.append("")
    for row in results["targets"]:
        value = row.get("note") or ("-" if row["value"] is None else f"{row['value']:g}")
        lines.append(f"  [{_verdict(row):^12}] {row['target']}: {value} ({row['comparison']} {row['limit']:g})")
    return "\n".join(lines)


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _markdown_table(header: list[str], rows: list[list[object]]) -> list[str]:
    return [_row(*header), _row(*(["---"] * len(header))), *(_row(*row) for row in rows)]


def _throughput_table(
    results: dict[str, Any], latency_header: str, latency: Callable[[dict[str, Any] | None], str]
) -> list[str]:
    """Every throughput level as a Markdown table; `latency` renders a level's latency stats (None: not timed)."""
    rows = [
        [
            level["client"],
            level["clients"],
            _level_rate(level),
            _cell(level["vs_floor"], 2),
            level["errors"],
            latency(level["latency_ms"]),
            _cell(level["max_queue_size"], 0),
            _cell(level["peak_rss_mb"], 0),
            _cell(level["app_cpu_ms_per_image"]),
            _cell(level["client_cpu_ms_per_image"]),
        ]
        for level in _levels(results)
    ]
    header = ["client", "clients", "images/s", "vs floor", "errors", latency_header, "largest queue", "peak RSS MB"]
    return _markdown_table([*header, "app CPU ms/image", "client CPU ms/image"], rows)


def _experiment_tables(experiments: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    threads = experiments.get("threads")
    if threads:
        rows = [[name, _cell(stats["median_ms"])] for name, stats in threads["forward_ms"].items()]
        lines += ["", "Torch threads, one forward pass (median ms):", ""]
        lines += _markdown_table(["threads", "ms"], rows)
        rows = [[name, _cell(value, 2)] for name, value in threads["images_per_s"].items()]
        lines += ["", "Forward passes back to back (images/s):", ""]
        lines += _markdown_table(["inference workers", "images/s"], rows)
    batches = experiments.get("batch_sizes")
    if batches:
        rows = [[name, _cell(value)] for name, value in batches["ms_per_image"].items()]
        lines += ["", "Batched forward pass (median ms per image):", ""]
        lines += _markdown_table(["batch", "ms/image"], rows)
    variants = experiments.get("forward_variants")
    if variants:
        rows = [
            [name, _cell(stats["median_ms"]), _cell(variants["vs_shipped"][name], 2)]
            for name, stats in variants["forward_ms"].items()
        ]
        lines += ["", "Forward-pass variants, batch 1 (median ms):", ""]
        lines += _markdown_table(["variant", "ms", "vs shipped"], rows)
        if "torch.compile first call s" in variants:
            lines.append(f"\ntorch.compile's first call took {variants['torch.compile first call s']} s.")
    for decoding in experiments.get("decoding", {}).values():
        rows = [
            [name, _cell(stats["median_ms"]), f"{decoding['nsfw_score_difference_vs_exact'][name]:.5f}"]
            for name, stats in decoding["decode_and_preprocess_ms"].items()
        ]
        lines += ["", f"Decoding and preprocessing the {decoding['label']} (median ms; NSFW score vs exact):", ""]
        lines += _markdown_table(["path", "ms", "score difference"], rows)
    configurations = experiments.get("app_configurations")
    if configurations:
        rows = [
            [
                name,
                _cell(level["images_per_s"], 2),
                level["errors"],
                _cell(level["latency_ms"]["median_ms"] if level["latency_ms"] else None),
                _cell(level["app_cpu_ms_per_image"]),
            ]
            for name, level in configurations.items()
        ]
        clients = next(iter(configurations.values()))["clients"]
        lines += ["", f"The app under {clients} plain-HTTP clients, distinct 600x400 JPEGs:", ""]
        lines += _markdown_table(["/classify", "images/s", "errors", "median latency ms", "app CPU ms/image"], rows)
    concurrent = experiments.get("concurrent_requests")
    if concurrent:
        rows = [[name, _cell(value, 2)] for name, value in concurrent["images_per_s"].items()]
        lines += ["", f"{concurrent['requests']} distinct small JPEGs decoded and classified (images/s):", ""]
        lines += _markdown_table(["requests", "images/s"], rows)
        if "lone_request_ms" in concurrent:
            rows = [[name, _cell(stats["median_ms"])] for name, stats in concurrent["lone_request_ms"].items()]
            lines += ["", "One request at a time, decoded and classified (median ms):", ""]
            lines += _markdown_table(["forward passes", "ms"], rows)
    return lines


def format_markdown(results: dict[str, Any]) -> str:
    """The same results as Markdown tables, for docs/PERFORMANCE.md."""
    meta, latency, ratio = results["meta"], results["latency_ms"], results["ratios"]
    flops, gemm, bound = results["floor"]["flops"], results["floor"]["gemm"], results["floor"]["floor"]
    lines = [
        f"Profile `{meta['profile']}`, {meta['cpu']}, {meta['cores']} cores, torch {meta['torch']} with "
        f"{meta['torch_threads']} threads, commit {meta['git_commit']}; load average "
        f"{meta['load_average_start'][0]:.2f} at start, {meta['load_average_end'][0]:.2f} at end.",
        "",
        f"Floor: {flops['total_gflop']:.2f} GFLOP per image ({flops['linear_gflop']:.2f} in linear layers, "
        f"{flops['attention_gflop']:.2f} in attention) at {gemm['peak_gflops']:.1f} GFLOP/s (peak fp32 GEMM) = "
        f"**{bound['ms_per_image']:.1f} ms per image, {bound['images_per_s']:.2f} images/s**.",
        "",
    ]

    def median(pipeline: str, role: str) -> str:
        return _cell(latency.get(pipeline, {}).get(role, {}).get("median_ms"))

    rows = [
        [
            image["label"],
            median("card", role),
            median("ours", role),
            median("api", role),
            median("api_default", role),
            median("api_http", role),
            median("api_resubmit", role),
            _cell(ratio[f"ours_{role}_vs_card"], 2),
            _cell(ratio[f"api_{role}_vs_card"], 2),
            _cell(ratio[f"api_http_{role}_vs_card"], 2),
        ]
        for role, image in results["images"].items()
    ]
    rows.append(["bare forward pass", "", _cell(latency["bare_forward"]["median_ms"]), "", "", "", "", "", "", ""])
    rows.append(["floor", "", _cell(bound["ms_per_image"]), "", "", "", "", "", "", ""])
    lines += _markdown_table(
        [
            "median ms",
            "model card",
            "ours",
            "API (gradio_client, one SSL context)",
            "API (gradio_client, defaults)",
            "API (HTTP)",
            "same bytes again (gradio_client, same session)",
            "ours / card",
            "client / card",
            "HTTP / card",
        ],
        rows,
    )
    if results.get("api", {}).get("throughput"):
        lines += ["", "Concurrent API clients, each sending distinct 600x400 JPEGs back to back:", ""]
        lines += _throughput_table(
            results, "median latency ms", lambda stats: _cell(stats["median_ms"] if stats else None)
        )
    rows = [
        [
            row["target"],
            row.get("note") or ("-" if row["value"] is None else f"{row['value']:g}"),
            f"{row['comparison']} {row['limit']:g}",
            _verdict(row, markdown=True),
        ]
        for row in results["targets"]
    ]
    lines += ["", "Targets (issue 5):", ""]
    lines += _markdown_table(["target", "measured", "limit", ""], rows)
    if results.get("experiments"):
        lines += _experiment_tables(results["experiments"])
    return "\n".join(lines)


#: The lines around the generated section of docs/PERFORMANCE.md; everything between them is replaced.
BEGIN_MARKER = "<!-- generated by benchmarks.report: begin (edit the JSON's run, not this section) -->"
END_MARKER = "<!-- generated by benchmarks.report: end -->"


def _spread(low: float | None, high: float | None, digits: int = 1) -> str:
    if low is None or high is None:
        return ""
    return f"{low:.{digits}f}–{high:.{digits}f}"


def _timed(stats: dict[str, Any] | None, digits: int = 1) -> str:
    """A median with its spread over the timed rounds: `70.5 (65.7–94.0)`."""
    if not stats:
        return "-"
    return f"{stats['median_ms']:.{digits}f} ({_spread(stats['min_ms'], stats['max_ms'], digits)})"


def _level_rate(level: dict[str, Any], digits: int = 2) -> str:
    """A throughput level's images/s: the median round with the slowest and fastest in brackets when it ran more
    than once."""
    rounds = level.get("rounds_images_per_s") or []
    if len(rounds) < 2:
        return _cell(level["images_per_s"], digits)
    return f"{level['images_per_s']:.{digits}f} ({_spread(min(rounds), max(rounds), digits)})"


def _level_clients(name: str, level: dict[str, Any] | None) -> str:
    """`8 clients 25.26 (23.1–27.0) images/s over 5 rounds; ` for a target's spread ('' without the level)."""
    if not level:
        return ""
    rounds = len(level.get("rounds_images_per_s") or [])
    over = f" over {rounds} rounds" if rounds > 1 else ""
    return f"{name} {_level_rate(level)} images/s{over}; "


def _paired_spread(level: dict[str, Any] | None) -> str:
    """`rounds 0.75–0.82 (29.07 (28.82–31.35) images/s; engine 36.1–38.9 images/s just before each)` for a level
    paired with the engine ('' for one that is not)."""
    if not level or not level.get("vs_engine_rounds"):
        return ""
    ratios, rates = level["vs_engine_rounds"], level["engine_images_per_s_rounds"]
    return (
        f"rounds {_spread(min(ratios), max(ratios), 2)} ({_level_rate(level)} images/s; engine "
        f"{_spread(min(rates), max(rates))} images/s just before each)"
    )


def _engine_rate(entry: dict[str, Any] | None) -> str:
    """An engine's batched images/s over its rounds, slowest to fastest."""
    if not entry:
        return "-"
    batched = entry["batched"]
    return _spread(1000 / batched["max_ms_per_image"], 1000 / batched["min_ms_per_image"]) + " images/s"


def _target_spreads(results: dict[str, Any]) -> dict[str, str]:
    """For each target, the spread of the measurements its value is computed from."""
    api, latency = results.get("api", {}), results["latency_ms"]
    engines = results.get("engines", {})
    measured = engines.get("engines", {})
    in_use = measured.get(engines.get("in_use", "torch"))
    bf16 = measured.get("openvino bf16") or measured.get("torch bf16")
    roofline = results["floor"]["floor"]["images_per_s"]
    clients = _level_clients("8 clients", _level(results, 8))
    rest = _rest_level(results, 8)
    spreads = {
        "clients_8_vs_engine": _paired_spread(_level(results, 8)) or f"{clients}engine {_engine_rate(in_use)}",
        "rest_8_vs_engine": _paired_spread(rest)
        or f"{_level_clients('8 /v1 clients', rest)}engine {_engine_rate(in_use)}",
        "clients_8_vs_torch": f"{clients}torch {_engine_rate(measured.get('torch'))}",
        "engine_vs_roofline": f"engine {_engine_rate(in_use)}; roofline {roofline:.2f} images/s",
        "bf16_vs_engine": f"bf16 {_engine_rate(bf16)}; fp32 {_engine_rate(in_use)}",
        "api_small_vs_forward": "",
        "api_http_small_vs_forward": "",
    }
    peer = api.get("peer")
    if peer:
        pairs = zip(peer["app"]["images_per_s"], peer["peer"]["images_per_s"], strict=True)
        rounds = [app / other for app, other in pairs]
        spreads["app_vs_peer"] = f"{_spread(min(rounds), max(rounds), 2)} over {len(rounds)} rounds"
    forward = f"forward {_spread(latency['bare_forward']['min_ms'], latency['bare_forward']['max_ms'])} ms"
    for pipeline, name in (("api", "client"), ("api_http", "HTTP"), ("api_rest", "/v1")):
        timings = latency.get(pipeline)
        if not timings:
            continue
        card = latency["card"]["camera"]
        spreads[f"{pipeline}_camera_vs_card"] = (
            f"{name} {_spread(timings['camera']['min_ms'], timings['camera']['max_ms'])} ms; "
            f"card {_spread(card['min_ms'], card['max_ms'])} ms"
        )
        small = timings["small"]
        spreads[f"{pipeline}_small_vs_forward"] = f"{name} {_spread(small['min_ms'], small['max_ms'])} ms; {forward}"
    ours = latency.get("ours", {}).get("small")
    rest_small = latency.get("api_rest", {}).get("small")
    if ours and rest_small:
        spreads["api_rest_small_vs_ours"] = (
            f"/v1 {_spread(rest_small['min_ms'], rest_small['max_ms'])} ms; "
            f"in-process {_spread(ours['min_ms'], ours['max_ms'])} ms"
        )
    threshold = api.get("threshold_change")
    if threshold:
        server = threshold["server_ms"]
        spreads["threshold_server_ms"] = f"{_spread(server['min_ms'], server['max_ms'], 2)} over {server['count']}"
    cold = api.get("cold_start")
    if cold and len(cold.get("runs", [])) > 1:
        later = [run["ready_s"] for run in cold["runs"][1:]]
        spreads["cold_start_s"] = f"{_spread(min(later), max(later), 2)} over {len(later)} starts"
    levels = api.get("throughput", [])
    if levels:
        peaks = [level["peak_rss_mb"] for level in levels]
        spreads["peak_rss_mb_8_clients"] = (
            f"{_spread(min(peaks), max(peaks), 0)} over 1–{levels[-1]['clients']} clients"
        )
    return spreads


def format_reference(results: dict[str, Any]) -> str:
    """The reference numbers of a saved run as Markdown: every figure with its median and spread, then the targets
    (figure, value, spread, target, met). This is the generated section of docs/PERFORMANCE.md."""
    meta, latency, api = results["meta"], results["latency_ms"], results.get("api", {})
    flops, gemm, bound = results["floor"]["flops"], results["floor"]["gemm"], results["floor"]["floor"]
    runtime = api.get("runtime") or {}
    rounds = next(iter(latency["card"].values()))["count"]
    lines = [
        f"Profile `{meta['profile']}` on {meta['cpu']}, {meta['cores']} cores, torch {meta['torch']} with "
        f"{meta['torch_threads']} threads; engine `{runtime.get('engine', results.get('engines', {}).get('in_use'))}`"
        f" at {runtime.get('precision', 'fp32')}, batch {runtime.get('batch_size', '-')}; load average "
        f"{meta['load_average_start'][0]:.2f} at the start, {meta['load_average_end'][0]:.2f} at the end. "
        f"Times are medians over {rounds} timed rounds, with the fastest and slowest round in brackets.",
        "",
        f"Floor: {flops['total_gflop']:.2f} GFLOP per image ({flops['linear_gflop']:.2f} in linear layers, "
        f"{flops['attention_gflop']:.2f} in attention) at {gemm['peak_gflops']:.1f} GFLOP/s peak fp32 GEMM "
        f"({_spread(gemm.get('peak_gflops_first'), gemm.get('peak_gflops_again'))} at the start and end; one thread "
        f"{gemm.get('one_thread_gflops', 0):.1f}) = **{bound['ms_per_image']:.1f} ms per image, "
        f"{bound['images_per_s']:.2f} images/s**.",
        "",
    ]
    if "engine_peaks" in gemm:
        lines[-1:-1] = ["", *_floor_lines(results)]
    pipelines = (
        ("model card", "card"),
        ("ours, in-process", "ours"),
        ("API, gradio_client (one SSL context)", "api"),
        ("API, gradio_client (defaults)", "api_default"),
        ("API, plain HTTP", "api_http"),
        ("same bytes again, gradio_client (same session)", "api_resubmit"),
        ("JSON API, POST /v1/classify", "api_rest"),
    )
    roles = list(results["images"])
    rows: list[list[object]] = [
        [name, *(_timed(latency.get(key, {}).get(role)) for role in roles)] for name, key in pipelines if key in latency
    ]
    rows.append(["bare forward pass, batch 1", _timed(latency["bare_forward"]), *([""] * (len(roles) - 1))])
    lines += _markdown_table(["ms per image", *(results["images"][role]["label"] for role in roles)], rows)
    if api.get("throughput"):
        lines += ["", "Concurrent clients, each sending distinct 600x400 JPEGs back to back:", ""]
        lines += _throughput_table(results, "latency ms", lambda stats: _timed(stats, 0))
    engines = results.get("engines")
    if engines:
        rows = [
            [
                f"{name} (in use)" if name == engines["in_use"] else name,
                f"{entry['single']['median_ms_per_image']:.1f} "
                f"({_spread(entry['single']['min_ms_per_image'], entry['single']['max_ms_per_image'])})",
                f"{entry['batched']['median_ms_per_image']:.1f} "
                f"({_spread(entry['batched']['min_ms_per_image'], entry['batched']['max_ms_per_image'])})",
                f"{entry['single']['speedup_vs_torch']:.2f}x / {entry['batched']['speedup_vs_torch']:.2f}x",
                f"{entry['max_probability_difference_vs_torch']:.1e}",
            ]
            for name, entry in engines["engines"].items()
        ]
        lines += [
            "",
            f"Engines, the bare forward pass over {engines['rounds']} interleaved rounds, "
            f"{engines['threads']} threads:",
            "",
        ]
        lines += _markdown_table(
            [
                "engine",
                "batch 1 ms/image",
                f"batch {engines['batch']} ms/image",
                "vs torch (1 / batched)",
                "largest probability difference vs torch",
            ],
            rows,
        )
    lines += _nudenet_lines(api.get("nudenet"))
    spreads = _target_spreads(results)
    rows = [
        [
            row["target"],
            row.get("note") or ("-" if row["value"] is None else f"{row['value']:g}"),
            spreads.get(row["key"], ""),
            f"{row['comparison']} {row['limit']:g}",
            _verdict(row, markdown=True),
        ]
        for row in results["targets"]
    ]
    lines += ["", "Targets (spread: the range of what the value is computed from):", ""]
    lines += _markdown_table(["figure", "value", "spread", "target", "met"], rows)
    return "\n".join(lines)


def _nudenet_lines(nudenet: dict[str, Any] | None) -> list[str]:
    """NudeNet beside our classifier on the same images and threads: context, not a contest (another model and task)."""
    if not nudenet:
        return []
    if "error" in nudenet:
        return ["", f"NudeNet: not measured ({nudenet['error']})."]
    rows = [
        [
            name,
            entry["images"],
            f"{entry['images_per_s']:.2f}",
            _spread(entry["min_images_per_s"], entry["max_images_per_s"], 2),
        ]
        for name, entry in (
            ("ours (decode + predict, one image at a time)", nudenet["ours"]),
            (f"NudeNet {nudenet['version']} (detect)", nudenet["nudenet"]),
        )
    ]
    return [
        "",
        f"NudeNet's detector beside our classifier: the same {nudenet['images_per_round']} images per round "
        f"({nudenet['sizes']}), {nudenet['threads']} threads each, one process each, {nudenet['rounds']} rounds "
        "(another model and task: no accuracy claim):",
        "",
        *_markdown_table(["pipeline", "images", "images/s (median)", "spread"], rows),
    ]


def update_document(text: str, results: dict[str, Any]) -> str:
    """`text` with the lines between BEGIN_MARKER and END_MARKER replaced by `format_reference(results)`.

    Raises:
        ValueError: the markers are missing, repeated or out of order.
    """
    if (
        text.count(BEGIN_MARKER) != 1
        or text.count(END_MARKER) != 1
        or text.index(BEGIN_MARKER) > text.index(END_MARKER)
    ):
        raise ValueError(f"Expected one {BEGIN_MARKER!r} line followed by one {END_MARKER!r} line.")
    head, rest = text.split(BEGIN_MARKER)
    _, tail = rest.split(END_MARKER)
    return f"{head}{BEGIN_MARKER}\n\n{format_reference(results)}\n\n{END_MARKER}{tail}"


def generated_section(text: str) -> str:
    """The text between the markers of a document, without the blank lines around it."""
    return text.split(BEGIN_MARKER, 1)[1].split(END_MARKER, 1)[0].strip("\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__)
    parser.add_argument("results", type=Path, help="a saved run's JSON (python -m benchmarks.run --out)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--reference", action="store_true", help="print the reference section instead of every table")
    action.add_argument("--update", type=Path, metavar="DOC", help="rewrite DOC's generated section from the run")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text(encoding="utf-8"))
    if args.update:
        args.update.write_text(update_document(args.update.read_text(encoding="utf-8"), results), encoding="utf-8")
        sys.stdout.write(f"Updated the generated section of {args.update} from {args.results}\n")
    else:
        sys.stdout.write((format_reference(results) if args.reference else format_markdown(results)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
