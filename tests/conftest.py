"""Session fixtures (the stand-in checkpoint as a local folder and in a Hugging Face cache, a local Ray) and the tiers:
each test is marked with its folder's name (unit, integration, api, browser, benchmarks), so `-m unit` selects one."""

from __future__ import annotations

import os
import tempfile

# huggingface_hub reads this at import: keep its once-a-day telemetry request off the network (tests stay on loopback).
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# Under pytest-xdist (`make test TEST_WORKERS=2`), an upload folder per worker: an app served in one worker empties
# its folder when it closes, which must not take the other worker's uploads with it. Gradio reads this at import.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ["GRADIO_TEMP_DIR"] = os.path.join(tempfile.gettempdir(), f"gradio-{os.environ['PYTEST_XDIST_WORKER']}")

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


#: The files that share one local Ray or start Ray clusters: under pytest-xdist they run on one worker, one after
#: another (two clusters at once on 2 cores trip the tests' stall limits), in this order: the file with a run pinned
#: to one CPU first, while the other worker starts the benchmark smoke run.
RAY_FILES = tuple(
    f"integration/{name}.py"
    for name in ("test_screen_resilience", "test_cluster", "test_cluster_gpu", "test_evaluate_cli", "test_ray_job",
                 "test_screen")
)  # fmt: skip
#: Folders run whole on one worker: each has a session app (tests/api launches `python app.py`, tests/browser serves
#: one beside a Chromium) that a second worker would start again.
SHARED_FOLDERS = ("api", "browser")
#: The longest units, handed out first under pytest-xdist so that no worker is left with one at the end: the Ray
#: files (several processes, both cores) beside the units that keep about one core busy (one subprocess at a time,
#: or waiting on a stalled server), then the browser and API tiers (an app and a browser or client, both cores).
LONGEST_FIRST = (
    "ray",
    "benchmarks/test_benchmark_runs.py",
    "integration/test_loading_cli.py",
    "benchmarks/test_load_short.py",
    "browser",
    "api",
)


def work_unit(path: Path) -> str:
    """What pytest-xdist hands one worker whole: "ray" for every Ray file, a folder of `SHARED_FOLDERS`, or else the
    test file at `path` (its module fixtures, an app, a page, a cluster or the benchmark run, are set up once)."""
    name = path.relative_to(_TESTS).as_posix()
    if name in RAY_FILES:
        return "ray"
    folder = name.split("/", 1)[0]
    return folder if folder in SHARED_FOLDERS else name


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = item.path.relative_to(_TESTS).parts[0]
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))
    if "PYTEST_XDIST_WORKER" in os.environ:  # each worker collects; the scheduler hands out work in this order
        rank = {unit: index for index, unit in enumerate(LONGEST_FIRST)}
        ray_order = {name: index for index, name in enumerate(RAY_FILES)}

        def order(item: pytest.Item) -> tuple[int, int]:
            name = item.path.relative_to(_TESTS).as_posix()
            return rank.get(work_unit(item.path), len(rank)), ray_order.get(name, 0)

        items.sort(key=order)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """`make test` (`-n 2 --dist loadfile`): each unit of `work_unit` whole on one worker, the longest first.
    (`--dist loadgroup` would do this with markers, but pytest-xdist 3.8 cannot rename pytest 9's node ids.)"""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(config.rootpath / nodeid.split("::", 1)[0])

    config.option.loadscopereorder = False  # keep the order collected: the longest first
    return FileScheduling(config, log)


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
