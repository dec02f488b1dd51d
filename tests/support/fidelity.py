"""The fidelity set (images of every shape the app meets) and the model card's own pipeline, the reference that
tests/unit/test_fidelity.py, tests/integration/test_engines.py and tests/integration/test_precision.py compare with."""

from __future__ import annotations

from pathlib import Path

import timm
import torch
from PIL import Image

from testbed.images import EXAMPLES, drawing, encode, large_jpeg, noise_photo, photo

__all__ = ["INPUTS", "model_card_probabilities"]


def model_card_probabilities(checkpoint: Path, image: Image.Image) -> list[float]:
    """The model card's code, verbatim but for the local-dir source of the same checkpoint."""
    model = timm.create_model(f"local-dir:{checkpoint}", pretrained=True).eval()
    data_config = timm.data.resolve_model_data_config(model)
    transforms = timm.data.create_transform(**data_config, is_training=False)
    with torch.no_grad():
        output = model(transforms(image).unsqueeze(0)).softmax(dim=-1).cpu()
    return output[0].tolist()


INPUTS = {
    "astronaut photo": lambda: encode(photo("astronaut.png"), "PNG"),
    "coffee photo": lambda: encode(photo("coffee.png"), "PNG"),
    "rocket photo": lambda: (EXAMPLES / "rocket.jpg").read_bytes(),
    "drawing": lambda: encode(drawing(), "PNG"),
    "8x8 image": lambda: encode(drawing((8, 8)), "PNG"),
    "384x384 image": lambda: encode(noise_photo((384, 384)), "PNG"),
    "3000x300 panorama": lambda: encode(noise_photo((3000, 300)), "JPEG", quality=92),
    "12 MP JPEG": lambda: large_jpeg(12, seed=1),
    "12 MP JPEG, other content": lambda: encode(photo("coffee.png").resize((4000, 3000)), "JPEG", quality=90),
}
