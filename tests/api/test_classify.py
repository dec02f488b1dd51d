"""/classify and /model_info through gradio_client and plain HTTP, against `python app.py` on a local port."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from testbed.images import EXAMPLES, encode, photo
from testbed.server import AppServer, call_endpoint
from testbed.standin import COMMIT, REPO_ID

ROCKET = EXAMPLES / "rocket.jpg"
ASTRONAUT = EXAMPLES / "astronaut.png"


def test_model_info_describes_the_loaded_model(client: Client) -> None:
    info = client.predict(api_name="/model_info")
    assert "HF_HUB_OFFLINE=1" in info.pop("note")  # the app under test loads from the cache, offline
    runtime = info.pop("runtime")
    assert runtime["device"] == "cpu" and runtime["device_name"].startswith("CPU, ")
    assert (runtime["engine"], runtime["precision"], runtime["engine_note"]) == ("openvino", "fp32", None)
    assert info == {
        "status": "ready",
        "id": REPO_ID,
        "revision": COMMIT,
        "labels": ["NSFW", "SFW"],
        "input_size": [3, 384, 384],
        "error": None,
    }


def test_classify_returns_the_documented_json(client: Client) -> None:
    result = client.predict(handle_file(str(ROCKET)), api_name="/classify")
    assert set(result) >= {"label", "nsfw_score", "threshold", "probabilities", "model", "timings_ms"}
    assert result["label"] == "NSFW"
    assert result["threshold"] == 0.5
    assert set(result["probabilities"]) == {"NSFW", "SFW"}
    assert result["probabilities"]["NSFW"] == pytest.approx(result["nsfw_score"])
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert result["model"] == {"id": REPO_ID, "revision": COMMIT}
    assert set(result["timings_ms"]) == {"decode", "inference", "total"}
    assert all(value >= 0 for value in result["timings_ms"].values())
    assert result["image"] == {"width": 640, "height": 427, "format": "JPEG"}


def test_threshold_is_inclusive_score_at_threshold_is_nsfw(client: Client) -> None:
    score = client.predict(handle_file(str(ASTRONAUT)), api_name="/classify")["nsfw_score"]
    at = client.predict(handle_file(str(ASTRONAUT)), score, api_name="/classify")
    above = client.predict(handle_file(str(ASTRONAUT)), min(1.0, score + 1e-6), api_name="/classify")
    assert at["nsfw_score"] == score
    assert (at["label"], above["label"]) == ("NSFW", "SFW")


@pytest.mark.parametrize("threshold", [0.0, 1.0])
def test_threshold_bounds_are_accepted(client: Client, threshold: float) -> None:
    result = client.predict(handle_file(str(ASTRONAUT)), threshold, api_name="/classify")
    assert result["threshold"] == threshold
    assert result["label"] == ("NSFW" if threshold == 0.0 else "SFW")


@pytest.mark.parametrize(
    ("threshold", "message"),
    [(1.5, "must be between 0 and 1, not 1.5"), (-0.1, "must be between 0 and 1, not -0.1")],
)
def test_threshold_outside_zero_to_one_is_refused(client: Client, threshold: float, message: str) -> None:
    with pytest.raises(AppError, match=re.escape(message)):
        client.predict(handle_file(str(ROCKET)), threshold, api_name="/classify")


def _write(folder: Path, name: str, data: bytes) -> str:
    path = folder / name
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("report.jpg", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "Unsupported file: this is a PDF document"),
        ("empty.png", b"", "The file is empty (0 bytes)"),
        ("cut.png", encode(photo("chelsea.png"), "PNG")[:4000], "truncated or corrupt"),
        ("notes.png", b"just some text, not an image\n", "Unsupported file: this is a text file"),
    ],
    ids=["pdf-renamed-jpg", "empty", "truncated-png", "text"],
)
def test_bad_uploads_get_the_decoders_message(
    client: Client, tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    with pytest.raises(AppError, match=re.escape(message)):
        client.predict(handle_file(_write(tmp_path, name, data)), api_name="/classify")


def test_missing_image_is_refused_with_a_message(client: Client) -> None:
    with pytest.raises(AppError, match="No image was given"):
        client.predict(None, api_name="/classify")


def test_plain_http_call_works_as_the_readme_shows(app: AppServer) -> None:
    boundary = "----nsfw-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="rocket.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + ROCKET.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    upload = urllib.request.Request(
        f"{app.url}/gradio_api/upload",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(upload, timeout=30) as response:
        [server_path] = json.load(response)
    result = call_endpoint(app.url, "classify", [{"path": server_path, "meta": {"_type": "gradio.FileData"}}, 0.9])
    assert (result["label"], result["threshold"]) == ("NSFW", 0.9)


def test_a_path_that_was_not_uploaded_is_refused(app: AppServer) -> None:
    secret = Path(__file__)
    with pytest.raises(RuntimeError, match="failed"):
        call_endpoint(app.url, "classify", [{"path": str(secret), "meta": {"_type": "gradio.FileData"}}, 0.5])


def test_api_lists_the_public_endpoints_and_hides_the_ui_ones(client: Client) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/classify", "/model_info"} <= set(endpoints)
    assert [parameter["parameter_name"] for parameter in endpoints["/classify"]["parameters"]] == ["image", "threshold"]
    assert endpoints["/classify"]["parameters"][1]["parameter_default"] == 0.5
    assert not set(endpoints) & {"/show", "/rethreshold", "/toggle_reveal", "/refresh", "/lambda", "/load_example"}


def test_the_log_holds_sizes_and_timings_but_never_file_names(app: AppServer, client: Client, tmp_path: Path) -> None:
    secret = tmp_path / "private-holiday-photo.png"
    secret.write_bytes(ASTRONAUT.read_bytes())
    client.predict(handle_file(str(secret)), api_name="/classify")
    log = app.log()
    assert "private-holiday-photo" not in log
    assert f"{ASTRONAUT.stat().st_size} bytes, 512x512 PNG" in log
