"""The loading faults not yet seen from the app: each one's own message reaches the status panel, /model_info and every
request, through the real loading code (the messages themselves are tested in tests/unit/test_loading.py and
tests/integration/test_loading_cli.py)."""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path

import gradio as gr
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from model import Classifier, ModelSource, Settings
from model.errors import ModelLoadError
from model.runtime.hub import WEIGHTS_FILE
from testbed.images import EXAMPLES
from testbed.server import launch_app
from testbed.standin import REPO_ID
from tests.support.hub_server import HubServer, closed_port
from ui import ModelLoader, single, status

ROCKET = str(EXAMPLES / "rocket.jpg")


def broken_folder(standin_dir: Path, folder: Path, damage: Callable[[Path], None]) -> Settings:
    shutil.copytree(standin_dir, folder)
    damage(folder)
    return Settings(model=ModelSource(local_dir=str(folder)))


def truncate_weights(folder: Path) -> None:
    weights = folder / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def other_architecture(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["architecture"] = "resnet18"
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")


def failed_loader(settings: Settings, **load_options: str) -> ModelLoader:
    loader = ModelLoader(partial(Classifier.load, settings, **load_options), settings).start()
    with pytest.raises(ModelLoadError):
        loader.wait(timeout=120)
    return loader


FAULTS = {
    "truncated-safetensors": r"model\.safetensors is truncated or corrupt",
    "other-architecture": r"'resnet18' named in config\.json cannot be built",
    "missing-revision": r"revision 'v9' does not exist in Marqo/nsfw-image-detection-384",
    "hub-unreachable-cold-cache": r"the Hub \(http://127\.0\.0\.1:\d+\) is unreachable",
}


@pytest.mark.parametrize(("fault", "message"), FAULTS.items(), ids=FAULTS.keys())
def test_each_loading_fault_is_shown_in_the_status_panel_model_info_and_requests(
    fault: str, message: str, standin_dir: Path, hub: HubServer, tmp_path: Path
) -> None:
    if fault == "truncated-safetensors":
        loader = failed_loader(broken_folder(standin_dir, tmp_path / "model", truncate_weights))
    elif fault == "other-architecture":
        loader = failed_loader(broken_folder(standin_dir, tmp_path / "model", other_architecture))
    elif fault == "missing-revision":
        settings = Settings(model=ModelSource(repo_id=REPO_ID, revision="v9"), load_timeout=10)
        loader = failed_loader(settings, cache_dir=str(tmp_path / "hub"), endpoint=hub.url)
    else:
        settings = Settings(model=ModelSource(repo_id=REPO_ID), load_timeout=10)
        loader = failed_loader(settings, cache_dir=str(tmp_path / "hub"), endpoint=f"http://127.0.0.1:{closed_port()}")

    error = str(loader.error)
    assert re.search(message, error)
    panel = status.status_html(loader)
    assert 'data-status="error"' in panel and html.escape(error) in panel
    info = status.model_info(loader)
    assert (info["status"], info["error"]) == ("error", error)
    with pytest.raises(gr.Error, match=message):
        single.classify(loader, None)


def test_offline_mode_with_a_cold_cache_is_shown_by_the_running_app(tmp_path: Path) -> None:
    # huggingface_hub reads HF_HUB_OFFLINE at import: this case needs a process of its own.
    env = {"HF_HOME": str(tmp_path / "empty-home"), "HF_HUB_OFFLINE": "1"}
    with launch_app(env, tmp_path / "app.log") as running:
        info = running.wait_for_status("error")
        with pytest.raises(AppError, match="HF_HUB_OFFLINE=1 is set and the model is not in the local cache"):
            Client(running.url, verbose=False, download_files=False).predict(handle_file(ROCKET), api_name="/classify")
    assert "HF_HUB_OFFLINE=1 is set and the model is not in the local cache" in info["error"]
    assert "pre-fetch" in info["error"]
