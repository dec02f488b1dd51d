"""Measurements through the running app's HTTP API: latency, concurrent throughput, threshold changes, cold start."""

from __future__ import annotations

import functools
import itertools
import json
import logging
import shutil
import ssl
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import certifi
import httpx
import psutil
from gradio_client import Client, handle_file

from testbed.server import AppServer

from .timing import summarise

__all__ = [
    "APP_CONFIGURATIONS",
    "ApiCaller",
    "HttpCaller",
    "RestCaller",
    "cold_start",
    "compare_configurations",
    "threshold_change",
    "throughput",
    "throughput_rounds",
]

logger = logging.getLogger(__name__)

THRESHOLD = 0.5
#: How often memory and the queue are sampled while clients are sending.
SAMPLE_SECONDS = 0.05


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """The SSL context httpx builds by default (certifi's CA bundle, certificates checked), built once.

    gradio_client hands its `ssl_verify` to httpx's `verify` for every request it makes, and with the default (True)
    httpx builds a new context, reading the whole CA bundle, each time: ~85 ms of CPU per /classify call here, even
    to an http:// URL. Passing this context instead is what the README recommends.
    """
    return ssl.create_default_context(cafile=certifi.where())


def _client(url: str, *, defaults: bool = False) -> Client:
    verify: bool | ssl.SSLContext = True if defaults else shared_ssl_context()
    return Client(url, verbose=False, download_files=False, analytics_enabled=False, ssl_verify=verify)  # type: ignore[arg-type]


class ApiCaller:
    """One API client (one session), as a script calling /classify would use it: gradio_client with one SSL context
    for all its requests, as the README recommends (`defaults=True`: gradio_client's own default, a new context
    for every request)."""

    def __init__(self, url: str, *, defaults: bool = False) -> None:
        self.client = _client(url, defaults=defaults)

    def classify(self, path: Path, threshold: float = THRESHOLD) -> dict[str, Any]:
        return self.client.predict(handle_file(str(path)), threshold, api_name="/classify")

    def close(self) -> None:
        self.client.close()


class HttpCaller:
    """/classify through Gradio's plain HTTP API, as curl would call it: upload the file, POST the call, read the
    result's event stream; one keep-alive connection.

    gradio_client reads its event stream in a loop that sleeps 50 ms whenever no message is waiting, which adds
    tens of milliseconds to every call whatever the server does; this client shows the server's own latency.
    """

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url + "/gradio_api", timeout=120.0)

    def classify(self, path: Path, threshold: float = THRESHOLD) -> dict[str, Any]:
        with path.open("rb") as handle:
            uploaded = self.http.post("/upload", files={"files": (path.name, handle, "image/jpeg")})
        uploaded.raise_for_status()
        file_data = {"path": uploaded.json()[0], "meta": {"_type": "gradio.FileData"}}
        event = self.http.post("/call/classify", json={"data": [file_data, threshold]})
        event.raise_for_status()
        answer = self.http.get(f"/call/classify/{event.json()['event_id']}")
        answer.raise_for_status()
        lines = answer.text.splitlines()
        for kind, payload in itertools.pairwise(lines):
            if kind == "event: complete" and payload.startswith("data:"):
                return json.loads(payload[5:])[0]
            if kind == "event: error":
                raise RuntimeError(f"/classify failed: {payload[5:].strip()}")
        raise RuntimeError(f"/classify gave no result: {answer.text[:200]!r}")

    def close(self) -> None:
        self.http.close()


class RestCaller:
    """POST /v1/classify with the file as the body, one request per image on one keep-alive connection: what an
    integrator's `httpx.post` or `curl --data-binary` does (ui.rest)."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=120.0)

    def classify(self, path: Path, threshold: float = THRESHOLD) -> dict[str, Any]:
        response = self.http.post(
            "/v1/classify",
            params={"threshold": threshold},
            content=path.read_bytes(),
            headers={"Content-Type": "image/jpeg"},
        )
        if response.is_error:
            raise RuntimeError(f"/v1/classify answered {response.status_code}: {response.text[:200]}")
        return response.json()

    def close(self) -> None:
        self.http.close()


#: How each kind of caller is named in the throughput tables.
CALLER_LABELS = {"ApiCaller": "gradio_client", "HttpCaller": "plain HTTP", "RestCaller": "JSON API (/v1)"}


class _Sampler(threading.Thread):
    """Samples the server's resident memory, and the length of Gradio's queue when `queue` is set, until stopped.

    Reading the queue is an HTTP request that the app answers on the cores being measured (~1 ms of its CPU and
    ~0.6 ms of the sampler's each time, 20 times a second): levels whose requests never enter Gradio's queue (the
    JSON API) leave it out."""

    def __init__(self, server: AppServer, *, queue: bool = True) -> None:
        super().__init__(name="sampler", daemon=True)
        self.server = server
        self.stopped = threading.Event()
        self.peak_rss = 0
        self.max_queue: int | None = 0 if queue else None
        self.queue_errors = 0

    def run(self) -> None:
        while not self.stopped.is_set():
            self.peak_rss = max(self.peak_rss, self.server.rss_bytes())
            if self.max_queue is not None:
                try:
                    self.max_queue = max(self.max_queue, self.server.queue_size())
                except httpx.HTTPError:
                    self.queue_errors += 1
            self.stopped.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self.stopped.set()
        self.join()


def throughput(
    server: AppServer,
    clients: int,
    images: Sequence[Path],
    level_seconds: float,
    caller: type[ApiCaller | HttpCaller | RestCaller] = ApiCaller,
) -> dict[str, Any]:
    """`clients` API clients, each in its own thread and session, send distinct images back to back.

    Each client sends its share of `images` (so no image is sent twice) and stops starting new requests after
    `level_seconds`. Errors (raised by the client) are counted, not retried. The app's CPU time and this process's
    (the clients') are reported per image: on a small machine both come out of the same cores.
    """
    label = CALLER_LABELS[caller.__name__]
    callers = [caller(server.url) for _ in range(clients)]
    shares = [list(images[index::clients]) for index in range(clients)]
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    finished: list[float] = []

    def send(caller: ApiCaller | HttpCaller | RestCaller, share: list[Path]) -> None:
        barrier.wait()
        deadline = time.perf_counter() + level_seconds
        for path in share:
            if time.perf_counter() > deadline:
                break
            started = time.perf_counter()
            try:
                caller.classify(path)
            except Exception as error:  # every failure is counted and reported, whatever its kind
                with lock:
                    errors.append(f"{type(error).__name__}: {error}"[:200])
                continue
            with lock:
                latencies.append(1000 * (time.perf_counter() - started))
        with lock:
            finished.append(time.perf_counter())

    threads = [
        threading.Thread(target=send, args=(caller, share), name=f"client {index}")
        for index, (caller, share) in enumerate(zip(callers, shares, strict=True))
    ]
    # POST /v1/classify answers outside Gradio's queue: there is no queue to watch.
    sampler = _Sampler(server, queue=caller is not RestCaller)
    for thread in threads:
        thread.start()
    sampler.start()
    this_process = psutil.Process()
    server_cpu, client_cpu = server.cpu_seconds(), sum(this_process.cpu_times()[:2])
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = max(finished) - started
    server_cpu, client_cpu = server.cpu_seconds() - server_cpu, sum(this_process.cpu_times()[:2]) - client_cpu
    sampler.stop()
    for each in callers:
        each.close()
    completed = len(latencies)
    return {
        "clients": clients,
        "sent": completed + len(errors),
        "completed": completed,
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:3],
        "wall_s": round(wall, 2),
        "images_per_s": round(completed / wall, 3) if wall > 0 else 0.0,
        "latency_ms": summarise(latencies).as_dict() if latencies else None,
        "peak_rss_mb": round(sampler.peak_rss / 2**20, 1),
        "max_queue_size": sampler.max_queue,
        "client": label,
        "app_cpu_ms_per_image": round(1000 * server_cpu / completed, 1) if completed else None,
        "client_cpu_ms_per_image": round(1000 * client_cpu / completed, 1) if completed else None,
    }


def throughput_rounds(
    server: AppServer,
    clients: int,
    images: Sequence[Path],
    level_seconds: float,
    caller: type[ApiCaller | HttpCaller | RestCaller],
    rounds: int,
    engine: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """`throughput` run `rounds` times with new clients (so new sessions: no result is reused from a round before).

    Returns the median round (by images/s, the lower middle one for an even count) with every round's images/s in
    `rounds_images_per_s`; requests sent, completed and failed are summed over the rounds, the largest queue and the
    peak memory are the largest seen in any round.

    With `engine` (the bare batched forward pass's images/s, measured by the caller), each round is paired with a
    measurement of it made just before, while the app is paused: `vs_engine` is the median of the rounds' ratios,
    each in `vs_engine_rounds`, so that a host whose speed drifts between minutes compares like with like.
    """
    levels, rates = [], []
    for _ in range(max(1, rounds)):
        if engine is not None:
            with server.paused():
                rates.append(engine())
        levels.append(throughput(server, clients, images, level_seconds, caller=caller))
    ordered = sorted(levels, key=lambda level: level["images_per_s"])
    median = dict(ordered[(len(ordered) - 1) // 2])
    median["rounds_images_per_s"] = [level["images_per_s"] for level in levels]
    median["errors"] = sum(level["errors"] for level in levels)
    median["sent"] = sum(level["sent"] for level in levels)
    median["completed"] = sum(level["completed"] for level in levels)
    median["error_examples"] = sorted({example for level in levels for example in level["error_examples"]})[:3]
    queues = [level["max_queue_size"] for level in levels if level["max_queue_size"] is not None]
    median["max_queue_size"] = max(queues) if queues else None
    median["peak_rss_mb"] = max(level["peak_rss_mb"] for level in levels)
    if rates:
        paired = [level["images_per_s"] / rate for level, rate in zip(levels, rates, strict=True)]
        median["engine_images_per_s_rounds"] = [round(rate, 3) for rate in rates]
        median["vs_engine_rounds"] = [round(ratio, 3) for ratio in paired]
        median["vs_engine"] = round(statistics.median(paired), 3)
    return median


def _find_threshold_event(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], int]:
    """The single-image tab's slider event and the image event that stores the scores it re-evaluates."""
    sliders = [
        component["id"]
        for component in config["components"]
        if component.get("type") == "slider" and component.get("props", {}).get("elem_id") == "threshold"
    ]
    if not sliders:
        raise LookupError("the page has no slider with elem_id 'threshold'")
    slider = sliders[0]
    dependencies = config["dependencies"]
    on_slider = [
        dependency
        for dependency in dependencies
        if dependency.get("backend_fn") and [slider, "change"] in [list(target) for target in dependency["targets"]]
    ]
    if not on_slider:
        raise LookupError("nothing on the server listens to the threshold slider's change event")
    slider_event = on_slider[0]
    stored = set(slider_event["inputs"]) - {slider}
    producers = [
        dependency
        for dependency in dependencies
        if dependency.get("backend_fn") and slider in dependency["inputs"] and stored & set(dependency["outputs"])
    ]
    if not producers:
        raise LookupError("no event classifies an image and stores what the threshold slider re-evaluates")
    return slider_event, producers[0], slider


def _wait_for_event(http: httpx.Client, session: str) -> dict[str, Any]:
    with http.stream("GET", "/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("msg") == "process_completed":
                return message
    raise RuntimeError("the queue closed the stream before the event completed")


def _threshold_in(data: list[Any]) -> float | None:
    for value in data:
        if isinstance(value, dict) and "threshold" in value:
            return value["threshold"]
    return None


def threshold_change(server: AppServer, image: Path, changes: int) -> dict[str, Any]:
    """Classify `image` in a browser-like session, then move the threshold slider `changes` times.

    The slider's event is found in the page's config (the slider with elem_id 'threshold'), called as the page
    calls it, and timed by the server itself (the `duration` Gradio returns) and end to end. Model calls are counted
    in the app's log before and after.
    """
    config = httpx.get(server.url + "/config", timeout=30).json()
    slider_event, image_event, slider = _find_threshold_event(config)
    session = uuid.uuid4().hex[:11]
    with image.open("rb") as handle:
        uploaded = server.http.post("/upload", files={"files": (image.name, handle, "image/jpeg")})
    uploaded.raise_for_status()
    file_data = {"path": uploaded.json()[0], "meta": {"_type": "gradio.FileData"}}
    inputs = [file_data if index != slider else THRESHOLD for index in image_event["inputs"]]
    joined = server.http.post(
        "/queue/join",
        json={
            "data": inputs,
            "fn_index": image_event["id"],
            "session_hash": session,
            "trigger_id": image_event["targets"][0][0],
            "event_data": None,
        },
    )
    joined.raise_for_status()
    message = _wait_for_event(server.http, session)
    if not message.get("success", True):
        raise RuntimeError(f"classifying the image in the page's session failed: {message.get('output')}")
    calls_before = server.model_calls()
    server_ms, round_trip_ms, mismatches = [], [], 0
    values = itertools.cycle([0.2, 0.8, 0.35, 0.65, 0.5])
    for _ in range(changes):
        value = next(values)
        body = {
            "data": [value if index == slider else None for index in slider_event["inputs"]],
            "fn_index": slider_event["id"],
            "session_hash": session,
            "trigger_id": slider,
            "event_data": None,
        }
        started = time.perf_counter()
        answer = server.http.post("/run/predict", json=body)
        round_trip_ms.append(1000 * (time.perf_counter() - started))
        answer.raise_for_status()
        result = answer.json()
        server_ms.append(1000 * float(result["duration"]))
        if _threshold_in(result["data"]) != value:
            mismatches += 1
    return {
        "event": f"threshold slider .change (fn_index {slider_event['id']}, queue={slider_event.get('queue')})",
        "changes": changes,
        "server_ms": summarise(server_ms).as_dict(),
        "round_trip_ms": summarise(round_trip_ms).as_dict(),
        "model_calls": server.model_calls() - calls_before,
        "responses_without_new_threshold": mismatches,
    }


def cold_start(hf_home: Path, folder: Path, repeats: int) -> dict[str, Any]:
    """Start the app `repeats` times with the model in a warm HF cache (HF_HUB_OFFLINE=1, default NSFW_MODEL) and
    time process start -> first HTTP answer -> /model_info ready.

    The engine exports of the cached revision are deleted first, so that the first start exports the model (once
    per revision, timed as `first_ready_s`) and the later ones read the export, as a restarted Space does."""
    for exports in hf_home.glob("hub/models--*/snapshots/*/.engines"):
        shutil.rmtree(exports)
    runs = []
    for index in range(repeats + 1):
        server = AppServer(
            {"HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "NSFW_MODEL": None, "HF_HUB_CACHE": None},
            folder / f"cold-start-{index}.log",
            folder / "gradio-tmp",
        )
        with server:
            times = server.wait_until_ready()
            info = server.model_info()
            times.update(rss_mb=round(server.rss_bytes() / 2**20, 1), model=info.get("id"))
            times["revision"] = info.get("revision")
            times["engine"] = (info.get("runtime") or {}).get("engine")
        runs.append(times)
        logger.info("Cold start %d: ready after %.2f s", index + 1, times["ready_s"])
    later = runs[1:]
    return {
        "runs": runs,
        "first_ready_s": runs[0]["ready_s"],
        "listening_s": statistics.median(run["listening_s"] for run in later),
        "ready_s": statistics.median(run["ready_s"] for run in later),
    }


#: The app as shipped and with the means of issue 5 taken away one by one, for `compare_configurations`.
APP_CONFIGURATIONS: dict[str, tuple[dict[str, str], str]] = {
    # The former setting: one /classify request at a time (decoding waits for the previous forward pass).
    "one request at a time": ({}, "import app, ui.single; ui.single.CLASSIFY_CONCURRENCY = 1; app.main()"),
    # Requests decode at the same time, but each forward pass takes one image.
    "8 at once, not merged": ({"NSFW_BATCH_SIZE": "1"}, "import app; app.main()"),
    # Merged forward passes run whole on both torch threads (before NSFW_SPLIT_BATCHES).
    "8 at once, merged, not split": ({"NSFW_SPLIT_BATCHES": "0"}, "import app; app.main()"),
    "8 at once, merged and split (as shipped)": ({}, "import app; app.main()"),
}


def compare_configurations(
    standin_dir: Path,
    folder: Path,
    clients: int,
    images: Sequence[Path],
    names: Sequence[str],
    rounds: int,
    level_seconds: float,
) -> dict[str, Any]:
    """Start the app once per configuration in `names` (keys of `APP_CONFIGURATIONS`), all at once, then measure
    `clients` plain-HTTP clients against each in turn for `rounds` rounds, so that load from elsewhere falls on every
    configuration alike; returns each one's median images/s and its rounds. Each round sends its own slice of
    `images`; each app has its own cache, so every image is new to it."""
    servers = {
        name: AppServer(
            {"NSFW_MODEL": str(standin_dir), "HF_HUB_OFFLINE": "1", **APP_CONFIGURATIONS[name][0]},
            folder / f"configuration-{index}.log",
            folder / "gradio-tmp",
            command=[sys.executable, "-c", APP_CONFIGURATIONS[name][1]],
        )
        for index, name in enumerate(names)
    }
    per_round = max(clients, (len(images) - 1) // max(1, rounds))
    levels: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    try:
        for server in servers.values():
            server.start()
        for server in servers.values():
            server.wait_until_ready()
            HttpCaller(server.url).classify(images[0])  # warm-up: the first forward pass is slower
        for round_index in range(rounds):
            share = images[1 + round_index * per_round : 1 + (round_index + 1) * per_round]
            for name, server in servers.items():
                levels[name].append(throughput(server, clients, share, level_seconds, caller=HttpCaller))
    finally:
        for server in servers.values():
            server.stop()
    results = {}
    for name, measured in levels.items():
        rates = [level["images_per_s"] for level in measured]
        results[name] = {
            "clients": clients,
            "rounds": len(measured),
            "images_per_s": round(statistics.median(rates), 3),
            "images_per_s_rounds": rates,
            "errors": sum(level["errors"] for level in measured),
            "latency_ms": {"median_ms": statistics.median(level["latency_ms"]["median_ms"] for level in measured)},
            "app_cpu_ms_per_image": statistics.median(level["app_cpu_ms_per_image"] for level in measured),
            "client": "plain HTTP",
        }
        logger.info("Configuration %r: %.2f images/s (median of %d rounds)", name, statistics.median(rates), rounds)
    return results
