"""What runs the forward pass: torch, or the loaded model exported once per revision to OpenVINO or ONNX Runtime."""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import torch

from ..config import ENGINES
from ..files import staging_folder

__all__ = ["AUTO_ENGINE", "ENGINES", "Engine", "build_engine", "default_cache_root", "export_folder"]

logger = logging.getLogger(__name__)

#: The engine `auto` picks on a CPU at fp32 when it is installed: OpenVINO, the only one that beat torch eager by
#: 15 % or more in both batched throughput and single-image latency (docs/PERFORMANCE.md). Elsewhere: torch.
AUTO_ENGINE = "openvino"
#: Largest difference allowed between an exported engine's probabilities and torch's fp32 on the check run at load
#: (measured: within 4e-6 at fp32); a larger one means the export is wrong, and torch is used instead. bf16 is held
#: to the limit its fidelity tests hold it to.
_CHECK_TOLERANCE = {"fp32": 1e-4, "bf16": 0.01}
_LIBRARIES = {"openvino": "openvino", "onnxruntime": "onnxruntime"}
#: Both engines read the same ONNX file, written by torch's exporter (which needs the `onnx` package). OpenVINO reads
#: ONNX itself: its own converter (`openvino.convert_model`) would send usage telemetry over the network.
_EXPORT_FILE = "model.onnx"
#: OpenVINO's bf16 model: the ONNX export as OpenVINO IR, every Add (the residual stream and the biases) marked to
#: stay f32. Plain bf16 moves the stand-in's scores by 0.015; with f32 adds by 0.0076, at 1.6x the f32 speed
#: (docs/PERFORMANCE.md).
_BF16_FILE = "model-bf16-f32-adds.xml"
#: The IR's runtime attribute that keeps a layer in its original precision (OpenVINO's DisableFP16Compression, which
#: the CPU plugin honours when it lowers a model to bf16). OpenVINO's Python API cannot set it; its IR reader can.
_KEEP_F32 = ("precise", "0")
_F32_LAYERS = frozenset({"Add"})


@dataclass(frozen=True)
class Engine:
    """A ready forward pass: (N, C, H, W) float32 CPU or device tensor -> (N, classes) logits, and what it is."""

    name: str
    run: Callable[[torch.Tensor], torch.Tensor]
    #: Why the engine asked for is not the one running (it could not load), else None.
    note: str | None = None
    #: Seconds spent exporting the model for this engine at this start (0 when the export came from the cache).
    export_seconds: float = 0.0


def export_folder(cache_root: Path) -> Path:
    """The folder holding the ONNX export in `cache_root`, keyed by the versions of torch and onnx that wrote it."""
    from importlib.metadata import version

    return cache_root / f"onnx-{version('onnx')}-torch-{torch.__version__.split('+')[0]}"


def _export(model: torch.nn.Module, example: torch.Tensor, folder: Path) -> None:
    """Write `model` as ONNX into `folder`, atomically: a reader sees the whole export or none."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with staging_folder(folder.parent, f".{folder.name}-") as staging:
        with warnings.catch_warnings():
            # Tracing warns about every Python-level check in timm's code; the check run at load is what counts.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (example,),
                staging / _EXPORT_FILE,
                input_names=["pixels"],
                output_names=["logits"],
                dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}},
                dynamo=False,
            )
        try:
            staging.rename(folder)
        except OSError:  # another process exported it first: use theirs
            if not (folder / _EXPORT_FILE).is_file():
                raise


def _bf16_model(core: Any, folder: Path) -> Path:
    """`_BF16_FILE` in `folder`, written once from the ONNX export (atomically, like the export itself)."""
    import openvino

    target = folder / _BF16_FILE
    if target.is_file() and target.with_suffix(".bin").is_file():
        return target
    with staging_folder(folder, ".bf16-") as staging:
        openvino.save_model(core.read_model(folder / _EXPORT_FILE), staging / "model.xml", compress_to_fp16=False)
        tree = ElementTree.parse(staging / "model.xml")
        for layer in tree.iter("layer"):
            if layer.get("type") in _F32_LAYERS:
                info = layer.find("rt_info")
                if info is None:
                    info = ElementTree.SubElement(layer, "rt_info")
                ElementTree.SubElement(info, "attribute", {"name": _KEEP_F32[0], "version": _KEEP_F32[1]})
        tree.write(staging / "model.xml", encoding="utf-8", xml_declaration=True)
        # The weights first: a reader that finds the .xml finds its .bin.
        os.replace(staging / "model.bin", target.with_suffix(".bin"))
        os.replace(staging / "model.xml", target)
    return target


def _openvino_runner(folder: Path, threads: int, precision: str = "fp32") -> Callable[[torch.Tensor], torch.Tensor]:
    import openvino

    core = openvino.Core()
    # The precision is always pinned: on CPUs with bf16, OpenVINO would otherwise silently run fp32 models in bf16.
    hint = {"fp32": "f32", "bf16": "bf16"}[precision]
    compiled = core.compile_model(
        _bf16_model(core, folder) if precision == "bf16" else folder / _EXPORT_FILE,
        "CPU",
        {"INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"},
    )
    requests = threading.local()  # an infer request serves one call at a time: one per calling thread

    def run(batch: torch.Tensor) -> torch.Tensor:
        request = getattr(requests, "request", None)
        if request is None:
            request = requests.request = compiled.create_infer_request()
        output = request.infer({0: batch.contiguous().numpy()})[0]
        return torch.from_numpy(output.copy())

    return run


def _onnxruntime_runner(folder: Path, threads: int) -> Callable[[torch.Tensor], torch.Tensor]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    # Spinning threads would keep both cores busy between calls, starving decoding and the other requests.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(folder / _EXPORT_FILE), options, ["CPUExecutionProvider"])

    def run(batch: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {"pixels": batch.contiguous().numpy()})[0])

    return run


def _choose(requested: str, device: torch.device, precision: str) -> str:
    """The engine to try: on a CPU at fp32 the one asked for (`auto`: OpenVINO when installed); at bf16 OpenVINO
    when asked for or `auto` (ONNX Runtime has no bf16 path: torch autocast); on a GPU or at fp16, torch."""
    if device.type != "cpu" or precision not in _CHECK_TOLERANCE:
        return "torch"
    if requested == "auto":
        installed = all(importlib.util.find_spec(library) for library in (_LIBRARIES[AUTO_ENGINE], "onnx"))
        return AUTO_ENGINE if installed else "torch"
    if precision == "bf16" and requested != "openvino":
        return "torch"
    return requested


def build_engine(
    model: torch.nn.Module,
    requested: str,
    *,
    device: torch.device,
    precision: str,
    input_size: tuple[int, ...],
    cache_root: Path | None,
    threads: int,
) -> Engine:
    """The engine for `requested` (NSFW_ENGINE), exporting `model` once into `cache_root` when it needs to.

    Falls back to torch, with one log line and a note, when the engine is not installed, cannot export or load the
    model, or does not reproduce torch's output on a check image. On a GPU or at fp16 the engine is torch; at bf16 on
    a CPU, OpenVINO (with f32 adds) or torch autocast.

    Args:
        model: the loaded timm model, in eval mode, on `device`.
        requested: one of `ENGINES`.
        device: where the model runs.
        precision: one of `model.runtime.devices.PRECISIONS`.
        input_size: the model's (C, H, W).
        cache_root: where exports of this model revision live (None: export into a temporary folder).
        threads: CPU threads the engine may use.
    """
    name = _choose(requested, device, precision)
    if name == "torch":
        return Engine("torch", model)
    started = time.monotonic()
    example = torch.zeros(1, *input_size)
    exported = 0.0
    temporary: str | None = None
    try:
        for library in (_LIBRARIES[name], "onnx"):
            if importlib.util.find_spec(library) is None:
                raise ModuleNotFoundError(f"{library} is not installed (pip install {library})")
        if cache_root is None:
            temporary = tempfile.mkdtemp(prefix="nsfw-engine-")
            cache_root = Path(temporary)
        folder = export_folder(cache_root)
        if not (folder / _EXPORT_FILE).is_file():
            logger.info("Exporting the model to ONNX for %s into %s (once per model revision)", name, folder)
            _export(model, example, folder)
            exported = time.monotonic() - started
        if name == "openvino":
            run = _openvino_runner(folder, threads, precision)
        else:
            run = _onnxruntime_runner(folder, threads)
        check = torch.linspace(-2.0, 2.0, example.numel()).reshape(example.shape)
        with torch.inference_mode():
            expected = model(check).softmax(dim=-1)
        difference = float((run(check).softmax(dim=-1) - expected).abs().max())
        if difference > _CHECK_TOLERANCE[precision]:
            raise ValueError(f"its probabilities differ from torch's by {difference:.1e} on a check image")
    except Exception as error:  # any failure of an optional engine leaves the app running on torch
        note = f"{name} could not load the model ({str(error).splitlines()[0][:160]}); running on torch instead."
        logger.warning("NSFW_ENGINE=%s: %s", requested, note)
        return Engine("torch", model, note=note)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    logger.info("Engine %s ready in %.2f s (export %.2f s)", name, time.monotonic() - started, exported)
    return Engine(name, run, export_seconds=round(exported, 3))


def default_cache_root(weights_folder: Path, revision: str | None, hub_cache: Path) -> Path:
    """Where exports of one model revision live.

    A Hub snapshot keeps them inside its own folder (`hf cache` deletes them with the revision); a local folder keeps
    them in `.engines/` inside it, or under the Hugging Face cache when it is read-only, keyed by the weights'
    checksum, so that new weights export anew.
    """
    writable = os.access(weights_folder, os.W_OK)
    if weights_folder.parent.name == "snapshots" and writable:
        return weights_folder / ".engines"
    key = (revision or "local").replace(":", "-")
    return (weights_folder / ".engines" if writable else hub_cache / "nsfw-engine-exports") / key
