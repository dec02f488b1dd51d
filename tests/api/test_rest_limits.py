"""The JSON API's limits over real HTTP, on apps served by this process so that their settings are small and their
model runs are counted: bodies over the limit (with and without Content-Length), stalled bodies, a full queue, a
model that loads or failed, and REST and Gradio requests sharing forward passes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
import httpx
import pytest
import torch
from gradio_client import Client, handle_file

import app as app_module
from model import Classifier, ModelNotFoundError, ModelSource, Settings
from testbed.images import EXAMPLES, encode, noise_photo
from testbed.served import ServedApp
from testbed.server import free_port
from ui import ModelLoader, rest
from ui.gradio_fixes import apply as apply_gradio_fixes

from .rest_client import open_request, read_answer, send_chunks

ROCKET = (EXAMPLES / "rocket.jpg").read_bytes()
JPEG = {"Content-Type": "image/jpeg"}
LIMIT = 2**20
QUEUE_SIZE = 8


@pytest.fixture(scope="module")
def small(standin_dir: Path) -> Iterator[ServedApp]:
    """The app with a 1 MB file limit and room for 8 waiting requests; merged batches run whole (one pass each)."""
    settings = Settings(
        model=ModelSource(local_dir=str(standin_dir)),
        max_file_bytes=LIMIT,
        queue_size=QUEUE_SIZE,
        split_batches=False,
    )
    with ServedApp(Classifier.load(settings)) as served:
        yield served


@contextmanager
def served(loader: ModelLoader) -> Iterator[str]:
    """`app.serve(loader)` on a free port of this process; yields its URL."""
    apply_gradio_fixes()
    port = free_port()
    demo: gr.Blocks = app_module.serve(
        loader, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        demo.close()


def _rest_api(served_app: ServedApp) -> rest.RestApi:
    assert served_app.demo is not None
    route = next(route for route in served_app.demo.server_app.routes if route.path == "/v1/classify")
    return route.endpoint.__self__


def _still_serves(url: str) -> None:
    response = httpx.post(f"{url}/v1/classify", content=ROCKET, headers=JPEG, timeout=120)
    assert response.status_code == 200, response.text


def test_a_chunked_body_over_the_limit_gets_413_before_it_ends(small: ServedApp) -> None:
    connection = open_request(small.url, "/v1/classify", {**JPEG, "Transfer-Encoding": "chunked"})
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(read_answer, connection)
        send_chunks(connection, 2 * LIMIT, stop=answer.done)  # the final empty chunk is never sent
        result = answer.result()
    assert result.status == 413
    assert "larger than 1 MB" in result.json()["error"]["message"]
    _still_serves(small.url)


def test_a_body_declared_over_the_limit_gets_413_from_the_header_alone(small: ServedApp) -> None:
    connection = open_request(small.url, "/v1/moderate", {**JPEG, "Content-Length": str(LIMIT + 1)})
    answer = read_answer(connection)
    assert answer.status == 413 and answer.json()["error"]["kind"] == "too_large"


def test_a_multipart_batch_file_over_the_limit_is_a_row_that_says_so(small: ServedApp) -> None:
    big = b"\xff\xd8\xff" + b"\0" * (LIMIT + 10)
    files = [("files", ("big.jpg", big, "image/jpeg")), ("files", ("rocket.jpg", ROCKET, "image/jpeg"))]
    report = httpx.post(f"{small.url}/v1/classify_batch", files=files, timeout=120).json()
    rows = {row["file"]: row for row in report["results"]}
    assert "1 MB" in rows["big.jpg"]["error"] and rows["rocket.jpg"]["label"] in {"NSFW", "SFW"}


def test_a_stalled_body_gets_408_after_the_idle_timeout_and_the_server_stays_up(
    small: ServedApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rest, "BODY_IDLE_SECONDS", 1.0)
    connection = open_request(small.url, "/v1/classify", {**JPEG, "Content-Length": "1000"}, ROCKET[:10])
    answer = read_answer(connection)  # bounded by the socket's timeout: the test fails rather than hangs
    assert answer.status == 408 and "stopped arriving" in answer.json()["error"]["message"]
    _still_serves(small.url)


def test_requests_beyond_the_queue_bound_get_503_with_retry_after_at_once(
    small: ServedApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rest, "BODY_IDLE_SECONDS", 5.0)
    api = _rest_api(small)
    assert api.capacity == sum(rest.CONCURRENCY.values()) + QUEUE_SIZE
    stalled = [
        open_request(small.url, "/v1/classify", {**JPEG, "Content-Length": "1000"}, b"\xff")
        for _ in range(api.capacity)
    ]
    deadline = time.monotonic() + 30
    while api.in_flight < api.capacity and time.monotonic() < deadline:
        time.sleep(0.02)
    assert api.in_flight == api.capacity
    response = httpx.post(f"{small.url}/v1/classify", content=ROCKET, headers=JPEG, timeout=30)
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert response.json()["error"]["kind"] == "busy"
    assert {read_answer(connection).status for connection in stalled} == {408}
    _still_serves(small.url)


def test_rest_and_gradio_requests_at_once_ride_one_forward_pass(
    small: ServedApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    classifier = small.classifier
    images = [encode(noise_photo((320, 240), seed=seed), "JPEG") for seed in range(8)]
    for index, data in enumerate(images[4:]):
        (tmp_path / f"{index}.jpg").write_bytes(data)
    # The first forward pass (of the one or more requests that came first) waits until every other request is queued
    # behind it, so that they can only be answered by one merged pass (what a busy server does anyway, made certain).
    run_engine = classifier._run_engine
    first = threading.Event()

    def hold_the_first_pass(batch: torch.Tensor) -> torch.Tensor:
        if not first.is_set():
            first.set()
            deadline = time.monotonic() + 60
            while classifier.requests_waiting < len(images) - batch.shape[0] and time.monotonic() < deadline:
                time.sleep(0.01)
        return run_engine(batch)

    monkeypatch.setattr(classifier, "_run_engine", hold_the_first_pass)
    gradio = Client(small.url, verbose=False)
    passes, scored = classifier.forward_passes, classifier.images_classified

    def post(data: bytes) -> dict:
        return httpx.post(f"{small.url}/v1/classify", content=data, headers=JPEG, timeout=120).json()

    with ThreadPoolExecutor(4) as pool:
        jobs = [
            gradio.submit(handle_file(str(tmp_path / f"{index}.jpg")), 0.5, api_name="/classify") for index in range(4)
        ]
        answers = list(pool.map(post, images[:4]))
    results = answers + [job.result() for job in jobs]
    assert all(result["label"] in {"NSFW", "SFW"} for result in results)
    assert classifier.images_classified - scored == 8
    assert classifier.forward_passes - passes == 2  # the held one, then the seven others (REST and Gradio) in one


def test_the_same_image_from_two_callers_runs_the_model_twice(small: ServedApp) -> None:
    data = encode(noise_photo((200, 200), seed=99), "JPEG")
    scored = small.classifier.images_classified
    for _ in range(2):
        assert httpx.post(f"{small.url}/v1/classify", content=data, headers=JPEG, timeout=120).status_code == 200
    assert small.classifier.images_classified - scored == 2  # no result cache across callers


def test_while_the_model_loads_requests_get_503_with_retry_after_then_answers(classifier: Classifier) -> None:
    release = threading.Event()

    def load() -> Classifier:
        release.wait(60)
        return classifier

    loader = ModelLoader(load, classifier.settings).start()
    with served(loader) as url:
        response = httpx.post(f"{url}/v1/classify", content=ROCKET, headers=JPEG, timeout=30)
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        assert "still loading" in response.json()["error"]["message"]
        release.set()
        loader.wait(60)
        _still_serves(url)


def test_a_model_that_failed_to_load_gets_503_with_the_reason_and_no_retry_after(classifier: Classifier) -> None:
    error = ModelNotFoundError("Model owner/missing was not found on the Hub. Check NSFW_MODEL.")
    with served(ModelLoader.failed(error, classifier.settings)) as url:
        response = httpx.post(f"{url}/v1/moderate", content=ROCKET, headers=JPEG, timeout=30)
    assert response.status_code == 503 and "retry-after" not in response.headers
    assert response.json()["error"] == {"status": 503, "kind": "model_unavailable", "message": str(error)}
