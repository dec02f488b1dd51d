"""NSFW_ENGINE: each CPU engine reproduces the model card within 1e-5; the export happens once per model revision;
an engine that cannot load leaves the app on torch, saying so."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest

from model import Classifier, ConfigurationError, ModelSource, Settings, load_settings
from model.runtime.engines import export_folder
from testbed.images import photo
from testbed.standin import COMMIT, REPO_ID, install_in_cache
from tests.support.fidelity import model_card_probabilities
from ui import ModelLoader
from ui.status import status_html

IMAGES = ("astronaut.png", "coffee.png", "rocket.jpg")
OTHER_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


def installed(engine: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(importlib.util.find_spec(engine) is None, reason=f"{engine} is not installed")


def test_an_unknown_engine_is_refused_naming_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="NSFW_ENGINE='tensorrt' is not one of auto, torch, openvino"):
        load_settings({"NSFW_ENGINE": "tensorrt"})


@pytest.mark.parametrize(
    "engine",
    [
        "torch",
        pytest.param("openvino", marks=installed("openvino")),
        pytest.param("onnxruntime", marks=installed("onnxruntime")),
    ],
)
def test_each_engine_matches_the_model_card_within_1e_5(engine: str, settings: Settings, standin_dir: Path) -> None:
    classifier = Classifier.load(replace(settings, engine=engine))
    assert classifier.runtime.engine == engine and classifier.runtime.note is None
    images = [photo(name) for name in IMAGES]
    for ours, image in zip(classifier.predict(images), images, strict=True):
        card = model_card_probabilities(standin_dir, image)
        assert list(ours.probabilities.values()) == pytest.approx(card, abs=1e-5)


@installed("openvino")
def test_the_export_happens_once_per_revision(standin_dir: Path, tmp_path: Path) -> None:
    hub = tmp_path / "hub"
    install_in_cache(standin_dir, hub, commit=COMMIT)

    def start(commit: str) -> Classifier:
        source = ModelSource(repo_id=REPO_ID, revision=commit)
        return Classifier.load(Settings(model=source, engine="openvino"), cache_dir=str(hub))

    first = start(COMMIT)
    assert first.runtime.engine == "openvino" and first.runtime.export_seconds > 0
    assert start(COMMIT).runtime.export_seconds == 0  # a second start reads the export of this revision
    install_in_cache(standin_dir, hub, commit=OTHER_COMMIT)
    assert start(OTHER_COMMIT).runtime.export_seconds > 0  # a new revision exports anew
    exports = sorted(path.relative_to(hub).parts[2] for path in hub.glob("*/snapshots/*/.engines/*"))
    assert exports == sorted([COMMIT, OTHER_COMMIT])


@installed("openvino")
def test_an_engine_that_cannot_load_falls_back_to_torch_and_the_panel_says_so(
    standin_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hub = tmp_path / "hub"
    snapshot = install_in_cache(standin_dir, hub, commit=COMMIT)
    damaged = export_folder(snapshot / ".engines")
    damaged.mkdir(parents=True)
    (damaged / "model.onnx").write_bytes(b"not a model")
    source = ModelSource(repo_id=REPO_ID, revision=COMMIT)
    classifier = Classifier.load(Settings(model=source, engine="openvino"), cache_dir=str(hub))
    assert classifier.runtime.engine == "torch"
    assert classifier.runtime.note.startswith("openvino could not load the model")
    assert [record.levelname for record in caplog.records if "could not load" in record.getMessage()] == ["WARNING"]
    assert "running on torch instead" in status_html(ModelLoader.ready(classifier))
    assert classifier.predict([photo("rocket.jpg")])[0].nsfw_score > 0.9
