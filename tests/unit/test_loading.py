"""Loading from a local folder or the Hugging Face cache: what loads, and the error each broken checkpoint gives."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from model import Classifier, ModelSource, Settings
from model.errors import CorruptWeightsError, IncompatibleModelError, ModelNotFoundError
from model.runtime.hub import WEIGHTS_FILE
from model.runtime.loading import load_model
from testbed.images import photo
from testbed.standin import COMMIT, REPO_ID, cache_repo_folder, install_in_cache


def broken_copy(standin_dir: Path, folder: Path, edit: Callable[[Path], None]) -> ModelSource:
    shutil.copytree(standin_dir, folder)
    edit(folder)
    return ModelSource(local_dir=str(folder))


def edit_config(**changes: object) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        config.update(changes)
        (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")

    return edit


def truncate_weights(folder: Path) -> None:
    weights = folder / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def test_a_local_folder_loads_with_its_config_labels_and_a_content_revision(standin_dir: Path) -> None:
    loaded = load_model(ModelSource(local_dir=str(standin_dir)))
    assert loaded.info.labels == ("NSFW", "SFW") and loaded.info.nsfw_label == "NSFW"
    assert loaded.info.input_size == (3, 384, 384)
    assert loaded.info.architecture == "vit_tiny_patch16_384"
    assert loaded.info.revision is not None and loaded.info.revision.startswith("local:")
    assert loaded.info.note is None
    assert loaded.data_config["interpolation"] == "bicubic"


def test_a_pinned_commit_in_the_hf_cache_loads_without_any_network(hf_home: Path) -> None:
    # No endpoint can answer here (a closed port): a commit already cached never needs the Hub.
    loaded = load_model(
        ModelSource(repo_id=REPO_ID, revision=COMMIT), cache_dir=str(hf_home / "hub"), endpoint="http://127.0.0.1:9"
    )
    assert loaded.info.revision == COMMIT and loaded.info.note is None


def test_a_missing_folder_raises_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"folder does not exist\. Set NSFW_MODEL to a folder holding"):
        load_model(ModelSource(local_dir=str(tmp_path / "nowhere")))


def test_a_folder_without_config_raises_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"config\.json does not exist\. The folder must hold config\.json"):
        load_model(ModelSource(local_dir=str(tmp_path)))


def test_a_folder_with_only_pickled_weights_is_refused_without_unpickling(standin_dir: Path, tmp_path: Path) -> None:
    source = broken_copy(standin_dir, tmp_path / "bin", lambda f: (f / WEIGHTS_FILE).rename(f / "pytorch_model.bin"))
    with pytest.raises(CorruptWeightsError, match=r"model\.safetensors does not exist\. Only safetensors weights"):
        load_model(source)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(truncate_weights, id="truncated"),
        pytest.param(lambda f: (f / WEIGHTS_FILE).write_bytes(b"\0" * 4096), id="zeros"),
        pytest.param(lambda f: (f / WEIGHTS_FILE).write_bytes(b""), id="empty"),
    ],
)
def test_truncated_or_corrupt_safetensors_raise_corrupt_weights(
    standin_dir: Path, tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    source = broken_copy(standin_dir, tmp_path / "broken", damage)
    with pytest.raises(CorruptWeightsError, match=r"model\.safetensors is truncated or corrupt .*Replace it with a"):
        load_model(source)


def test_a_damaged_file_in_the_hf_cache_is_caught_by_its_checksum(standin_dir: Path, tmp_path: Path) -> None:
    snapshot = install_in_cache(standin_dir, tmp_path / "hub")
    blob = (snapshot / WEIGHTS_FILE).resolve()
    data = bytearray(blob.read_bytes())
    data[-100] ^= 0xFF  # one flipped bit in the tensor data: safetensors itself would load it and score wrongly
    blob.write_bytes(bytes(data))
    repo = cache_repo_folder(tmp_path / "hub")
    with pytest.raises(CorruptWeightsError, match=rf"does not match its SHA-256 checksum.*Delete .*{repo.name}"):
        load_model(ModelSource(repo_id=REPO_ID, revision=COMMIT), cache_dir=str(tmp_path / "hub"))


UNUSABLE_CONFIGS = {
    "other-architecture": ({"architecture": "resnet18"}, r"'resnet18' named in config\.json cannot be built"),
    "other-vit": ({"architecture": "vit_small_patch16_384"}, r"'vit_small_patch16_384'.*size mismatch"),
    "unknown-architecture": ({"architecture": "nsfw_net_9000"}, r"'nsfw_net_9000', which timm .* does not know"),
    "no-nsfw-label": ({"label_names": ["safe", "unsafe"]}, r"\['safe', 'unsafe'\], with no single 'NSFW' label"),
    "two-nsfw-labels": ({"label_names": ["NSFW", "nsfw"]}, r"no single 'NSFW' label"),
    "no-labels": ({"label_names": None}, r"config\.json has no label_names list"),
}


@pytest.mark.parametrize(("changes", "message"), UNUSABLE_CONFIGS.values(), ids=UNUSABLE_CONFIGS.keys())
def test_a_config_this_app_cannot_use_raises_incompatible_model(
    standin_dir: Path, tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    source = broken_copy(standin_dir, tmp_path / "odd", edit_config(**changes))
    with pytest.raises(IncompatibleModelError, match=message):
        load_model(source)


def test_a_config_that_is_not_json_raises_incompatible_model(standin_dir: Path, tmp_path: Path) -> None:
    source = broken_copy(standin_dir, tmp_path / "odd", lambda f: (f / "config.json").write_text("{not json"))
    with pytest.raises(IncompatibleModelError, match=r"config\.json is not valid JSON"):
        load_model(source)


def test_swapped_label_order_gives_the_same_nsfw_score(
    classifier: Classifier, swapped_dir: Path, standin_dir: Path
) -> None:
    swapped = Classifier.load(Settings(model=ModelSource(local_dir=str(swapped_dir))))
    assert swapped.info.labels == ("SFW", "NSFW") and classifier.info.labels == ("NSFW", "SFW")
    images = [photo("rocket.jpg"), photo("astronaut.png"), photo("coffee.png")]
    expected = [prediction.nsfw_score for prediction in classifier.predict(images)]
    actual = [prediction.nsfw_score for prediction in swapped.predict(images)]
    assert actual == pytest.approx(expected, abs=1e-6)
    assert max(expected) - min(expected) > 0.3  # the scores differ between images, so the check means something
