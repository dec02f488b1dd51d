"""The JSON API under /v1 against the launched app (`python app.py`) over real HTTP: one request, one answer, the
same JSON as the Gradio endpoints, and every refusal as JSON with its status."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from gradio_client import Client, handle_file

from testbed.images import EXAMPLES, encode, noise_photo
from testbed.server import AppServer

from .rest_client import open_request, read_answer

ROCKET = (EXAMPLES / "rocket.jpg").read_bytes()
#: What differs between two runs on the same image: the clock.
_TIMED = ("timings_ms", "ms", "created")


def _untimed(result: Any) -> Any:
    if isinstance(result, dict):
        return {key: _untimed(value) for key, value in result.items() if key not in _TIMED}
    if isinstance(result, list):
        return [_untimed(value) for value in result]
    return result


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["status"] == status and "Traceback" not in error["message"]
    return error["message"]


@pytest.fixture(scope="module")
def http(app: AppServer) -> httpx.Client:
    with httpx.Client(base_url=app.url, timeout=120) as client:
        yield client


def test_one_post_with_the_image_answers_the_json_of_the_gradio_classify_endpoint(
    http: httpx.Client, client: Client
) -> None:
    response = http.post("/v1/classify?threshold=0.3", content=ROCKET, headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200
    result = response.json()
    assert result["threshold"] == 0.3 and result["image"] == {"width": 640, "height": 427, "format": "JPEG"}
    assert set(result["timings_ms"]) == {"decode", "inference", "total"}
    gradio = client.predict(handle_file(str(EXAMPLES / "rocket.jpg")), 0.3, api_name="/classify")
    assert _untimed(result) == _untimed(gradio)


def test_a_multipart_file_part_and_an_octet_stream_body_are_read_like_an_image_body(http: httpx.Client) -> None:
    as_image = http.post("/v1/classify", content=ROCKET, headers={"Content-Type": "image/jpeg"}).json()
    as_part = http.post("/v1/classify", files={"file": ("photo.jpg", ROCKET, "image/jpeg")}).json()
    as_octets = http.post("/v1/classify", content=ROCKET, headers={"Content-Type": "application/octet-stream"}).json()
    assert _untimed(as_part) == _untimed(as_image) == _untimed(as_octets)
    assert as_image["threshold"] == 0.5  # the UI's default


def test_moderate_answers_the_json_of_the_gradio_moderate_endpoint(http: httpx.Client, client: Client) -> None:
    response = http.post(
        "/v1/moderate?allow_below=0.2&block_above=0.9&scan=true",
        content=ROCKET,
        headers={"Content-Type": "image/jpeg"},
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["decision"] in {"allow", "review", "block"} and result["tiles"]["count"] >= 1
    gradio = client.predict(handle_file(str(EXAMPLES / "rocket.jpg")), 0.2, 0.9, True, api_name="/moderate")
    assert _untimed(result) == _untimed(gradio)


def test_a_batch_of_files_answers_results_and_summary_with_a_row_for_the_unreadable_one(
    http: httpx.Client, client: Client
) -> None:
    files = [
        ("files", ("rocket.jpg", ROCKET, "image/jpeg")),
        ("files", ("noise.png", encode(noise_photo((300, 200)), "PNG"), "image/png")),
        ("file", ("notes.txt", b"not an image", "text/plain")),
    ]
    response = http.post("/v1/classify_batch?threshold=0.4", files=files)
    assert response.status_code == 200, response.text
    report = response.json()
    assert [row["file"] for row in report["results"]] == ["rocket.jpg", "noise.png", "notes.txt"]
    assert "text file" in report["results"][2]["error"]
    assert report["summary"]["files"] == 3 and report["summary"]["classified"] == 2
    assert report["summary"]["threshold"] == 0.4
    assert set(report) >= {"results", "summary", "model", "threshold", "created", "timings_ms"}
    gradio = client.predict([handle_file(str(EXAMPLES / "rocket.jpg"))], 0.4, api_name="/classify_batch")
    assert _untimed(gradio["results"][0]) == _untimed(report["results"][0])


def test_a_file_that_is_no_image_gets_400_with_the_decoders_message(http: httpx.Client) -> None:
    response = http.post("/v1/classify", content=b"%PDF-1.7\n" + b"x" * 100, headers={"Content-Type": "image/jpeg"})
    assert "PDF document" in _error(response, 400)


def test_an_empty_body_gets_400_saying_the_file_is_empty(http: httpx.Client) -> None:
    response = http.post("/v1/classify", content=b"", headers={"Content-Type": "image/png"})
    assert "empty (0 bytes)" in _error(response, 400)


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", None])
def test_a_body_of_another_type_gets_415_naming_the_types_accepted(
    http: httpx.Client, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = http.post("/v1/classify", content=ROCKET, headers=headers)
    message = _error(response, 415)
    assert "image/*" in message and "multipart/form-data" in message


def test_a_batch_sent_as_a_bare_body_gets_415(http: httpx.Client) -> None:
    response = http.post("/v1/classify_batch", content=ROCKET, headers={"Content-Type": "image/jpeg"})
    assert "multipart/form-data" in _error(response, 415)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("threshold=1.5", "between 0 and 1"),
        ("threshold=abc", "must be a number"),
        ("treshold=0.4", "Unknown parameter 'treshold'"),
        ("threshold=0.4&threshold=0.6", "given 2 times"),
    ],
)
def test_a_bad_parameter_gets_422_before_the_image_is_read(http: httpx.Client, query: str, expected: str) -> None:
    response = http.post(f"/v1/classify?{query}", content=ROCKET, headers={"Content-Type": "image/jpeg"})
    assert expected in _error(response, 422)


def test_moderate_refuses_a_band_whose_allow_threshold_is_above_the_block_threshold(http: httpx.Client) -> None:
    response = http.post(
        "/v1/moderate?allow_below=0.8&block_above=0.2", content=ROCKET, headers={"Content-Type": "image/jpeg"}
    )
    assert "must not be above" in _error(response, 422)


def test_a_body_declared_over_the_limit_gets_413_before_a_byte_is_sent(app: AppServer) -> None:
    connection = open_request(
        app.url, "/v1/classify", {"Content-Type": "image/jpeg", "Content-Length": str(51 * 2**20)}
    )
    answer = read_answer(connection)  # nothing of the body was sent: the answer comes from the header alone
    assert answer.status == 413
    assert "larger than 50 MB" in answer.json()["error"]["message"]


def test_a_text_field_instead_of_a_file_part_gets_400_saying_how_to_send_the_file(http: httpx.Client) -> None:
    response = http.post("/v1/classify", data={"file": "photo.jpg"})
    assert response.status_code == 415  # a urlencoded form is no image
    only_text = http.post("/v1/classify", files={"file": (None, b"photo.jpg")})
    assert "holds text, not a file" in _error(only_text, 400)


def test_the_openapi_document_describes_the_three_routes_with_examples(http: httpx.Client) -> None:
    document = http.get("/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {"/v1/classify", "/v1/classify_batch", "/v1/moderate"}
    classify = document["paths"]["/v1/classify"]["post"]
    assert {"image/*", "application/octet-stream", "multipart/form-data"} <= set(classify["requestBody"]["content"])
    assert [parameter["name"] for parameter in classify["parameters"]] == ["threshold"]
    assert classify["responses"]["200"]["content"]["application/json"]["example"]["label"] == "SFW"
    assert {"400", "413", "415", "422", "503"} <= set(classify["responses"])
    assert "Retry-After" in classify["responses"]["503"]["headers"]
    moderate = document["paths"]["/v1/moderate"]["post"]
    assert [parameter["name"] for parameter in moderate["parameters"]] == ["allow_below", "block_above", "scan"]


def test_the_page_and_the_gradio_api_are_still_served_beside_the_json_api(http: httpx.Client, client: Client) -> None:
    assert http.get("/").status_code == 200
    assert client.predict(api_name="/model_info")["status"] == "ready"
