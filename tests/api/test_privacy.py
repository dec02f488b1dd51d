"""Nothing one client sends changes what another sees: a second gradio_client sending the image the first just
classified gets a real run (no zero inference time), a plain HTTP call never reuses anything, and a client's own
repeat is still answered from its session's results."""

from __future__ import annotations

import ssl
from pathlib import Path

import certifi
import httpx
import pytest
from gradio_client import Client, handle_file

from testbed.images import encode, noise_photo
from testbed.server import AppServer, call_endpoint


def new_client(app: AppServer) -> Client:
    context = ssl.create_default_context(cafile=certifi.where())
    return Client(app.url, verbose=False, download_files=False, ssl_verify=context)  # type: ignore[arg-type]


@pytest.fixture
def image(tmp_path: Path) -> Path:
    """An image no other test sends."""
    path = tmp_path / "private.jpg"
    path.write_bytes(encode(noise_photo((320, 240), seed=2024), "JPEG", quality=85))
    return path


def test_a_second_client_sending_the_same_image_gets_a_real_run(app: AppServer, image: Path) -> None:
    first, second = new_client(app), new_client(app)
    computed = first.predict(handle_file(str(image)), api_name="/classify")
    repeated = first.predict(handle_file(str(image)), api_name="/classify")
    assert computed["timings_ms"]["inference"] > 0
    assert repeated["timings_ms"]["inference"] == 0.0  # the same session's repeat is reused

    other = second.predict(handle_file(str(image)), api_name="/classify")
    assert other["timings_ms"]["inference"] > 0
    assert other["nsfw_score"] == pytest.approx(computed["nsfw_score"], abs=1e-6)


def test_plain_http_calls_never_reuse_a_result(app: AppServer, image: Path) -> None:
    new_client(app).predict(handle_file(str(image)), api_name="/classify")
    with httpx.Client(base_url=f"{app.url}/gradio_api", timeout=30) as http, image.open("rb") as file:
        [server_path] = http.post("/upload", files={"files": (image.name, file, "image/jpeg")}).json()
    data = [{"path": server_path, "meta": {"_type": "gradio.FileData"}}, 0.5]
    for _ in range(2):
        assert call_endpoint(app.url, "classify", data)["timings_ms"]["inference"] > 0
