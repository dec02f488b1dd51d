"""The classifier: the loaded model run in batches under `torch.inference_mode()` -> `Prediction` objects."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import timm.data
import torch
from PIL import Image

from .cache import ResultCache
from .config import Settings
from .images import ImageLimits
from .loading import LoadedModel, ModelInfo, load_model
from .microbatch import MicroBatcher

__all__ = ["Classifier", "Prediction", "available_cores"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    """The model's output for one image: every label's probability and the NSFW score."""

    probabilities: dict[str, float]
    nsfw_score: float


def available_cores() -> int:
    """CPU cores this process may run on (respects affinity masks and container limits)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Classifier:
    """Holds the loaded model and turns RGB images into predictions, exactly as the model card's snippet does."""

    def __init__(self, loaded: LoadedModel, settings: Settings = Settings()) -> None:
        self.model = loaded.model
        self.data_config = loaded.data_config
        self.info: ModelInfo = loaded.info
        self.nsfw_index = loaded.nsfw_index
        self.settings = settings
        self.limits = ImageLimits(settings.max_pixels, settings.max_side, settings.max_file_bytes)
        self.transform = timm.data.create_transform(**self.data_config, is_training=False)
        # Pillow's JPEG draft mode may decode at 1/2..1/8 scale while keeping the short side at least 1.5 times the
        # model's input, which kept scores within 0.01 of the exact path (tests/unit/test_fidelity.py). At 1.5x
        # rather than 2x a 12 MP photo decodes at 1/4 scale instead of 1/2, in about half the time, with the same
        # fidelity (docs/PERFORMANCE.md).
        side = max(self.data_config["input_size"][1:])
        self.draft_min_side: int | None = 3 * side // 2 if settings.fast_decode else None
        # Every forward pass runs on one worker thread, which merges requests from concurrent callers and (unless
        # NSFW_SPLIT_BATCHES=0) runs a merged batch as two halves at once, each with half of the torch threads
        # (model.microbatch). Started now, so that the per-thread torch settings are made before any request arrives.
        threads = settings.threads or available_cores()
        self._batcher: MicroBatcher[Prediction] = MicroBatcher(
            self._forward, max_batch=settings.batch_size, split_threads=threads if settings.split_batches else 0
        )
        self._batcher.start()
        #: Results of recent uploads keyed by `model.cache.content_key` (filled by `ui.classify`); they belong to
        #: this model, so they live and die with it.
        self.recent: ResultCache[Any] = ResultCache()

    @classmethod
    def load(cls, settings: Settings, *, cache_dir: str | None = None, endpoint: str | None = None) -> Classifier:
        """Load the model named by `settings.model` and set torch's thread count for this machine."""
        torch.set_num_threads(settings.threads or available_cores())
        loaded = load_model(settings.model, timeout=settings.load_timeout, cache_dir=cache_dir, endpoint=endpoint)
        return cls(loaded, settings)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.info.labels

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """The model card's transform (resize, center crop, normalise) for one RGB image."""
        return self.transform(image)

    def predict_tensor(self, batch: torch.Tensor) -> list[Prediction]:
        """Run a preprocessed batch (N, C, H, W) through the model, in chunks of `settings.batch_size`.

        Thread-safe: calls made at the same time from several threads share forward passes (`model.microbatch`).
        """
        return self._batcher.run(batch)

    def _forward(self, batch: torch.Tensor) -> list[Prediction]:
        predictions: list[Prediction] = []
        with torch.inference_mode():
            for start in range(0, batch.shape[0], self.settings.batch_size):
                chunk = batch[start : start + self.settings.batch_size]
                probabilities = self.model(chunk).softmax(dim=-1).tolist()
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
