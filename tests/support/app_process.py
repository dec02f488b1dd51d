"""`python app.py` in a subprocess on a free loopback port, for the API and browser tests. Tests only."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = ["ROOT", "RunningApp", "free_port", "launch_app"]

ROOT = Path(__file__).resolve().parents[2]
#: Gradio prints this once the server listens (it may pick another port than asked if that one is taken).
_URL_LINE = re.compile(r"Running on local URL:\s+(http://\S+)")
#: What the app logs once per model run (ui.upload_classification): the tests count these lines.
INFERENCE_LINE = "ui.upload_classification: inference:"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RunningApp:
    """A launched app: its URL, its combined stdout/stderr log, and the process."""

    url: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def inference_count(self) -> int:
        """How many times the model has run (one log line per image classified)."""
        return self.log().count(INFERENCE_LINE)

    def model_info(self) -> dict:
        """/model_info through plain HTTP (the two-step /gradio_api/call protocol, as curl would use it)."""
        return call_endpoint(self.url, "model_info", [])

    def wait_for_status(self, *statuses: str, timeout: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout
        info: dict = {"status": "unreachable"}
        while True:
            with contextlib.suppress(OSError):  # the server may still be starting up
                info = self.model_info()
            if info["status"] in statuses:
                return info
            if time.monotonic() > deadline:
                raise TimeoutError(f"model status stayed {info['status']!r}; log:\n{self.log()[-3000:]}")
            time.sleep(0.25)

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGTERM ends it at once; SIGINT makes Gradio shut down gracefully, which takes seconds for nothing here.
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)

    def __enter__(self) -> RunningApp:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None):
        self.stop()


def call_endpoint(url: str, name: str, data: list, timeout: float = 60.0) -> dict:
    """POST /gradio_api/call/<name> then read the event stream; returns the first output or raises with its error."""
    request = urllib.request.Request(
        f"{url.rstrip('/')}/gradio_api/call/{name}",
        data=json.dumps({"data": data}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        event_id = json.load(response)["event_id"]
    with urllib.request.urlopen(f"{url.rstrip('/')}/gradio_api/call/{name}/{event_id}", timeout=timeout) as response:
        stream = response.read().decode()
    events = re.findall(r"event: (\w+)\ndata: (.*)", stream)
    for event, payload in events:
        if event == "complete":
            return json.loads(payload)[0]
        if event == "error":
            raise RuntimeError(f"/{name} failed: {payload}")
    raise RuntimeError(f"/{name} gave no result: {stream[:500]}")


def launch_app(
    env: Mapping[str, str], log_path: Path, *, args: tuple[str, ...] = (), timeout: float = 120.0
) -> RunningApp:
    """Start `python app.py` with `env` added to a clean environment and wait until the page is served.

    The model may still be loading when this returns (use `wait_for_status`). Gradio's upload cache goes to a
    folder next to the log, so nothing is left in the system's temporary folder.
    """
    cache = log_path.parent / f"{log_path.stem}-gradio-cache"
    cache.mkdir(parents=True, exist_ok=True)
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(("NSFW_", "GRADIO_", "HF_"))}
    full_env = {
        **inherited,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(free_port()),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_TEMP_DIR": str(cache),
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), *args], cwd=ROOT, env=full_env, stdout=log_file, stderr=subprocess.STDOUT
    )
    log_file.close()
    app = RunningApp(url="", log_path=log_path, process=process)
    deadline = time.monotonic() + timeout
    while not app.url:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with {process.returncode}; log:\n{app.log()[-3000:]}")
        if time.monotonic() > deadline:
            app.stop()
            raise TimeoutError(f"app.py did not start within {timeout:.0f} s; log:\n{app.log()[-3000:]}")
        match = _URL_LINE.search(app.log())
        if match:
            app.url = match.group(1).rstrip("/") + "/"
        else:
            time.sleep(0.2)
    return app
