"""The classifier: the loaded model run in batches under `torch.inference_mode()` -> `Prediction` objects."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import timm.data
import torch
from huggingface_hub import constants as hf_constants
from PIL import Image

from ..config import Settings, available_cores
from ..inputs.images import ImageLimits
from . import zerogpu
from .cache import SessionCaches
from .devices import autocast, check_precision, default_batch_size, describe_device, resolve_device
from .engines import build_engine, default_cache_root
from .loading import LoadedModel, ModelInfo, load_model
from .microbatch import MicroBatcher

__all__ = ["Classifier", "Prediction", "Runtime"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    """The model's output for one image: every label's probability and the NSFW score."""

    probabilities: dict[str, float]
    nsfw_score: float


@dataclass(frozen=True)
class Runtime:
    """Where and how the forward pass runs, for the status panel, /model_info and every report."""

    device: str
    device_name: str
    engine: str
    precision: str
    batch_size: int
    zerogpu: bool = False
    #: Why the engine asked for is not the one running, else None.
    note: str | None = None
    export_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "device_name": self.device_name,
            "engine": self.engine,
            "precision": self.precision,
            "batch_size": self.batch_size,
            "zerogpu": self.zerogpu,
            "engine_note": self.note,
        }


class Classifier:
    """Holds the loaded model and turns RGB images into predictions, exactly as the model card's snippet does."""

    def __init__(self, loaded: LoadedModel, settings: Settings = Settings(), *, cache_dir: str | None = None) -> None:
        self.device = resolve_device(settings.device)
        check_precision(settings.precision, self.device)
        # Decoding and preprocessing stay on CPU threads; the model and each batch move to the device.
        self.model = loaded.model.to(self.device)
        self.data_config = loaded.data_config
        self.info: ModelInfo = loaded.info
        self.nsfw_index = loaded.nsfw_index
        self.transform = timm.data.create_transform(**self.data_config, is_training=False)
        # Pillow's JPEG draft mode may decode at 1/2..1/8 scale while keeping the short side at least 1.5 times the
        # model's input, which kept scores within 0.01 of the exact path (tests/unit/test_fidelity.py). At 1.5x
        # rather than 2x a 12 MP photo decodes at 1/4 scale instead of 1/2, in about half the time, with the same
        # fidelity (docs/PERFORMANCE.md).
        side = max(self.data_config["input_size"][1:])
        self.draft_min_side: int | None = 3 * side // 2 if settings.fast_decode else None
        threads = settings.threads or available_cores()
        hub_cache = Path(cache_dir or hf_constants.HF_HUB_CACHE).expanduser()
        engine = build_engine(
            self.model,
            settings.engine,
            device=self.device,
            precision=settings.precision,
            input_size=tuple(self.data_config["input_size"]),
            cache_root=default_cache_root(loaded.folder, self.info.revision, hub_cache) if loaded.folder else None,
            threads=threads,
        )
        self._run_engine = engine.run
        # The batch size in use, so that everyone reading `classifier.settings.batch_size` gets a number.
        settings = replace(settings, batch_size=settings.batch_size or default_batch_size(self.device, engine.name))
        self.settings = settings
        self.limits = ImageLimits(settings.max_pixels, settings.max_side, settings.max_file_bytes)
        on_zerogpu = zerogpu.on_zerogpu()
        self.runtime = Runtime(
            device=str(self.device),
            device_name=describe_device(self.device, threads),
            engine=engine.name,
            precision=settings.precision,
            batch_size=settings.batch_size,
            zerogpu=on_zerogpu,
            note=engine.note,
            export_seconds=engine.export_seconds,
        )
        # Every forward pass runs on one worker thread, which merges requests from concurrent callers and (unless
        # NSFW_SPLIT_BATCHES=0) runs a merged batch as two halves at once, each with half of the torch threads
        # (model.runtime.microbatch). Started now, so that the per-thread torch settings are made before any request
        # arrives. On ZeroGPU each forward pass is a GPU request of the user's own (quota, priority), made from the
        # request's thread: requests are not merged there. Elsewhere one worker merges them (model.runtime.microbatch);
        # split halves help only torch on a CPU (small matrices on one thread each), never a GPU or an exported engine.
        self._zerogpu_key: int | None = zerogpu.register(self.forward_probabilities) if on_zerogpu else None
        split = settings.split_batches and self.device.type == "cpu" and engine.name == "torch"
        self._batcher: MicroBatcher[Prediction] = MicroBatcher(
            self._forward, max_batch=settings.batch_size, split_threads=threads if split else 0
        )
        self._batcher.start()
        self._counts_lock = threading.Lock()
        self._forward_passes = 0
        self._images_classified = 0
        #: Results of recent uploads, per user session, keyed by `model.runtime.cache.content_key` (filled by
        #: `ui.upload_classification`); they belong to this model, so they live and die with it.
        self.recent: SessionCaches[Any] = SessionCaches()

    @classmethod
    def load(cls, settings: Settings, *, cache_dir: str | None = None, endpoint: str | None = None) -> Classifier:
        """Load the model named by `settings.model` onto `settings.device` and set torch's thread count.

        Raises:
            ConfigurationError: the device is absent or cannot run the precision (before anything is downloaded).
            ModelLoadError: one of its subclasses, naming what happened and what to do.
        """
        check_precision(settings.precision, resolve_device(settings.device))
        torch.set_num_threads(settings.threads or available_cores())
        loaded = load_model(settings.model, timeout=settings.load_timeout, cache_dir=cache_dir, endpoint=endpoint)
        return cls(loaded, settings, cache_dir=cache_dir)

    @property
    def forward_passes(self) -> int:
        """How many times the model has run since it was loaded (a merged batch is one run, each half of a split
        one is one, each chunk of `settings.batch_size` is one). Results reused from `recent` are no run. Tests
        and benchmarks read it to check that something did, or did not, run the model."""
        with self._counts_lock:
            return self._forward_passes

    @property
    def requests_waiting(self) -> int:
        """Requests queued for the next forward pass (tests hold a pass until others have queued behind it)."""
        return 0 if self._zerogpu_key is not None else self._batcher.pending

    @property
    def images_classified(self) -> int:
        """How many images (rows of a batch) the model has scored since it was loaded."""
        with self._counts_lock:
            return self._images_classified

    @property
    def labels(self) -> tuple[str, ...]:
        return self.info.labels

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """The model card's transform (resize, center crop, normalise) for one RGB image."""
        return self.transform(image)

    def predict_tensor(self, batch: torch.Tensor) -> list[Prediction]:
        """Run a preprocessed batch (N, C, H, W) through the model, in chunks of `settings.batch_size`.

        Thread-safe: calls made at the same time from several threads share forward passes (`model.runtime.microbatch`).
        """
        if self._zerogpu_key is not None:
            return self._forward(batch)
        return self._batcher.run(batch)

    def forward_probabilities(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, classes) probabilities on the CPU for a preprocessed CPU batch, on the device and engine in use, in this
        thread and not merged with other calls (benchmarks time the bare forward pass with it)."""
        with torch.inference_mode(), autocast(self.settings.precision, self.device):
            logits = self._run_engine(batch.to(self.device, non_blocking=True))
        return logits.float().softmax(dim=-1).cpu()

    def _forward(self, batch: torch.Tensor) -> list[Prediction]:
        predictions: list[Prediction] = []
        for start in range(0, batch.shape[0], self.settings.batch_size):
            chunk = batch[start : start + self.settings.batch_size]
            if self._zerogpu_key is not None:
                probabilities = zerogpu.run_on_gpu(self._zerogpu_key, chunk).tolist()
            else:
                probabilities = self.forward_probabilities(chunk).tolist()
            with self._counts_lock:
                self._forward_passes += 1
                self._images_classified += len(probabilities)
            for row in probabilities:
                predictions.append(
                    Prediction(
                        probabilities=dict(zip(self.labels, row, strict=True)),
                        nsfw_score=row[self.nsfw_index],
                    )
                )
        return predictions

    def predict(self, images: Sequence[Image.Image]) -> list[Prediction]:
        """Predict every image (RGB), batched; returns one `Prediction` per image, in order."""
        if not images:
            return []
        predictions: list[Prediction] = []
        for start in range(0, len(images), self.settings.batch_size):
            chunk = images[start : start + self.settings.batch_size]
            predictions.extend(self.predict_tensor(torch.stack([self.preprocess(image) for image in chunk])))
        return predictions
