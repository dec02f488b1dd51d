"""Raw HTTP calls that try to make the server read or fetch what was not uploaded, walk out of /gradio_api/file=, slip
a bomb in as a data: URL, upload past the size limit or overfill the queue: each is refused, and nothing leaks."""

from __future__ import annotations

import base64
import http.client
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from testbed.corpus import corpus
from testbed.images import EXAMPLES
from testbed.server import ROOT, AppServer, call_endpoint, launch_app

FILE_DATA = {"_type": "gradio.FileData"}
ROCKET = EXAMPLES / "rocket.jpg"
#: Our answer to a payload naming a URL or a path that was not uploaded (ui.upload.NOT_UPLOADED_MESSAGE).
NOT_UPLOADED = "Send the image file itself: this server reads only files uploaded to it"
#: Gradio's own refusals (a path outside its upload folder, a payload that is not a file) carry no message.
NO_MESSAGE = '"error": null'
#: Every endpoint that takes a file, with the arguments after it.
ENDPOINTS = {
    "classify": (False, [0.5]),
    "moderate": (False, [0.3, 0.7, False]),
    "explain": (False, []),
    "classify_batch": (True, [0.5]),
    "evaluate": (False, [0.5, 0.95, 0.95, 0.0]),
}
SECRETS = ("root:x:0:0", "def build_demo")
REFUSED = [case for case in corpus() if case.error is not None]
#: A small-limits app for what the defaults make too slow to reach: 1 MB uploads, a queue of 2.
SMALL_LIMITS = {"NSFW_MAX_FILE_MB": "1", "NSFW_ZIP_MAX_TOTAL_MB": "1", "NSFW_QUEUE_SIZE": "2"}


def arguments(endpoint: str, file: Any) -> list[Any]:
    is_list, rest = ENDPOINTS[endpoint]
    return [[file] if is_list else file, *rest]


def refused(app: AppServer, endpoint: str, file: Any) -> str:
    """Call `endpoint` with `file` over plain HTTP; it must fail. Returns the error event's data."""
    with pytest.raises(RuntimeError, match=f"/{endpoint} failed") as failure:
        call_endpoint(app.url, endpoint, arguments(endpoint, file))
    message = str(failure.value)
    assert not any(secret in message for secret in SECRETS)
    return message


class Listener:
    """A TCP listener on loopback that records every connection made to it (and answers nothing)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections: list[tuple[str, int]] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, address = self.server.accept()
            except OSError:
                return
            self.connections.append(address)
            connection.close()

    def close(self) -> None:
        self.server.close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    opened = Listener()
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def small_app(hf_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    with launch_app({"HF_HOME": str(hf_home), **SMALL_LIMITS}, tmp_path_factory.mktemp("small") / "app.log") as app:
        app.wait_for_status("ready")
        yield app


def upload(app: AppServer, name: str, data: bytes) -> str:
    response = httpx.post(f"{app.url}/gradio_api/upload", files={"files": (name, data)}, timeout=60)
    response.raise_for_status()
    return response.json()[0]


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


# Server paths instead of uploads ----------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", str(ROOT / "app.py"), "{cache}/../../../etc/passwd"],
    ids=["etc-passwd", "app-source", "out-of-the-cache"],
)
def test_a_server_path_marked_as_a_file_is_refused_by_gradio(app: AppServer, endpoint: str, path: str) -> None:
    cache = app.log_path.parent / f"{app.log_path.stem}-gradio-cache"
    message = refused(app, endpoint, {"path": path.format(cache=cache), "meta": FILE_DATA})
    assert NO_MESSAGE in message


@pytest.mark.parametrize("endpoint", ["classify", "moderate", "explain"])
def test_a_server_path_in_an_image_payload_without_meta_is_refused_by_us(app: AppServer, endpoint: str) -> None:
    # Gradio does not check an image payload without "meta"; before ui.upload checked it, /etc/passwd was read.
    assert NOT_UPLOADED in refused(app, endpoint, {"path": "/etc/passwd"})


@pytest.mark.parametrize("endpoint", ["classify_batch", "evaluate"])
def test_a_file_payload_without_meta_is_refused_by_gradio(app: AppServer, endpoint: str) -> None:
    assert NO_MESSAGE in refused(app, endpoint, {"path": "/etc/passwd"})


# URLs instead of uploads ------------------------------------------------------------------------------------------


def urls(listener: Listener, app: AppServer) -> dict[str, str]:
    return {
        "loopback": f"http://127.0.0.1:{listener.port}/cat.png",
        "localhost": f"http://localhost:{listener.port}/cat.png",
        "mapped-ipv6": f"http://[::ffff:127.0.0.1]:{listener.port}/cat.png",
        "cloud-metadata": "http://169.254.169.254/latest/meta-data/",
        "the-app-itself": f"{app.url}/config",
        "public": "https://example.com/cat.jpg",
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_url_instead_of_an_upload_is_refused_and_never_fetched(
    app: AppServer, listener: Listener, endpoint: str
) -> None:
    for kind, url in urls(listener, app).items():
        for payload in ({"path": url, "meta": FILE_DATA}, {"path": url, "url": url, "meta": FILE_DATA}):
            assert NOT_UPLOADED in refused(app, endpoint, payload), kind
    assert listener.connections == []
    # Gradio's downloader (safehttpx) was never reached: it would have logged its host check.
    assert "failed validation" not in app.log()


def test_a_url_without_meta_or_beside_another_path_is_refused_and_never_fetched(
    app: AppServer, listener: Listener
) -> None:
    url = f"http://127.0.0.1:{listener.port}/cat.png"
    assert NOT_UPLOADED in refused(app, "classify", {"url": url})
    assert NOT_UPLOADED in refused(app, "classify", {"path": url})
    assert NO_MESSAGE in refused(app, "classify", {"path": "cat.png", "url": url, "meta": FILE_DATA})
    assert listener.connections == []


def test_gradio_client_with_a_url_gets_the_message(client: Client, listener: Listener) -> None:
    with pytest.raises(AppError, match=re.escape(NOT_UPLOADED)):
        client.predict(handle_file(f"http://127.0.0.1:{listener.port}/cat.png"), api_name="/classify")
    assert listener.connections == []


def test_a_link_to_a_file_uploaded_here_is_read_from_disk(app: AppServer, listener: Listener) -> None:
    # How MCP clients pass a file they uploaded: its /gradio_api/file= link. Nothing is fetched.
    path = upload(app, "rocket.jpg", ROCKET.read_bytes())
    link = f"http://127.0.0.1:{listener.port}/gradio_api/file={path}"
    result = call_endpoint(app.url, "classify", [{"path": link, "url": link, "meta": FILE_DATA}, 0.5])
    assert result["label"] == "NSFW"
    outside = f"{app.url}/gradio_api/file=/etc/passwd"
    assert NOT_UPLOADED in refused(app, "classify", {"path": outside, "meta": FILE_DATA})
    assert listener.connections == []


# /gradio_api/file= --------------------------------------------------------------------------------------------------


def get_raw(app: AppServer, raw_path: str) -> tuple[int, bytes]:
    """GET with the path sent byte for byte (httpx and urllib would normalise the ../ away before sending)."""
    address = urlsplit(app.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.request("GET", raw_path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "target",
    [
        "/etc/passwd",
        "../../../../etc/passwd",
        "..%2f..%2f..%2f..%2fetc%2fpasswd",
        "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "%252e%252e%252fetc%252fpasswd",
        "..\\..\\..\\etc\\passwd",
        "//etc/passwd",
        "/etc/passwd%00.png",
        "/proc/self/environ",
        "app.py",
        "{root}/app.py",
        "{root}/model/config.py",
        "{root}/examples/../app.py",
        "{cache}/../../../../etc/passwd",
        "~/.bashrc",
        ".env",
    ],
)
def test_file_route_traversal_is_forbidden(app: AppServer, target: str) -> None:
    cache = app.log_path.parent / f"{app.log_path.stem}-gradio-cache"
    status, body = get_raw(app, "/gradio_api/file=" + target.format(root=ROOT, cache=cache))
    assert status == 403, body[:200]
    assert b"File not allowed" in body
    assert not any(secret.encode() in body for secret in SECRETS)


def test_the_old_file_route_does_not_exist_and_the_examples_are_served_on_purpose(app: AppServer) -> None:
    assert get_raw(app, "/file=/etc/passwd")[0] == 404
    # allowed_paths holds only examples/ (the Examples gallery shows them): that folder is public by design.
    status, body = get_raw(app, f"/gradio_api/file={EXAMPLES / 'rocket.jpg'}")
    assert (status, body) == (200, ROCKET.read_bytes())


# data: URLs --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", REFUSED, ids=[case.name for case in REFUSED])
def test_a_data_url_gets_the_same_answer_as_the_upload(app: AppServer, case) -> None:
    message = refused(app, "classify", {"url": data_url(case.data), "orig_name": case.filename})
    assert re.search(case.match, message), message


@pytest.mark.parametrize("endpoint", ["moderate", "explain"])
def test_a_bomb_as_a_data_url_is_refused_by_every_image_endpoint(app: AppServer, endpoint: str) -> None:
    [bomb] = [case for case in REFUSED if case.name == "png claiming 9500x9500"]
    message = refused(app, endpoint, {"url": data_url(bomb.data)})
    assert "Image too large: 9500 x 9500 = 90.2 MP; the limit is 40 MP" in message


def test_a_data_url_image_scores_as_the_upload_does(app: AppServer, client: Client) -> None:
    by_upload = client.predict(handle_file(str(ROCKET)), api_name="/classify")
    by_data_url = call_endpoint(app.url, "classify", [{"url": data_url(ROCKET.read_bytes(), "image/jpeg")}, 0.5])
    assert by_data_url["nsfw_score"] == pytest.approx(by_upload["nsfw_score"], abs=1e-6)


def test_a_data_url_over_the_byte_limit_is_refused_like_an_upload(small_app: AppServer) -> None:
    message = refused(small_app, "classify", {"url": data_url(b"\xff\xd8\xff" + bytes(1_600_000), "image/jpeg")})
    assert "File too large: 1.5 MB; the limit is 1 MB." in message


# Upload size and queue ---------------------------------------------------------------------------------------------


def test_max_file_size_is_set_from_the_limits(app: AppServer, small_app: AppServer) -> None:
    # The largest of one image (50 MB) and the zip budget (2048 MB) by default; here both are 1 MB.
    assert httpx.get(f"{app.url}/config", timeout=30).json()["max_file_size"] == 2048 * 2**20
    assert httpx.get(f"{small_app.url}/config", timeout=30).json()["max_file_size"] == 2**20


def test_an_upload_over_max_file_size_is_refused_with_a_message(small_app: AppServer, tmp_path: Path) -> None:
    data = b"\xff\xd8\xff" + bytes(1_600_000)
    response = httpx.post(f"{small_app.url}/gradio_api/upload", files={"files": ("big.jpg", data)}, timeout=60)
    assert response.status_code == 413
    assert "File size exceeded maximum allowed size of 1048576 bytes" in response.text
    big = tmp_path / "big.jpg"
    big.write_bytes(data)
    # gradio_client reads the limit from the app's config and refuses before sending.
    with pytest.raises(ValueError, match="exceeds the maximum file size of 1048576 bytes"):
        Client(small_app.url, verbose=False).predict(handle_file(str(big)), api_name="/classify")


def test_a_full_queue_answers_busy_at_once_and_the_server_recovers(small_app: AppServer) -> None:
    payload = {"path": upload(small_app, "rocket.jpg", ROCKET.read_bytes()), "meta": FILE_DATA}
    answers: list[httpx.Response] = []
    url = f"{small_app.url}/gradio_api/call/classify"

    def join() -> None:
        answers.append(httpx.post(url, json={"data": [payload, 0.5]}, timeout=60))

    threads = [threading.Thread(target=join) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    busy = [answer for answer in answers if answer.status_code == 503]
    assert busy, "40 requests at once never filled a queue of 2"
    assert {answer.status_code for answer in answers} == {200, 503}
    assert all("Queue is full" in answer.json()["detail"] for answer in busy)
    assert small_app.wait_for_status("ready")["status"] == "ready"
    assert call_endpoint(small_app.url, "classify", [payload, 0.5])["label"] == "NSFW"


def test_the_server_still_serves_after_the_abuse(app: AppServer, client: Client) -> None:
    assert app.process.poll() is None
    assert client.predict(api_name="/model_info")["status"] == "ready"
    assert client.predict(handle_file(str(ROCKET)), api_name="/classify")["label"] == "NSFW"
    assert "failed unexpectedly" not in app.log()
