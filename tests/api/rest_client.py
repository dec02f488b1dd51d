"""Raw HTTP/1.1 for the /v1 tests: requests whose body is late, stalls, is chunked or is never sent, which an HTTP
client library would not send."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

#: The longest a test waits for an answer on a raw connection (the server must answer well before).
ANSWER_TIMEOUT = 60.0


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def open_request(url: str, path: str, headers: dict[str, str], body: bytes = b"") -> socket.socket:
    """Connect, send the request line, `headers` and the first `body` bytes, and leave the connection open."""
    parts = urlsplit(url)
    connection = socket.create_connection((parts.hostname, parts.port), timeout=ANSWER_TIMEOUT)
    lines = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}", *(f"{name}: {value}" for name, value in headers.items())]
    connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return connection


def read_answer(connection: socket.socket) -> Answer:
    """The response on `connection` (headers and a Content-Length body), then the connection closed."""
    data = b""
    with connection:
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                raise ConnectionError(f"the server closed the connection without an answer: {data!r}")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in header_lines)}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
    return Answer(int(status_line.split()[1]), headers, body[:length])


def send_chunks(
    connection: socket.socket, total: int, chunk_size: int = 64 * 1024, stop: Callable[[], bool] = lambda: False
) -> int:
    """Send up to `total` bytes as HTTP chunks, stopping early when `stop()` or when the server stops reading;
    returns the bytes sent. The final empty chunk is never sent: the body never ends."""
    sent = 0
    try:
        while sent < total and not stop():
            size = min(chunk_size, total - sent)
            connection.sendall(f"{size:x}\r\n".encode() + b"\xff" * size + b"\r\n")
            sent += size
    except OSError:  # the server answered and closed the connection: what a refusal mid-body looks like
        pass
    return sent
