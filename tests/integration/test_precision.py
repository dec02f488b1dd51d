"""NSFW_PRECISION: fp32 by default, bf16 only where the CPU computes it natively, fp16 on a GPU only, and every
precision available here within 0.01 of the model card's fp32 pipeline on the fidelity set."""

from __future__ import annotations

import importlib.util
import io
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

import pytest
import timm
import torch
from PIL import Image

from model import Classifier, ConfigurationError, Settings, decode_image, load_settings
from model.runtime.devices import check_precision, cpu_has_native_bf16
from tests.support.fidelity import INPUTS

native_bf16 = pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no native bf16")


def test_precision_defaults_to_the_model_cards_fp32() -> None:
    assert load_settings({}).precision == "fp32"
    assert load_settings({"NSFW_PRECISION": "BF16"}).precision == "bf16"


@pytest.mark.parametrize("value", ["fp8", "half", "float32"])
def test_an_unknown_precision_is_refused_naming_the_setting(value: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"NSFW_PRECISION='{value}' is not one of fp32, bf16, fp16"):
        load_settings({"NSFW_PRECISION": value})


def test_fp16_on_a_cpu_is_refused_naming_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="NSFW_PRECISION='fp16' runs on a GPU only"):
        check_precision("fp16", torch.device("cpu"))


@pytest.mark.skipif(cpu_has_native_bf16(), reason="this CPU has native bf16")
def test_bf16_on_a_cpu_without_native_bf16_is_refused_naming_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="NSFW_PRECISION='bf16' needs a CPU with native bf16"):
        check_precision("bf16", torch.device("cpu"))


@pytest.fixture(scope="module")
def card_scores(standin_dir: Path) -> dict[str, float]:
    """The model card's fp32 NSFW score for every image of the fidelity set (its code, the model built once)."""
    model = timm.create_model(f"local-dir:{standin_dir}", pretrained=True).eval()
    transforms = timm.data.create_transform(**timm.data.resolve_model_data_config(model), is_training=False)
    nsfw = model.pretrained_cfg["label_names"].index("NSFW")
    scores = {}
    for name, make in INPUTS.items():
        with Image.open(io.BytesIO(make())) as image, torch.no_grad():
            scores[name] = model(transforms(image.convert("RGB")).unsqueeze(0)).softmax(dim=-1)[0, nsfw].item()
    return scores


@native_bf16
@pytest.mark.parametrize(
    ("engine", "runs_on"),
    [
        pytest.param(
            "auto",
            "openvino",
            marks=pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="openvino is not installed"),
        ),
        ("torch", "torch"),
    ],
)
def test_bf16_stays_within_0_01_of_the_cards_fp32_on_the_fidelity_set(
    engine: str, runs_on: str, settings: Settings, card_scores: dict[str, float]
) -> None:
    classifier = Classifier.load(replace(settings, precision="bf16", engine=engine))
    assert (classifier.runtime.precision, classifier.runtime.engine, classifier.runtime.note) == ("bf16", runs_on, None)
    for name, make in INPUTS.items():
        score = classifier.predict([decode_image(make()).image])[0].nsfw_score
        assert abs(score - card_scores[name]) <= 0.01, name


@native_bf16
@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="openvino is not installed")
def test_openvinos_bf16_model_is_written_once_with_every_add_kept_f32(settings: Settings, standin_dir: Path) -> None:
    Classifier.load(replace(settings, precision="bf16"))
    (written,) = standin_dir.glob(".engines/*/*/model-bf16-f32-adds.xml")
    layers = ElementTree.parse(written).findall(".//layer")
    adds = [layer for layer in layers if layer.get("type") == "Add"]
    kept = [layer for layer in layers if layer.find("rt_info/attribute[@name='precise']") is not None]
    assert adds and kept == adds
    stamp = written.stat().st_mtime_ns, written.with_suffix(".bin").stat().st_mtime_ns

    again = Classifier.load(replace(settings, precision="bf16"))

    assert again.runtime.engine == "openvino"
    assert (written.stat().st_mtime_ns, written.with_suffix(".bin").stat().st_mtime_ns) == stamp
