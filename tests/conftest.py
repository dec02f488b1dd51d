"""Session fixtures (the stand-in checkpoint as a local folder and in a Hugging Face cache, a local Ray) and the tiers:
each test is marked with its folder's name (unit, integration, api, browser, benchmarks), so `-m unit` selects one."""

from __future__ import annotations

import os

# huggingface_hub reads this at import: keep its once-a-day telemetry request off the network (tests stay on loopback).
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr
import pytest

from model import Classifier, ModelSource, Settings
from testbed.standin import COMMIT, REPO_ID, build_standin, install_in_cache
from tests.support.hub_server import HubServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser

#: The tiers, cheapest first; each is a folder of tests/ and a marker registered in pyproject.toml.
TIERS = ("unit", "integration", "api", "browser", "benchmarks")
_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = item.path.relative_to(_TESTS).parts[0]
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def standin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """config.json + model.safetensors of the stand-in, as an air-gapped deployment would hold them."""
    return build_standin(tmp_path_factory.mktemp("standin"))


@pytest.fixture(scope="session")
def swapped_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same stand-in with its labels (and head rows) in the other order."""
    return build_standin(tmp_path_factory.mktemp("swapped"), swap_labels=True)


@pytest.fixture(scope="session")
def hf_home(tmp_path_factory: pytest.TempPathFactory, standin_dir: Path) -> Path:
    """An HF_HOME whose hub cache holds the stand-in as Marqo/nsfw-image-detection-384 at COMMIT (refs/main)."""
    home = tmp_path_factory.mktemp("hf_home")
    install_in_cache(standin_dir, home / "hub", repo_id=REPO_ID, commit=COMMIT)
    return home


@pytest.fixture(scope="session")
def settings(standin_dir: Path) -> Settings:
    return Settings(model=ModelSource(local_dir=str(standin_dir)))


@pytest.fixture(scope="session")
def classifier(settings: Settings) -> Classifier:
    """The stand-in loaded through the real code path (timm local-dir), shared by the session."""
    return Classifier.load(settings)


@pytest.fixture
def hub(standin_dir: Path) -> Iterator[HubServer]:
    """A local Hub serving the stand-in as Marqo/nsfw-image-detection-384 at COMMIT (`main`); a test may change its
    `mode`. A stalled request is held for up to 120 s (longer than any timeout under test) or until the test ends."""
    with HubServer(REPO_ID, {COMMIT: standin_dir}, stall_seconds=120) as server:
        yield server


@pytest.fixture(scope="session")
def demo() -> gr.Blocks:
    """The whole app around a loader that never loads: building it touches no model. Tests only read it."""
    import app as demo_app
    from model import ModelNotFoundError
    from ui import ModelLoader

    return demo_app.build_demo(ModelLoader.failed(ModelNotFoundError("no model in this test"), Settings()))


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium per session (with a synthetic camera), for the browser tier and the README's fetch
    snippet: Playwright's sync API holds this thread's event loop while it runs, so a second one cannot start."""
    from playwright.sync_api import sync_playwright

    from testbed.browser import FAKE_CAMERA_ARGS, launch_chromium

    with sync_playwright() as playwright:
        try:
            chromium = launch_chromium(playwright, *FAKE_CAMERA_ARGS)
        except FileNotFoundError as error:
            pytest.fail(str(error))
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def local_ray() -> Iterator[None]:
    """A local Ray with 2 CPUs, started once per test session and only for the tests that ask for it: `screen` and
    `evaluate` find it running and use it (they shut down only a Ray they started)."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray

    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=256 * 1024**2,
        logging_level=logging.ERROR,
        log_to_driver=False,
    )
    yield
    ray.shutdown()
