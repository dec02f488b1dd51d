"""The app as a separate process on a free loopback port, with its log, its memory and its queue in view: the one
launcher of the API tests, the browser tests and the benchmarks."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import psutil

__all__ = ["ROOT", "AppServer", "call_endpoint", "free_port", "launch_app"]

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
API = "/gradio_api"
#: ui/upload_classification.py logs one line with this for every image classified, and says when a stored result
#: was reused.
INFERENCE_LOG_MARK = "inference:"
REUSED_LOG_MARK = "result reused"
#: Gradio prints this once the server listens (it may pick another port than asked if that one is taken).
_URL_LINE = re.compile(r"Running on local URL:\s+(http://\S+)")
#: Gradio prints this once `launch()` has checked that its page answers (it prints it whenever share is off).
LAUNCHED_LOG_MARK = "To create a public link"
#: Gradio's own check tries for up to 5 x 3 s; after that, polling starts whether or not the line was seen.
LAUNCH_CHECK_SECONDS = 20.0
#: How long the list of the app's processes is reused by `rss_bytes`: finding a process's children reads every
#: process's entry in /proc (~1 ms of CPU), too much to do 20 times a second on the cores being measured.
FAMILY_SECONDS = 1.0
#: The settings of the machine running the tests that a clean launch leaves out.
_MACHINE_SETTINGS = ("NSFW_", "GRADIO_", "HF_")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class AppServer:
    """`python app.py` in its own process group, serving on 127.0.0.1 only.

    Args:
        environ: variables set for the app on top of this process's environment (a value of None removes one).
        log_path: where the app's stdout and stderr go.
        temp_dir: Gradio's upload folder for this server (kept out of the shared /tmp/gradio); by default a folder
            next to the log.
        command: what to run instead of `python app.py` (run in the repository root).
        args: arguments added to `python app.py`.
        clean: leave out this process's NSFW_*, GRADIO_* and HF_* variables, so the settings of the machine running
            the tests do not reach the app.
    """

    def __init__(
        self,
        environ: Mapping[str, str | None],
        log_path: Path,
        temp_dir: Path | None = None,
        command: Sequence[str] | None = None,
        *,
        args: Sequence[str] = (),
        clean: bool = False,
    ) -> None:
        self.command = list(command) if command is not None else [sys.executable, str(ROOT / "app.py"), *args]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        temp_dir = temp_dir if temp_dir is not None else log_path.parent / f"{log_path.stem}-gradio-cache"
        self.environment = {
            name: value for name, value in os.environ.items() if not (clean and name.startswith(_MACHINE_SETTINGS))
        }
        self.environment.update(
            GRADIO_SERVER_NAME="127.0.0.1",
            GRADIO_SERVER_PORT=str(self.port),
            GRADIO_ANALYTICS_ENABLED="False",
            GRADIO_TEMP_DIR=str(temp_dir),
            HF_HUB_DISABLE_TELEMETRY="1",
            # The log is read while the app runs (launch marker, model calls): no block buffering.
            PYTHONUNBUFFERED="1",
        )
        for name, value in environ.items():
            if value is None:
                self.environment.pop(name, None)
            else:
                self.environment[name] = value
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self._family: list[psutil.Process] = []
        self._family_found_at = -FAMILY_SECONDS
        self.http = httpx.Client(base_url=self.url + API, timeout=30.0)

    def __enter__(self) -> AppServer:
        return self.start() if self.process is None else self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> AppServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        Path(self.environment["GRADIO_TEMP_DIR"]).mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def stop(self) -> None:
        self.http.close()
        if self.process is None or self.process.poll() is not None:
            return
        # SIGTERM ends it at once; SIGINT makes Gradio shut down gracefully, which takes seconds for nothing here.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)

    def log(self) -> str:
        """The app's combined stdout and stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(
                f"The app exited with status {self.process.returncode}. Its log ends:\n{self.log()[-3000:]}"
            )

    def wait_until_serving(self, timeout: float = 120.0) -> AppServer:
        """Wait until Gradio says it serves the page, and take its URL from the log. The model may still be loading
        (use `wait_for_status`)."""
        deadline = time.monotonic() + timeout
        while (match := _URL_LINE.search(self.log())) is None:
            self._check_alive()
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"The app did not start within {timeout:.0f} s. Its log ends:\n{self.log()[-3000:]}")
            time.sleep(0.2)
        url = match.group(1).rstrip("/")
        if url != self.url:
            self.url, self.port = url, int(url.rsplit(":", 1)[1])
            self.http.close()
            self.http = httpx.Client(base_url=self.url + API, timeout=30.0)
        return self

    def model_info(self) -> dict[str, Any]:
        """/model_info through Gradio's HTTP call API (POST, then read the event's result)."""
        return call_endpoint(self.url, "model_info", [], client=self.http)

    def wait_for_status(self, *statuses: str, timeout: float = 120.0) -> dict[str, Any]:
        """Poll /model_info until its status is one of `statuses`; returns it."""
        deadline = time.monotonic() + timeout
        info: dict[str, Any] = {"status": "unreachable"}
        while True:
            with contextlib.suppress(httpx.HTTPError, RuntimeError, KeyError, json.JSONDecodeError):
                info = self.model_info()  # the server may still be starting up
            if info["status"] in statuses:
                return info
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"model status stayed {info['status']!r}; log:\n{self.log()[-3000:]}")
            time.sleep(0.25)

    def _port_open(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.2)
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def wait_until_ready(self, timeout: float = 180.0, poll: float = 0.05) -> dict[str, float]:
        """Wait until /model_info says ready; returns seconds from process start to the port accepting connections
        and to ready.

        No HTTP request is sent before Gradio's launch has checked that it can reach its own page: that check gives
        up after 3 s, and requests arriving meanwhile on a busy CPU made it fail and the app exit (before
        `ui/gradio_fixes/launch_check.py`; waiting keeps start-up timings free of the retries).
        """
        deadline = self.started_at + timeout
        listening: float | None = None
        while time.perf_counter() < deadline:
            self._check_alive()
            if listening is None:
                if self._port_open():
                    listening = time.perf_counter() - self.started_at
                else:
                    time.sleep(poll)
                continue
            waited = time.perf_counter() - self.started_at - listening
            if LAUNCHED_LOG_MARK not in self.log() and waited < LAUNCH_CHECK_SECONDS:
                time.sleep(poll)
                continue
            try:
                info = self.model_info()
            except (httpx.HTTPError, RuntimeError, KeyError, json.JSONDecodeError):
                time.sleep(poll)
                continue
            if info.get("status") == "ready":
                return {"listening_s": round(listening, 3), "ready_s": round(time.perf_counter() - self.started_at, 3)}
            if info.get("status") == "error":
                raise RuntimeError(f"The app could not load the model: {info.get('error')}")
            time.sleep(poll)
        raise TimeoutError(f"The app at {self.url} was not ready within {timeout:g} s (log: {self.log_path})")

    def rss_bytes(self) -> int:
        """Resident memory of the app and any processes it started (found again at most every `FAMILY_SECONDS`)."""
        if self.process is None:
            return 0
        now = time.monotonic()
        if now - self._family_found_at >= FAMILY_SECONDS:
            try:
                root = psutil.Process(self.process.pid)
                self._family = [root, *root.children(recursive=True)]
            except psutil.Error:
                return 0
            self._family_found_at = now
        total = 0
        for process in self._family:
            try:
                total += process.memory_info().rss
            except psutil.Error:  # ended since it was found: look again next time
                self._family_found_at = -FAMILY_SECONDS
        return total

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The app and its processes stopped (SIGSTOP) inside the block, so that a measurement made meanwhile on the
        same cores gets them all; continued (SIGCONT) after it."""
        if self.process is None or self.process.poll() is not None:
            yield
            return
        os.killpg(self.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(self.process.pid, signal.SIGCONT)

    def cpu_seconds(self) -> float:
        """CPU time the app has used so far (user + system, all threads)."""
        if self.process is None:
            return 0.0
        try:
            times = psutil.Process(self.process.pid).cpu_times()
        except psutil.Error:
            return 0.0
        return times.user + times.system

    def cpu_percent(self, seconds: float = 2.0) -> float:
        """CPU used by the app over `seconds` (100 = one core), e.g. while it is idle."""
        if self.process is None:
            return 0.0
        process = psutil.Process(self.process.pid)
        before = process.cpu_times()
        time.sleep(seconds)
        after = process.cpu_times()
        used = (after.user - before.user) + (after.system - before.system)
        return round(100 * used / seconds, 1)

    def queue_size(self) -> int:
        answer = self.http.get("/queue/status")
        answer.raise_for_status()
        return int(answer.json().get("queue_size", 0))

    def model_calls(self) -> int:
        """Model calls so far, as counted in the app's log (results reused from the cache are not calls). The app
        runs in another process, so its classifier's counters are out of reach; in-process tests read
        `Classifier.forward_passes` instead."""
        return sum(1 for line in self.log().splitlines() if INFERENCE_LOG_MARK in line and REUSED_LOG_MARK not in line)


def call_endpoint(
    url: str, name: str, data: list, timeout: float = 60.0, *, client: httpx.Client | None = None
) -> dict[str, Any]:
    """POST /gradio_api/call/<name> then read the event stream, as curl would; returns the first output or raises
    with its error."""
    http = client if client is not None else httpx.Client(base_url=url.rstrip("/") + API, timeout=timeout)
    try:
        event = http.post(f"/call/{name}", json={"data": data}, timeout=timeout)
        event.raise_for_status()
        answer = http.get(f"/call/{name}/{event.json()['event_id']}", timeout=timeout)
        answer.raise_for_status()
    finally:
        if client is None:
            http.close()
    for event_name, payload in re.findall(r"event: (\w+)\ndata: (.*)", answer.text):
        if event_name == "complete":
            return json.loads(payload)[0]
        if event_name == "error":
            raise RuntimeError(f"/{name} failed: {payload}")
    raise RuntimeError(f"/{name} gave no result: {answer.text[:500]}")


def launch_app(
    environ: Mapping[str, str | None], log_path: Path, *, args: Sequence[str] = (), timeout: float = 120.0
) -> AppServer:
    """Start `python app.py` with `environ` on a clean environment (offline Hub) and wait until the page is served.

    The model may still be loading when this returns (use `wait_for_status`). Gradio's upload cache goes to a
    folder next to the log, so nothing is left in the system's temporary folder.
    """
    server = AppServer({"HF_HUB_OFFLINE": "1", **environ}, log_path, args=args, clean=True)
    return server.start().wait_until_serving(timeout)
