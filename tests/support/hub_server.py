"""A small Hugging Face Hub-compatible file server on loopback, serving the stand-in checkpoint. Tests only.

It answers `HEAD`/`GET /{repo_id}/resolve/{revision}/{filename}` the way huggingface_hub expects (`X-Repo-Commit`,
`ETag`, `Content-Length`, `Content-Range`, and `X-Error-Code` on errors), so `HF_ENDPOINT` / `endpoint=` can point
the real download code at it. A `mode` makes it misbehave in one of the ways the real Hub, a proxy or a network can;
every wait it makes is bounded, and `close()` releases whatever is still waiting.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

__all__ = ["MODES", "HubServer", "RecordedRequest", "closed_port"]

#: normal: serve the files. gated / private: 401 as the Hub answers for a gated repository without an accepted
#: licence, or a private one without a token (`X-Error-Code: GatedRepo` / `RepoNotFound`). server_error: 500 on every
#: request. stall: accept the connection, read the request, never answer. stall_download: answer HEAD, never answer a
#: file GET. cut_short: the server's copy of the weights is truncated but advertised at full size, so every download
#: ends early (resuming with `Range` gets nothing more). cut_once: the first weights download breaks off half way;
#: resuming with `Range` then works. captive_portal: a web page (200, HTML, no Hub headers) for every request, as a
#: hotel Wi-Fi login or a misconfigured proxy answers.
MODES = (
    "normal",
    "gated",
    "private",
    "server_error",
    "stall",
    "stall_download",
    "cut_short",
    "cut_once",
    "captive_portal",
)
_WEIGHTS = "model.safetensors"


def closed_port() -> int:
    """A loopback port with nothing listening on it (bound and released, so connecting is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it (the token itself is never recorded, only whether one was sent)."""

    method: str
    path: str
    authorized: bool
    range: str | None


@dataclass
class _File:
    data: bytes
    etag: str


@dataclass
class HubServer:
    """A Hub for one repository: `commits` maps each commit hash to a folder of files, `branches` names to commits.

    Use as a context manager; `url` is the endpoint to give huggingface_hub. Anything not listed answers as the Hub
    does: another repository -> 404 `RepoNotFound`, another revision -> 404 `RevisionNotFound`, another file -> 404
    `EntryNotFound`.

    Args:
        repo_id: the one repository served.
        commits: commit hash -> folder holding its files (config.json, model.safetensors).
        branches: branch or tag name -> commit hash (default: `main` -> the first commit).
        mode: one of `MODES`; may be changed while the server runs.
        token: when set, requests without `Authorization: Bearer <token>` get the gated-repository 401.
        stall_seconds: longest time a stalled request is held before the connection is dropped.
    """

    repo_id: str
    commits: dict[str, Path]
    branches: dict[str, str] = field(default_factory=dict)
    mode: str = "normal"
    token: str | None = None
    stall_seconds: float = 30.0
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; use one of {MODES}")
        self.branches = self.branches or {"main": next(iter(self.commits))}
        self._files = {
            commit: {path.name: _file(path) for path in sorted(folder.iterdir()) if path.is_file()}
            for commit, folder in self.commits.items()
        }
        self._released = threading.Event()
        self._cut_once_done = False
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="hub-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HubServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and release every stalled request (so no client or thread waits on this server)."""
        self._released.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def downloads(self, filename: str = _WEIGHTS) -> list[RecordedRequest]:
        """The GET requests made for `filename`."""
        return [r for r in self.requests if r.method == "GET" and r.path.endswith(f"/{filename}")]

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _take_cut_once(self) -> bool:
        with self._lock:
            first, self._cut_once_done = not self._cut_once_done, True
            return first


def _file(path: Path) -> _File:
    data = path.read_bytes()
    return _File(data=data, etag=hashlib.sha256(data).hexdigest())


def _handler_for(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # A stalled client must not keep a handler thread forever either.
        timeout = 60

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests read `hub.requests` instead."""

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def _answer(self, *, send_body: bool) -> None:
            path = urlsplit(self.path).path
            authorization = self.headers.get("Authorization", "")
            hub._record(RecordedRequest(self.command, path, bool(authorization), self.headers.get("Range")))
            mode = hub.mode
            if mode == "stall":
                self._stall()
                return
            if mode == "captive_portal":
                self._send(200, "text/html", b"<html><body>Please sign in to the guest Wi-Fi.</body></html>")
                return
            if mode == "server_error":
                self._error(500, None, "Internal Error - We're working hard to fix this as soon as possible!")
                return
            if path == "/api/agent-harnesses":
                # huggingface_hub 2.x fetches this registry (telemetry, 3 s timeout) before its first request of the
                # day, unless HF_HUB_DISABLE_TELEMETRY=1; answered even in stall_download, which stalls file GETs.
                self._send(200, "application/json", b'{"standardEnvVars": [], "harnesses": {}}')
                return
            if mode == "stall_download" and send_body:
                self._stall()
                return
            repo_id, _, rest = path.lstrip("/").partition("/resolve/")
            revision, _, filename = rest.partition("/")
            revision = unquote(revision)
            if not rest or repo_id != hub.repo_id:
                self._error(404, "RepoNotFound", "Repository not found")
                return
            if mode == "private" or (mode == "gated" and authorization != f"Bearer {hub.token}"):
                code = "RepoNotFound" if mode == "private" else "GatedRepo"
                message = f"Access to model {repo_id} is restricted. You must have access to it and be authenticated."
                self._error(401, code, message)
                return
            if hub.token is not None and authorization != f"Bearer {hub.token}":
                self._error(401, "GatedRepo", f"Access to model {repo_id} is restricted and you are not in the list.")
                return
            commit = hub.branches.get(revision, revision)
            if commit not in hub._files:
                self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
                return
            file = hub._files[commit].get(filename)
            if file is None:
                self._error(404, "EntryNotFound", f"{filename} does not exist on {revision}", commit=commit)
                return
            self._send_file(file, commit, filename, send_body=send_body)

        def _stall(self) -> None:
            """Hold the request unanswered until the server closes (or `stall_seconds` pass), then hang up."""
            hub._released.wait(hub.stall_seconds)
            self.close_connection = True

        def _send_file(self, file: _File, commit: str, filename: str, *, send_body: bool) -> None:
            size = len(file.data)
            start = _range_start(self.headers.get("Range"), size) if send_body else 0
            self.send_response(206 if start else 200)
            self.send_header("X-Repo-Commit", commit)
            self.send_header("ETag", f'"{file.etag}"')
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size - start))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
            self.end_headers()
            if not send_body:
                return
            end = size
            if filename == _WEIGHTS and (hub.mode == "cut_short" or (hub.mode == "cut_once" and hub._take_cut_once())):
                # The stored copy ends half way (cut_short), or the connection drops there once (cut_once).
                end = size // 2
                self.close_connection = True
            self.wfile.write(file.data[start:end] if start < end else b"")
            self.wfile.flush()

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: int, code: str | None, message: str, commit: str | None = None) -> None:
            body = message.encode()
            self.send_response(status)
            if code:
                self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            if commit:
                self.send_header("X-Repo-Commit", commit)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    return Handler


def _range_start(header: str | None, size: int) -> int:
    """The first byte asked for by `Range: bytes=N-` (the only form huggingface_hub sends), else 0."""
    if not header or not header.startswith("bytes="):
        return 0
    first = header.removeprefix("bytes=").split("-", 1)[0]
    return min(int(first), size) if first.isdigit() else 0
