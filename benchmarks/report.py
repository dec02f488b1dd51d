"""Ratios, targets and the printed table, all computed from one run's results."""

from __future__ import annotations

from typing import Any

from .engines import format_table as format_engines

__all__ = ["TARGETS", "format_markdown", "format_table", "ratios", "targets"]

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
#: one SSL context, as the README recommends, and with its defaults) and through plain HTTP.
PIPELINES = ("ours", "api", "api_default", "api_http")


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def _level(results: dict[str, Any], clients: int) -> dict[str, Any] | None:
    for level in results.get("api", {}).get("throughput", []):
        if level["clients"] == clients:
            return level
    return None


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
    for pipeline in PIPELINES:
        small = latency.get(pipeline, {}).get("small")
        values[f"{pipeline}_small_vs_forward"] = _ratio(small["median_ms"] if small else None, forward)
    values["forward_vs_floor"] = _ratio(forward, floor["ms_per_image"])
    for level in results.get("api", {}).get("throughput", []):
        values[f"clients_{level['clients']}_vs_floor"] = _ratio(level["images_per_s"], floor["images_per_s"])
    for level in results.get("api", {}).get("throughput_gradio_client", []):
        key = f"gradio_client_{level['clients']}_vs_floor"
        values[key] = _ratio(level["images_per_s"], floor["images_per_s"])
    values.update(_engine_ratios(results))
    return values


def _images_per_s(entry: dict[str, Any] | None) -> float | None:
    return 1000 / entry["batched"]["median_ms_per_image"] if entry else None


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
    return {
        "app_vs_peer": peer["app_vs_peer"] if peer else None,
        "clients_8_vs_engine": _ratio(clients, in_use),
        "clients_8_vs_torch": _ratio(clients, torch_rate),
        "engine_vs_roofline": _ratio(in_use, results["floor"]["floor"]["images_per_s"]),
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
        rows.append({"target": name, "key": key, "value": value, "comparison": comparison, "limit": limit, "met": met})
    return rows


def _cell(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


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
    latency = results["latency_ms"]
    ratio = results["ratios"]
    lines.append("")
    header = (
        f"{'median ms':<15}{'card':>8}{'ours':>8}{'client':>8}{'default':>9}{'HTTP':>8}{'again':>8}"
        f"{'ours/card':>11}{'client/card':>13}{'HTTP/card':>11}{'HTTP/floor':>12}"
    )
    lines.append(header)
    lines.append("-" * len(header))

    def median(pipeline: str, role: str) -> float | None:
        return latency.get(pipeline, {}).get(role, {}).get("median_ms")

    for role, image in results["images"].items():
        lines.append(
            f"{image['label']:<15}{_cell(median('card', role)):>8}{_cell(median('ours', role)):>8}"
            f"{_cell(median('api', role)):>8}{_cell(median('api_default', role)):>9}"
            f"{_cell(median('api_http', role)):>8}"
            f"{_cell(median('api_http_resubmit', role)):>8}"
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
        "context per request); HTTP: Gradio's plain HTTP call API; again: the same bytes re-sent over HTTP. "
        f"600x400 over the bare forward pass: client {_cell(ratio['api_small_vs_forward'], 2)}, "
        f"HTTP {_cell(ratio['api_http_small_vs_forward'], 2)}"
    )
    api = results.get("api", {})
    if api.get("throughput"):
        lines.append("")
        header = (
            f"{'client':<15}{'clients':>8}{'images/s':>10}{'/floor':>8}{'errors':>8}{'p50 ms':>9}{'max queue':>11}"
            f"{'peak MB':>9}{'app CPU ms/img':>16}{'client CPU ms/img':>19}"
        )
        lines.append(header)
        lines.append("-" * len(header))
        for level in _levels(results):
            p50 = level["latency_ms"]["median_ms"] if level["latency_ms"] else None
            lines.append(
                f"{level['client']:<15}{level['clients']:>8}{level['images_per_s']:>10.2f}"
                f"{_cell(level['vs_floor'], 2):>8}{level['errors']:>8}"
                f"{_cell(p50):>9}{level['max_queue_size']:>11}{level['peak_rss_mb']:>9.0f}"
                f"{_cell(level['app_cpu_ms_per_image']):>16}{_cell(level['client_cpu_ms_per_image']):>19}"
            )
    if api.get("threshold_change"):
        change = api["threshold_change"]
        lines.append(
            f"\nThreshold change: {change['server_ms']['median_ms']:.1f} ms server time "
            f"(median of {change['changes']}), "
            f"{change['round_trip_ms']['median_ms']:.1f} ms round trip, {change['model_calls']} model calls"
        )
    if api.get("cold_start"):
        cold = api["cold_start"]
        lines.append(
            f"Cold start (warm HF cache, offline): listening {cold['listening_s']:.2f} s, "
            f"model ready {cold['ready_s']:.2f} s; first start of the revision (engine export) "
            f"{cold.get('first_ready_s', 0):.2f} s"
        )
    if api.get("peer"):
        peer = api["peer"]
        lines.append(
            f"App vs the card's snippet in a gr.Interface, {peer['clients']} HTTP clients, {peer['rounds']} "
            f"interleaved rounds: {peer['app']['images_per_s']} vs {peer['peer']['images_per_s']} images/s, "
            f"median ratio {peer['app_vs_peer']:.2f}x"
        )
    if results.get("engines"):
        lines += ["", format_engines(results["engines"]), f"Engine in use: {results['engines']['in_use']}"]
    lines.append("")
    for row in results["targets"]:
        mark = {True: "met", False: "NOT met", None: "not measured"}[row["met"]]
        value = "-" if row["value"] is None else f"{row['value']:g}"
        lines.append(f"  [{mark:^12}] {row['target']}: {value} ({row['comparison']} {row['limit']:g})")
    return "\n".join(lines)


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _markdown_table(header: list[str], rows: list[list[object]]) -> list[str]:
    return [_row(*header), _row(*(["---"] * len(header))), *(_row(*row) for row in rows)]


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
            median("api_http_resubmit", role),
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
            "same bytes again (HTTP)",
            "ours / card",
            "client / card",
            "HTTP / card",
        ],
        rows,
    )
    api = results.get("api", {})
    if api.get("throughput"):
        rows = [
            [
                level["client"],
                level["clients"],
                _cell(level["images_per_s"], 2),
                _cell(level["vs_floor"], 2),
                level["errors"],
                _cell(level["latency_ms"]["median_ms"] if level["latency_ms"] else None),
                level["max_queue_size"],
                _cell(level["peak_rss_mb"], 0),
                _cell(level["app_cpu_ms_per_image"]),
                _cell(level["client_cpu_ms_per_image"]),
            ]
            for level in _levels(results)
        ]
        lines += ["", "Concurrent API clients, each sending distinct 600x400 JPEGs back to back:", ""]
        lines += _markdown_table(
            [
                "client",
                "clients",
                "images/s",
                "vs floor",
                "errors",
                "median latency ms",
                "largest queue",
                "peak RSS MB",
                "app CPU ms/image",
                "client CPU ms/image",
            ],
            rows,
        )
    rows = [
        [
            row["target"],
            "-" if row["value"] is None else f"{row['value']:g}",
            f"{row['comparison']} {row['limit']:g}",
            {True: "met", False: "**not met**", None: "not measured"}[row["met"]],
        ]
        for row in results["targets"]
    ]
    lines += ["", "Targets (issue 5):", ""]
    lines += _markdown_table(["target", "measured", "limit", ""], rows)
    if results.get("experiments"):
        lines += _experiment_tables(results["experiments"])
    return "\n".join(lines)


if __name__ == "__main__":
    import json
    import sys
    from pathlib import Path

    # `python -m benchmarks.report RESULTS.json`: the Markdown tables of a saved run.
    sys.stdout.write(format_markdown(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))) + "\n")
