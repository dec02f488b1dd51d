"""The two in-process pipelines compared: the model card's snippet and this project's classifier, plus the bare
forward pass they share."""

from __future__ import annotations

from pathlib import Path

import timm
import timm.data
import torch
from PIL import Image

from model import Classifier, ModelSource, Settings, decode_image

__all__ = ["CardPipeline", "OurPipeline"]


class CardPipeline:
    """The model card's code, with the checkpoint read from a local folder instead of `hf_hub:`.

    One image at a time, timed from the file on disk: `Image.open` -> `.convert("RGB")` -> timm's eval transform
    -> forward under `torch.no_grad()` -> softmax.
    """

    def __init__(self, checkpoint: Path) -> None:
        self.model = timm.create_model(f"local-dir:{checkpoint}", pretrained=True).eval()
        self.data_config = timm.data.resolve_model_data_config(self.model)
        self.transforms = timm.data.create_transform(**self.data_config, is_training=False)

    def __call__(self, path: Path) -> list[float]:
        with Image.open(path) as image:
            tensor = self.transforms(image.convert("RGB")).unsqueeze(0)
        with torch.no_grad():
            output = self.model(tensor).softmax(dim=-1).cpu()
        return output[0].tolist()


class OurPipeline:
    """`model.decode_image` (safe decoding, JPEG draft mode) + `Classifier.predict`, as the app calls them."""

    def __init__(self, checkpoint: Path, settings: Settings | None = None) -> None:
        self.classifier = Classifier.load(settings or Settings(model=ModelSource(local_dir=str(checkpoint))))
        self.input = torch.zeros(1, *self.input_size)

    @property
    def input_size(self) -> tuple[int, int, int]:
        return tuple(self.classifier.data_config["input_size"])

    def __call__(self, path: Path) -> float:
        decoded = decode_image(path, self.classifier.limits, draft_min_side=self.classifier.draft_min_side)
        return self.classifier.predict([decoded.image])[0].nsfw_score

    def forward(self) -> None:
        """The bare forward pass of one preprocessed image (batch 1) on the engine and device in use."""
        self.classifier.forward_probabilities(self.input)
