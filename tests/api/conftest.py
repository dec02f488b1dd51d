"""One app per session, launched as `python app.py` with the stand-in in a Hugging Face cache (HF_HUB_OFFLINE=1)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest
from gradio_client import Client

from testbed.server import AppServer, launch_app


@pytest.fixture(scope="session")
def app(hf_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app serving Marqo/nsfw-image-detection-384 from the cache, as an air-gapped deployment would."""
    with launch_app({"HF_HOME": str(hf_home)}, tmp_path_factory.mktemp("api-app") / "app.log") as running:
        running.wait_for_status("ready", "error")
        yield running


@pytest.fixture(scope="session")
def client(app: AppServer) -> Client:
    """gradio_client as the README shows it: one SSL context for all requests (not one per request)."""
    context = ssl.create_default_context(cafile=certifi.where())
    return Client(app.url, verbose=False, download_files=False, ssl_verify=context)  # type: ignore[arg-type]
