"""The app against a misbehaving Hub (a loopback Hub-compatible server): /model_info and the status panel name what
happened; a stalled Hub with the model cached still starts the app, from the cache, and says so."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from model import Classifier, ModelSource, Settings
from model.errors import HubServerError, HubTimeoutError, ModelLoadError
from testbed.images import EXAMPLES
from testbed.server import launch_app
from testbed.standin import COMMIT, REPO_ID, install_in_cache
from tests.support.hub_server import HubServer
from ui import ModelLoader, status

ROCKET = str(EXAMPLES / "rocket.jpg")
#: The load bound for a stalled Hub in these tests (the default is 20 s).
TIMEOUT = 3.0


@pytest.fixture
def warm_home(tmp_path: Path, standin_dir: Path) -> Path:
    """An HF_HOME of its own (huggingface_hub may write to it) holding the stand-in, as an earlier start left it."""
    install_in_cache(standin_dir, tmp_path / "home" / "hub")
    return tmp_path / "home"


def app_environment(hub: HubServer, home: Path, **extra: str) -> dict[str, str]:
    return {"HF_ENDPOINT": hub.url, "HF_HOME": str(home), "HF_HUB_OFFLINE": "0", **extra}


def test_the_app_against_a_gated_hub_says_to_accept_the_licence_and_set_hf_token(
    hub: HubServer, tmp_path: Path
) -> None:
    hub.mode = "gated"
    with launch_app(app_environment(hub, tmp_path / "home"), tmp_path / "app.log") as running:
        info = running.wait_for_status("error")
        client = Client(running.url, verbose=False, download_files=False)
        assert client.predict(api_name="/model_info") == info
        with pytest.raises(AppError, match=r"refused access \(401\)"):
            client.predict(handle_file(ROCKET), api_name="/classify")
    assert info["id"] == REPO_ID and info["labels"] == []
    assert "refused access (401)" in info["error"]
    assert f"accept its licence on https://huggingface.co/{REPO_ID}" in info["error"]
    assert "set HF_TOKEN" in info["error"]


def test_the_app_with_the_model_cached_and_a_stalled_hub_starts_from_the_cache_and_says_why(
    hub: HubServer, warm_home: Path, tmp_path: Path
) -> None:
    hub.mode = "stall"
    env = app_environment(hub, warm_home, NSFW_LOAD_TIMEOUT=str(TIMEOUT))
    with launch_app(env, tmp_path / "app.log") as running:
        info = running.wait_for_status("ready", "error")
        client = Client(running.url, verbose=False, download_files=False)
        result = client.predict(handle_file(ROCKET), api_name="/classify")
        log = running.log()
    assert info["status"] == "ready" and info["revision"] == COMMIT
    assert result["label"] == "NSFW" and result["model"]["revision"] == COMMIT
    assert f"Loaded from the local cache (commit {COMMIT[:12]}) because the Hub ({hub.url}) did not answer" in log
    assert "did not answer within 3 s" in info["note"]


def hub_loader(hub: HubServer, cache: Path, timeout: float = TIMEOUT) -> ModelLoader:
    """The app's loader, loading through the real download path from `hub` into `cache`."""
    settings = Settings(model=ModelSource(repo_id=REPO_ID), load_timeout=timeout)
    return ModelLoader(partial(Classifier.load, settings, cache_dir=str(cache), endpoint=hub.url), settings).start()


def test_the_status_panel_shows_why_the_app_started_from_the_cache(hub: HubServer, warm_home: Path) -> None:
    hub.mode = "server_error"
    loader = hub_loader(hub, warm_home / "hub")
    loader.wait(timeout=120)
    panel = status.status_html(loader)
    assert 'data-status="ready"' in panel
    assert f"Loaded from the local cache (commit {COMMIT[:12]}) because the Hub" in panel
    assert "answered with an error (500)" in panel
    assert status.model_info(loader)["revision"] == COMMIT


@pytest.mark.parametrize(
    ("mode", "error_type", "message"),
    [
        ("stall", HubTimeoutError, r"did not answer within 3 s"),
        ("server_error", HubServerError, r"answered with an error \(500\)"),
    ],
    ids=["stall", "server_error"],
)
def test_the_status_panel_shows_each_hub_failure_when_nothing_is_cached(
    hub: HubServer, tmp_path: Path, mode: str, error_type: type[ModelLoadError], message: str
) -> None:
    hub.mode = mode
    loader = hub_loader(hub, tmp_path / "empty-cache")
    with pytest.raises(error_type, match=message):
        loader.wait(timeout=120)
    panel = status.status_html(loader)
    assert 'data-status="error"' in panel and "The model could not be loaded." in panel
    assert "and the model is not in the local cache" in panel
    info = status.model_info(loader)
    assert info["status"] == "error"
    assert re.search(message, info["error"])
