"""The model's lifecycle as the API and the status panel show it: loading (requests wait), ready, error.

These build the demo in this process around a loader the test controls; tests/api/test_classify.py runs the real
`python app.py`.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from gradio_client.utils import Status

import app as demo_app
from model import Classifier, ConfigurationError, ModelNotFoundError, Settings
from testbed.images import EXAMPLES
from testbed.server import free_port
from ui import ModelLoader, single, status
from ui.errors import user_errors

ROCKET = str(EXAMPLES / "rocket.jpg")


@pytest.fixture
def gated(classifier: Classifier) -> Iterator[tuple[ModelLoader, threading.Event]]:
    """A loader that stays 'loading' until the test opens the gate."""
    gate = threading.Event()

    def load() -> Classifier:
        gate.wait(120)
        return classifier

    loader = ModelLoader(load, classifier.settings).start()
    yield loader, gate
    gate.set()


@contextmanager
def serve(loader: ModelLoader) -> Iterator[tuple[Client, str]]:
    """build_demo around `loader`, launched in this process (as gradio's own client tests do)."""
    demo = demo_app.build_demo(loader)
    demo.queue()
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    try:
        yield Client(url, verbose=False, download_files=False), url
    finally:
        demo.close()


@pytest.fixture
def served(gated: tuple[ModelLoader, threading.Event]) -> Iterator[tuple[Client, ModelLoader, threading.Event]]:
    loader, gate = gated
    try:
        with serve(loader) as (client, _):
            yield client, loader, gate
    finally:
        gate.set()


def test_requests_during_loading_wait_for_the_model(served: tuple[Client, ModelLoader, threading.Event]) -> None:
    client, loader, gate = served
    assert client.predict(api_name="/model_info")["status"] == "loading"
    assert "Loading the model" in status.status_html(loader)
    job = client.submit(handle_file(ROCKET), api_name="/classify")
    deadline = time.monotonic() + 60
    while job.status().code != Status.PROCESSING and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.status().code == Status.PROCESSING
    assert not job.done()  # it cannot finish: the model is not there yet
    gate.set()
    assert job.result(timeout=120)["label"] == "NSFW"
    assert client.predict(api_name="/model_info")["status"] == "ready"
    assert 'data-status="ready"' in status.status_html(loader)


def test_a_request_that_outwaits_the_load_is_told_to_retry(gated: tuple[ModelLoader, threading.Event]) -> None:
    loader, _ = gated
    message = r"The model is still loading \(\d+ s so far\). Try again in a moment."
    with pytest.raises(gr.Error, match=message), user_errors("classify"):
        loader.wait(timeout=0.01)


def test_a_missing_model_folder_shows_error_status_and_classify_returns_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    loader = demo_app.create_loader(environ={"NSFW_MODEL": str(missing)})  # as main() reads NSFW_MODEL
    with serve(loader) as (client, url):
        with urllib.request.urlopen(url, timeout=30) as page:
            assert page.status == 200  # the page is up, showing the error
        info = client.predict(api_name="/model_info")
        with pytest.raises(AppError, match="the folder does not exist"):
            client.predict(handle_file(ROCKET), api_name="/classify")
    assert 'data-status="error"' in status.status_html(loader)
    assert info["status"] == "error"
    assert info["id"] == "no-such-model"
    assert info["labels"] == [] and info["input_size"] is None
    assert "the folder does not exist" in info["error"]
    assert "Set NSFW_MODEL to a folder holding config.json" in info["error"]


def test_a_bad_setting_becomes_the_status_panels_error() -> None:
    loader = demo_app.create_loader(environ={"NSFW_MAX_PIXELS": "lots"})
    assert loader.status == "error"
    assert isinstance(loader.error, ConfigurationError)
    info = status.model_info(loader)
    assert info["status"] == "error" and "NSFW_MAX_PIXELS='lots' is not a whole number" in info["error"]
    assert "NSFW_MAX_PIXELS=&#x27;lots&#x27; is not a whole number" in status.status_html(loader)


def test_an_unexpected_load_failure_is_logged_and_shown_generically(caplog: pytest.LogCaptureFixture) -> None:
    def load() -> Classifier:
        raise RuntimeError("secret internal detail")

    loader = ModelLoader(load, Settings()).start()
    with pytest.raises(gr.Error, match="an unexpected error occurred") as raised:
        single.classify(loader, {"path": ROCKET})
    assert "secret internal detail" not in str(raised.value)
    assert "secret internal detail" in caplog.text


def test_load_errors_reach_every_request_with_their_remedy() -> None:
    error = ModelNotFoundError("Could not load x: the folder does not exist. Set NSFW_MODEL to a folder.")
    loader = ModelLoader.failed(error, Settings())
    for _ in range(2):
        with pytest.raises(gr.Error, match="Set NSFW_MODEL to a folder"):
            single.classify(loader, {"path": ROCKET})


def test_adding_a_tab_is_one_entry_in_the_tab_list(classifier: Classifier) -> None:
    built: list[ModelLoader] = []

    def build(loader: ModelLoader) -> None:
        built.append(loader)
        gr.Markdown("Batch tab body")

    extra = SimpleNamespace(TITLE="Batch", ELEM_ID="batch-tab", build=build)
    loader = ModelLoader.ready(classifier)
    demo = demo_app.build_demo(loader, tabs=(single, extra))
    tabs = [block for block in demo.blocks.values() if isinstance(block, gr.Tab)]
    assert [tab.label for tab in tabs] == ["Single image", "Batch"]
    assert built == [loader]


@pytest.mark.parametrize(
    ("environ", "argv", "share"), [({}, [], False), ({"GRADIO_SHARE": "1"}, [], True), ({}, ["--share"], True)]
)
def test_share_comes_from_the_flag_or_gradio_share(environ: dict[str, str], argv: list[str], share: bool) -> None:
    assert demo_app.build_parser(environ).parse_args(argv).share is share
