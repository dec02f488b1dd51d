"""Device choice: NSFW_DEVICE / --device parsed, an absent device refused at once, the device shown; ZeroGPU's
decorator (the real `spaces` package) is a no-op off ZeroGPU."""

from __future__ import annotations

from dataclasses import replace

import pytest
import spaces
import torch

import app as demo_app
from model import Classifier, ConfigurationError, ModelSource, Settings, load_settings, zerogpu
from model.__main__ import main as cli_main
from model.runtime.devices import available_devices, resolve_device
from testbed.images import photo
from ui import ModelLoader
from ui.status import model_info, status_html

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")


@pytest.mark.parametrize("value", ["auto", "cpu", "cuda", "cuda:1", "mps", " CUDA:0 "])
def test_every_documented_device_name_is_accepted(value: str) -> None:
    assert load_settings({"NSFW_DEVICE": value}).device == value.strip().lower()


def test_the_device_defaults_to_auto_and_the_command_line_overrides_it() -> None:
    assert load_settings({}).device == "auto"
    assert load_settings({"NSFW_DEVICE": "cuda"}, device="cpu").device == "cpu"


@pytest.mark.parametrize("value", ["gpu", "cuda:x", "tpu", "cpu:0:1"])
def test_an_unknown_device_name_is_refused_naming_the_setting_and_the_choices(value: str) -> None:
    with pytest.raises(ConfigurationError, match=r"NSFW_DEVICE=.* is not a device: use one of auto, cpu, cuda"):
        load_settings({"NSFW_DEVICE": value})


@no_gpu
@pytest.mark.parametrize("value", ["cuda", "cuda:3"])
def test_an_absent_gpu_is_refused_naming_what_this_machine_has(value: str) -> None:
    with pytest.raises(ConfigurationError, match=r"does not have; available: cpu\. Set NSFW_DEVICE"):
        resolve_device(value)


@no_gpu
def test_an_absent_gpu_is_refused_before_anything_is_downloaded() -> None:
    settings = Settings(model=ModelSource(repo_id="nobody/no-such-model"), device="cuda")
    with pytest.raises(ConfigurationError, match="NSFW_DEVICE='cuda' asks for a device"):
        Classifier.load(settings)


@no_gpu
def test_the_command_line_refuses_an_absent_device_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["--device", "cuda:2", "missing.jpg"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: NSFW_DEVICE='cuda:2'") and "Traceback" not in error


def test_the_app_takes_a_device_flag() -> None:
    assert demo_app.build_parser({}).parse_args(["--device", "cpu"]).device == "cpu"


def test_auto_picks_the_best_device_present() -> None:
    expected = "cuda" if torch.cuda.is_available() else "mps" if "mps" in available_devices() else "cpu"
    assert resolve_device("auto").type == expected


def test_the_status_panel_and_model_info_show_the_device_and_the_engine(classifier: Classifier) -> None:
    loader = ModelLoader.ready(classifier)
    runtime = model_info(loader)["runtime"]
    assert runtime["device"] == str(classifier.device) and runtime["engine"] == classifier.runtime.engine
    panel = status_html(loader)
    assert "Device" in panel and classifier.runtime.device_name in panel
    assert "Engine" in panel and f"{runtime['engine']} · fp32" in panel


def test_the_batch_size_follows_the_device_unless_set(classifier: Classifier) -> None:
    assert load_settings({}).batch_size is None and load_settings({"NSFW_BATCH_SIZE": "8"}).batch_size == 8
    expected = {"cpu": 16, "cuda": 64, "mps": 32}[classifier.device.type]
    if classifier.device.type == "cpu" and classifier.runtime.engine != "torch":
        expected = 8  # an exported engine keeps the memory of its largest batch
    assert classifier.settings.batch_size == classifier.runtime.batch_size == expected


def test_a_set_batch_size_is_kept(settings: Settings) -> None:
    classifier = Classifier.load(replace(settings, batch_size=3, engine="torch"))
    assert classifier.settings.batch_size == 3
    assert len(classifier.predict([photo("astronaut.png")] * 4)) == 4


def test_the_zerogpu_decorator_is_a_no_op_off_zerogpu() -> None:
    assert not zerogpu.on_zerogpu()

    def forward(batch: torch.Tensor) -> torch.Tensor:
        return batch

    # The real package, not a stand-in: off ZeroGPU it hands the function back untouched.
    assert spaces.GPU(forward) is forward and spaces.GPU(duration=5)(forward) is forward
    assert not hasattr(zerogpu.run_on_gpu, "zerogpu")  # what the package marks its ZeroGPU wrappers with


def test_off_zerogpu_requests_are_merged_by_the_worker(classifier: Classifier) -> None:
    assert classifier.runtime.zerogpu is False
    scores = [prediction.nsfw_score for prediction in classifier.predict([photo("astronaut.png"), photo("rocket.jpg")])]
    assert max(scores) - min(scores) > 0.5
