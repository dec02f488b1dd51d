"""`python -m benchmarks.load`: the app under load on loopback: 1 to 16 clients in steps, a spike of 50, an evaluation
beside 4 clients and a soak of 4 clients with 2 % hostile files. Reports errors by type, latency percentiles, images/s
and the server's memory, open files and upload folder over time; checks the targets; writes JSON."""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import itertools
import logging
import os
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import psutil
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from app import DELETE_CACHE
from testbed.corpus import Case, corpus
from testbed.images import encode, large_jpeg, noise_photo
from testbed.server import ROOT, AppServer
from testbed.standin import COMMIT, REPO_ID, build_standin, install_in_cache
from testbed.zips import build_zip

from .output import configure_logging, save_results

__all__ = ["FULL", "SHORT", "LoadPlan", "main", "run_load"]

logger = logging.getLogger("benchmarks.load")

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "load.json"
DEFAULT_WORK = ROOT / "benchmarks" / "results" / "work-load"
#: What the issue asks of the app under load.
TARGET_P95_MS = 2000.0
TARGET_RECOVERY_S = 30.0
TARGET_GROWTH = 0.10
#: Request outcomes that are answers, not failures: a score, a refusal the hostile file deserved, "queue full".
ANSWERS = {"ok", "refused_as_expected", "busy"}


@dataclass(frozen=True)
class LoadPlan:
    """How hard and how long each phase pushes. Every phase ends at its deadline; every request has a timeout."""

    steps: tuple[int, ...] = (1, 2, 4, 8, 16)
    step_seconds: float = 30.0
    spike_clients: int = 50
    spike_seconds: float = 20.0
    evaluation_images: int = 300
    evaluation_clients: int = 4
    soak_clients: int = 4
    soak_minutes: float = 10.0
    hostile_share: float = 0.02
    #: Camera-like JPEGs of these sizes (4 to 10 MP at quality 90: about 1.1 to 2.8 MB with grain).
    megapixels: tuple[float, ...] = (4.0, 6.0, 8.0, 10.0)
    sample_seconds: float = 5.0
    request_timeout: float = 120.0
    #: Memory and the upload folder are compared from this far into the soak (the first requests warm caches up).
    warmup_fraction: float = 0.2


FULL = LoadPlan()
#: For CI (tests/benchmarks/test_load_short.py): every phase runs, a few seconds each; the numbers mean nothing.
SHORT = LoadPlan(
    steps=(1, 2, 4),
    step_seconds=2.0,
    spike_clients=8,
    spike_seconds=2.0,
    evaluation_images=12,
    evaluation_clients=2,
    soak_clients=2,
    soak_minutes=0.1,
    hostile_share=0.25,
    megapixels=(0.5, 1.0),
    sample_seconds=1.0,
    request_timeout=60.0,
)


# Inputs --------------------------------------------------------------------------------------------------------------


def unique_jpeg(base: bytes, serial: int) -> bytes:
    """`base` with a JPEG comment holding `serial` after its SOI marker: new bytes (no cached answer), same pixels."""
    comment = f"load test request {serial}".encode()
    return base[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + base[2:]


class Uploads:
    """Distinct 1-3 MB JPEGs and, for hostile traffic, every `1 / hostile_share`-th file from the corpus in turn,
    written where a client sends it from."""

    def __init__(self, plan: LoadPlan, folder: Path) -> None:
        self.folder = folder
        shutil.rmtree(folder, ignore_errors=True)  # what a stopped run left
        folder.mkdir(parents=True)
        self.bases = [large_jpeg(megapixels, seed=index) for index, megapixels in enumerate(plan.megapixels)]
        # Names a client cannot hold on disk (a "/", over 255 bytes) are left to tests/api/test_hostile_uploads.py.
        sendable = [case for case in corpus() if "/" not in case.filename and len(case.filename.encode()) <= 255]
        self.hostile = itertools.cycle(sendable)
        self.every = max(1, round(1 / plan.hostile_share))
        self.serial = itertools.count()
        self.hostile_serial = itertools.count(1)
        self.lock = threading.Lock()

    @property
    def sizes_mb(self) -> list[float]:
        return [round(len(base) / 1e6, 2) for base in self.bases]

    def next(self, hostile: bool) -> tuple[Path, Case | None]:
        """A file to send (the caller deletes it) and the corpus case it is, if hostile."""
        with self.lock:
            serial = next(self.serial)
            case = next(self.hostile) if hostile and next(self.hostile_serial) % self.every == 0 else None
            base = self.bases[serial % len(self.bases)]
        folder = self.folder / str(serial)
        folder.mkdir()
        if case is not None:
            path = folder / case.filename
            path.write_bytes(case.data)
        else:
            path = folder / f"photo-{serial}.jpg"
            path.write_bytes(unique_jpeg(base, serial))
        return path, case


def labelled_zip(path: Path, count: int) -> Path:
    """`count` distinct 600x400 photo-like JPEGs, half under nsfw/ and half under sfw/ (labels are arbitrary)."""
    members = {
        f"set/{'nsfw' if index % 2 else 'sfw'}/{index:04d}.jpg": encode(noise_photo((600, 400), seed=index), "JPEG")
        for index in range(count)
    }
    path.write_bytes(build_zip(members))
    return path


# Requests ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One request: when it started (seconds into the phase), how long it took, and what came back."""

    started_s: float
    latency_ms: float
    kind: str
    hostile: bool = False
    detail: str = ""


def kind_of(error: BaseException, case: Case | None) -> str:
    """Sort a failed request: an answer the client should expect ("busy", "refused_as_expected") or an error type."""
    text = str(error)
    if "Queue is full" in text:
        return "busy"
    if case is not None and case.error is not None and isinstance(error, AppError) and re.search(case.match, text):
        return "refused_as_expected"
    if isinstance(error, httpx.HTTPStatusError):
        return f"http_{error.response.status_code}"
    if isinstance(error, concurrent.futures.TimeoutError | TimeoutError):
        return "timeout"
    if isinstance(error, httpx.TransportError | ConnectionError):
        return "connection"
    if isinstance(error, AppError):
        return "app_error"
    return type(error).__name__


def new_client(url: str) -> Client:
    return Client(url, verbose=False, download_files=False, analytics_enabled=False)


def classify_once(client: Client, uploads: Uploads, plan: LoadPlan, hostile: bool, phase_start: float) -> Outcome:
    path, case = uploads.next(hostile)
    started = time.perf_counter()
    try:
        client.submit(handle_file(str(path)), 0.5, api_name="/classify").result(timeout=plan.request_timeout)
        kind, detail = "ok", ""
    except Exception as error:  # every failure is sorted and counted; none may stop the load
        kind, detail = kind_of(error, case), f"{type(error).__name__}: {error}"[:200]
    finally:
        path.unlink(missing_ok=True)
        path.parent.rmdir()
    if case is not None and kind == "ok" and case.error is not None:
        kind, detail = "hostile_accepted", case.name
    return Outcome(started - phase_start, 1000 * (time.perf_counter() - started), kind, case is not None, detail)


def run_clients(
    clients: Sequence[Client],
    uploads: Uploads,
    plan: LoadPlan,
    *,
    seconds: float,
    hostile: bool = False,
    stop: threading.Event | None = None,
) -> tuple[list[Outcome], float]:
    """Each client sends back to back until `seconds` pass (or `stop` is set); returns the outcomes and wall time."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    phase_start = time.perf_counter()
    deadline = phase_start + seconds

    def loop(client: Client) -> None:
        while time.perf_counter() < deadline and not (stop is not None and stop.is_set()):
            outcome = classify_once(client, uploads, plan, hostile, phase_start)
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=loop, args=(client,), daemon=True) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + plan.request_timeout + 30)
    return outcomes, time.perf_counter() - phase_start


def open_clients(url: str, count: int) -> list[Client]:
    """`count` clients (each its own session), connected in parallel as a crowd arriving at once would."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(count, 16)) as pool:
        return list(pool.map(lambda _: new_client(url), range(count)))


def close_clients(clients: Sequence[Client]) -> None:
    for client in clients:
        client.close()


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise(outcomes: Sequence[Outcome], wall_s: float) -> dict[str, Any]:
    """Counts by kind, latency percentiles of scored requests, images scored per second, examples of errors."""
    kinds = Counter(outcome.kind for outcome in outcomes)
    latencies = [outcome.latency_ms for outcome in outcomes if outcome.kind == "ok"]
    errors = sorted({outcome.detail for outcome in outcomes if outcome.kind not in ANSWERS})
    summary: dict[str, Any] = {
        "requests": len(outcomes),
        "by_kind": dict(sorted(kinds.items())),
        "errors": sum(count for kind, count in kinds.items() if kind not in ANSWERS),
        "error_examples": errors[:5],
        "wall_s": round(wall_s, 2),
        "images_per_s": round(len(latencies) / wall_s, 3) if wall_s > 0 else 0.0,
        "latency_ms": None,
    }
    if latencies:
        summary["latency_ms"] = {
            "p50": round(percentile(latencies, 0.50), 1),
            "p95": round(percentile(latencies, 0.95), 1),
            "p99": round(percentile(latencies, 0.99), 1),
            "mean": round(statistics.fmean(latencies), 1),
            "max": round(max(latencies), 1),
            "count": len(latencies),
        }
    hostile = [outcome for outcome in outcomes if outcome.hostile]
    if hostile:
        summary["hostile"] = dict(sorted(Counter(outcome.kind for outcome in hostile).items()))
    return summary


# The server's resources ----------------------------------------------------------------------------------------------


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):  # deleted by Gradio's sweep while we walked
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def open_files(server: AppServer) -> int:
    if server.process is None:
        return 0
    try:
        root = psutil.Process(server.process.pid)
        return sum(process.num_fds() for process in [root, *root.children(recursive=True)])
    except psutil.Error:
        return 0


class Sampler(threading.Thread):
    """Every `seconds`: the server's resident memory, open files, upload-folder size and queue length."""

    def __init__(self, server: AppServer, temp_dir: Path, seconds: float) -> None:
        super().__init__(name="sampler", daemon=True)
        self.server, self.temp_dir, self.seconds = server, temp_dir, seconds
        self.samples: list[dict[str, float]] = []
        self.phase = "start"
        self.stopped = threading.Event()
        self.started = time.perf_counter()

    def sample(self) -> None:
        try:
            queue = self.server.queue_size()
        except (httpx.HTTPError, ValueError):
            queue = -1
        self.samples.append(
            {
                "t_s": round(time.perf_counter() - self.started, 1),
                "phase": self.phase,
                "rss_mb": round(self.server.rss_bytes() / 2**20, 1),
                "open_files": open_files(self.server),
                "temp_mb": round(folder_bytes(self.temp_dir) / 2**20, 1),
                "queue": queue,
            }
        )

    def run(self) -> None:
        while not self.stopped.is_set():
            self.sample()
            self.stopped.wait(self.seconds)

    def stop(self) -> None:
        self.stopped.set()
        self.join()
        self.sample()


def growth(samples: Sequence[dict[str, Any]], key: str, warmup_s: float) -> dict[str, float] | None:
    """`key` right after warm-up, at the end, at its peak, and the relative growth from after warm-up to the end."""
    if not samples:
        return None
    start = samples[0]["t_s"]
    warm = next((sample for sample in samples if sample["t_s"] - start >= warmup_s), samples[-1])
    end = samples[-1]
    first = warm[key] or 1e-9
    return {
        "after_warmup": warm[key],
        "end": end[key],
        "peak": max(sample[key] for sample in samples),
        "growth": round((end[key] - warm[key]) / first, 4),
    }


def sawtooth_growth(samples: Sequence[dict[str, Any]], key: str, warmup_s: float) -> dict[str, float] | None:
    """Growth of a quantity that a periodic sweep keeps bounded (the upload folder): it rises between sweeps and
    drops at each, so one sample against another says more about the sweep's phase than about a leak. The samples
    after `warmup_s` are split in two halves and the halves' peaks compared: a steady sawtooth gives about 0, a
    leak a rise. The plain end-versus-warm-up figure is kept beside it."""
    plain = growth(samples, key, warmup_s)
    if plain is None or len(samples) < 2:
        return plain
    start = samples[0]["t_s"]
    after = [sample for sample in samples if sample["t_s"] - start >= warmup_s]
    if len(after) < 2:  # a soak shorter than the warm-up (the CI smoke run): compare what there is
        after = list(samples)
    middle = max(1, len(after) // 2)
    first = max(sample[key] for sample in after[:middle])
    second = max(sample[key] for sample in after[middle:])
    return {
        **plain,
        "warmup_s": warmup_s,
        "growth_end_vs_warmup": plain["growth"],
        "peak_first_half": first,
        "peak_second_half": second,
        "growth": round((second - first) / (first or 1e-9), 4),
    }


# Phases --------------------------------------------------------------------------------------------------------------


def phase_steps(server: AppServer, uploads: Uploads, plan: LoadPlan) -> list[dict[str, Any]]:
    results = []
    for count in plan.steps:
        clients = open_clients(server.url, count)
        outcomes, wall = run_clients(clients, uploads, plan, seconds=plan.step_seconds)
        close_clients(clients)
        summary = {"clients": count, **summarise(outcomes, wall)}
        logger.info("%2d clients: %s", count, _line(summary))
        results.append(summary)
    return results


def phase_spike(server: AppServer, uploads: Uploads, plan: LoadPlan) -> dict[str, Any]:
    """`spike_clients` arrive at once and send for `spike_seconds`; then one probe measures the recovery."""
    clients = open_clients(server.url, plan.spike_clients)
    probe = new_client(server.url)
    recovered: dict[str, float] = {}
    spike_end = time.perf_counter() + plan.spike_seconds

    def measure_recovery() -> None:
        time.sleep(max(0.0, spike_end - time.perf_counter()))
        while "s" not in recovered and time.perf_counter() - spike_end < plan.request_timeout:
            outcome = classify_once(probe, uploads, plan, False, spike_end)
            if outcome.kind == "ok":
                recovered["s"] = time.perf_counter() - spike_end
            else:
                time.sleep(0.5)

    recovery = threading.Thread(target=measure_recovery, daemon=True)
    recovery.start()
    outcomes, wall = run_clients(clients, uploads, plan, seconds=plan.spike_seconds)
    recovery.join(timeout=plan.request_timeout + 30)
    close_clients([*clients, probe])
    summary = {"clients": plan.spike_clients, **summarise(outcomes, wall)}
    summary["recovery_s"] = round(recovered["s"], 2) if "s" in recovered else None
    logger.info("Spike of %d: %s; recovered in %s s", plan.spike_clients, _line(summary), summary["recovery_s"])
    return summary


def phase_evaluation(server: AppServer, uploads: Uploads, plan: LoadPlan, archive: Path) -> dict[str, Any]:
    """/evaluate on a labelled zip while `evaluation_clients` classify single images until it is done."""
    clients = open_clients(server.url, plan.evaluation_clients)
    evaluator = new_client(server.url)
    stop = threading.Event()
    result: dict[str, Any] = {}

    def evaluate() -> None:
        started = time.perf_counter()
        try:
            report = evaluator.submit(handle_file(str(archive)), 0.5, api_name="/evaluate").result(
                timeout=plan.request_timeout * 10
            )
            result.update(kind="ok", n=report["n"], skipped=len(report["skipped"]))
        except Exception as error:  # reported, not raised: the clients' numbers still count
            result.update(kind=kind_of(error, None), detail=f"{type(error).__name__}: {error}"[:200])
        result["seconds"] = round(time.perf_counter() - started, 2)
        stop.set()

    thread = threading.Thread(target=evaluate, daemon=True)
    thread.start()
    outcomes, wall = run_clients(clients, uploads, plan, seconds=plan.request_timeout * 10, stop=stop)
    thread.join(timeout=plan.request_timeout * 10)
    close_clients([*clients, evaluator])
    if result.get("kind") == "ok" and result["seconds"] > 0:
        result["images_per_s"] = round(result["n"] / result["seconds"], 2)
    summary = {
        "images": plan.evaluation_images,
        "zip_mb": round(archive.stat().st_size / 1e6, 1),
        "evaluation": result,
        "clients": {"count": plan.evaluation_clients, **summarise(outcomes, wall)},
    }
    logger.info("Evaluation of %d images: %s; beside it %s", plan.evaluation_images, result, _line(summary["clients"]))
    return summary


def phase_soak(server: AppServer, uploads: Uploads, plan: LoadPlan, sampler: Sampler) -> dict[str, Any]:
    clients = open_clients(server.url, plan.soak_clients)
    first = len(sampler.samples)
    outcomes, wall = run_clients(clients, uploads, plan, seconds=60 * plan.soak_minutes, hostile=True)
    close_clients(clients)
    samples = sampler.samples[first:]
    warmup = plan.warmup_fraction * 60 * plan.soak_minutes
    summary = {
        "clients": plan.soak_clients,
        "minutes": plan.soak_minutes,
        **summarise(outcomes, wall),
        "per_minute": _per_minute(outcomes),
        "memory_mb": growth(samples, "rss_mb", warmup),
        "open_files": growth(samples, "open_files", warmup),
        # The folder fills for as long as uploads are kept (app.DELETE_CACHE: age, plus up to one sweep interval),
        # by design; it is judged from then on.
        "temp_mb": sawtooth_growth(samples, "temp_mb", max(warmup, float(sum(DELETE_CACHE)))),
    }
    logger.info("Soak: %s; memory %s; temp %s", _line(summary), summary["memory_mb"], summary["temp_mb"])
    return summary


def _per_minute(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    minutes: dict[int, list[Outcome]] = {}
    for outcome in outcomes:
        minutes.setdefault(int(outcome.started_s // 60), []).append(outcome)
    rows = []
    for minute, items in sorted(minutes.items()):
        latencies = [item.latency_ms for item in items if item.kind == "ok"]
        rows.append(
            {
                "minute": minute,
                "requests": len(items),
                "errors": sum(item.kind not in ANSWERS for item in items),
                "p95_ms": round(percentile(latencies, 0.95), 1) if latencies else None,
            }
        )
    return rows


def _line(summary: dict[str, Any]) -> str:
    latency = summary.get("latency_ms") or {}
    return (
        f"{summary['requests']} requests {summary['by_kind']}, {summary['images_per_s']} images/s, "
        f"p50/p95/p99 {latency.get('p50')}/{latency.get('p95')}/{latency.get('p99')} ms"
    )


# The run -------------------------------------------------------------------------------------------------------------


def server_health(server: AppServer) -> dict[str, Any]:
    """Is the process alive, did anything reach the generic error path, and does it still answer?"""
    log = server.log_path.read_text(encoding="utf-8", errors="replace")
    alive = server.process is not None and server.process.poll() is None
    health: dict[str, Any] = {
        "alive": alive,
        "unexpected_errors_logged": log.count("failed unexpectedly"),
        "tracebacks_logged": log.count("Traceback (most recent call last)"),
        "model_status": None,
    }
    if alive:
        try:
            health["model_status"] = server.model_info().get("status")
        except (httpx.HTTPError, RuntimeError, KeyError, ValueError):
            health["model_status"] = "unreachable"
    return health


def check_targets(results: dict[str, Any]) -> dict[str, bool | None]:
    phases = [*results["steps"], results["spike"], results["evaluation"]["clients"], results["soak"]]
    kinds: Counter[str] = Counter()
    for phase in phases:
        kinds.update(phase["by_kind"])
    health = results["health"]
    four = next((step for step in results["steps"] if step["clients"] == 4), None)
    soak = results["soak"]
    spike = results["spike"]
    return {
        "no_crash": health["alive"] and health["model_status"] == "ready" and health["unexpected_errors_logged"] == 0,
        "no_5xx": not any(kind.startswith("http_5") for kind in kinds),
        "no_errors": all(kind in ANSWERS for kind in kinds) and results["evaluation"]["evaluation"].get("kind") == "ok",
        "spike_only_busy_answers": all(kind in ANSWERS for kind in spike["by_kind"]),
        "spike_recovery_within_30_s": spike["recovery_s"] is not None and spike["recovery_s"] <= TARGET_RECOVERY_S,
        "p95_at_most_2_s_with_4_clients": None
        if four is None or four["latency_ms"] is None
        else four["latency_ms"]["p95"] <= TARGET_P95_MS,
        "memory_flat_in_soak": None if soak["memory_mb"] is None else soak["memory_mb"]["growth"] < TARGET_GROWTH,
        "temp_folder_flat_in_soak": None if soak["temp_mb"] is None else soak["temp_mb"]["growth"] < TARGET_GROWTH,
    }


def _git_commit() -> str:
    try:
        command = ["git", "rev-parse", "--short", "HEAD"]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def prepare_model(work: Path) -> Path:
    """The stand-in checkpoint inside an HF_HOME, as an air-gapped deployment holds the Marqo model."""
    standin = work / "standin"
    if not (standin / "model.safetensors").is_file():
        build_standin(standin)
    home = work / "hf_home"
    install_in_cache(standin, home / "hub", repo_id=REPO_ID, commit=COMMIT)
    return home


def run_load(plan: LoadPlan, work: Path, environ: dict[str, str | None] | None = None) -> dict[str, Any]:
    """Start the app, run every phase against it, stop it; returns the results (targets included)."""
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    meta: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "cpus": os.cpu_count(),
        "load_average_start": [round(value, 2) for value in os.getloadavg()],
        "plan": asdict(plan),
    }
    home = prepare_model(work)
    uploads = Uploads(plan, work / "uploads")
    meta["jpeg_mb"] = uploads.sizes_mb
    archive = labelled_zip(work / "labelled.zip", plan.evaluation_images)
    temp_dir = work / "gradio-tmp"
    app_env: dict[str, str | None] = {"HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "NSFW_MODEL": None}
    app_env.update(environ or {})
    server = AppServer(app_env, work / "app.log", temp_dir)
    results: dict[str, Any] = {"meta": meta}
    with server:
        meta["startup"] = server.wait_until_ready()
        sampler = Sampler(server, temp_dir, plan.sample_seconds)
        sampler.start()
        for name, run in _phases(server, uploads, plan, archive, sampler):
            sampler.phase = name
            results[name] = run()
        sampler.stop()
        results["health"] = server_health(server)
        results["resources"] = sampler.samples
    meta["load_average_end"] = [round(value, 2) for value in os.getloadavg()]
    meta["duration_s"] = round(time.perf_counter() - started, 1)
    results["targets"] = check_targets(results)
    return results


def _phases(
    server: AppServer, uploads: Uploads, plan: LoadPlan, archive: Path, sampler: Sampler
) -> Iterator[tuple[str, Callable[[], Any]]]:
    yield "steps", lambda: phase_steps(server, uploads, plan)
    yield "spike", lambda: phase_spike(server, uploads, plan)
    yield "evaluation", lambda: phase_evaluation(server, uploads, plan, archive)
    yield "soak", lambda: phase_soak(server, uploads, plan, sampler)


def format_summary(results: dict[str, Any]) -> str:
    lines = [f"{'phase':<22}{'requests':>9}{'img/s':>8}{'p50':>8}{'p95':>8}{'p99':>8}  outcomes"]

    def row(name: str, phase: dict[str, Any]) -> None:
        latency = phase.get("latency_ms") or {}
        cells = [latency.get(key, "-") for key in ("p50", "p95", "p99")]
        lines.append(
            f"{name:<22}{phase['requests']:>9}{phase['images_per_s']:>8}"
            + "".join(f"{cell!s:>8}" for cell in cells)
            + f"  {phase['by_kind']}"
        )

    for step in results["steps"]:
        row(f"{step['clients']} clients", step)
    row(f"spike {results['spike']['clients']}", results["spike"])
    row("beside evaluation", results["evaluation"]["clients"])
    row(f"soak {results['soak']['minutes']} min", results["soak"])
    soak = results["soak"]
    lines += [
        f"spike recovery: {results['spike']['recovery_s']} s",
        f"evaluation: {results['evaluation']['evaluation']}",
        f"soak memory MB: {soak['memory_mb']}",
        f"soak open files: {soak['open_files']}",
        f"soak upload folder MB: {soak['temp_mb']}",
        f"health: {results['health']}",
        f"load average start/end: {results['meta']['load_average_start']} / {results['meta']['load_average_end']}",
        "targets: " + ", ".join(f"{name}={value}" for name, value in results["targets"].items()),
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--short", action="store_true", help="a few seconds per phase (CI smoke run; no meaning)")
    parser.add_argument("--soak-minutes", type=float, help=f"length of the soak (default {FULL.soak_minutes:g})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results (default {DEFAULT_OUT})")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="folder for the model, inputs and app log")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Stopped with SIGTERM, still stop the app (AppServer's context manager) on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    configure_logging(quiet=("httpx", "gradio_client", "timm", "model", "tests"))
    plan = SHORT if args.short else FULL
    if args.soak_minutes is not None:
        plan = replace(plan, soak_minutes=args.soak_minutes)
    results = run_load(plan, args.work.resolve())
    save_results(results, args.out, format_summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
