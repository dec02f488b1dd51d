"""Safe test images made by code (plus the licensed photos in examples/): nothing here is ever NSFW."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["EXAMPLES", "drawing", "encode", "large_jpeg", "noise_photo", "photo"]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def photo(name: str = "astronaut.png") -> Image.Image:
    """One of the public-domain / CC0 photos shipped in examples/, as RGB."""
    with Image.open(EXAMPLES / name) as image:
        return image.convert("RGB")


def drawing(size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A flat-colour drawing: shapes and lines on white."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.ellipse((width * 0.1, height * 0.1, width * 0.5, height * 0.6), fill=(250, 200, 40), outline="black", width=4)
    draw.rectangle((width * 0.55, height * 0.3, width * 0.9, height * 0.85), fill=(40, 120, 220), outline="black")
    draw.line((0, height - 1, width, 0), fill=(200, 30, 30), width=6)
    return image


def noise_photo(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A photo-like image of any size: an example photo stretched, with grain so JPEG has detail to keep."""
    base = photo("chelsea.png").resize(size, Image.Resampling.BILINEAR)
    grain = np.random.default_rng(seed).normal(0, 8, (size[1], size[0], 3))
    array = np.clip(np.asarray(base, dtype=np.float64) + grain, 0, 255).astype(np.uint8)
    return Image.fromarray(array)


def encode(image: Image.Image, format: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def large_jpeg(megapixels: float = 12.0, seed: int = 0, quality: int = 90) -> bytes:
    """A camera-sized JPEG (4:3) of about `megapixels` MP."""
    height = int((megapixels * 1e6 * 3 / 4) ** 0.5)
    width = int(height * 4 / 3)
    return encode(noise_photo((width, height), seed), "JPEG", quality=quality)
