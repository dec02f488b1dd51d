"""How a preview hides its content: the one blur used by every view of an image that may be NSFW."""

from __future__ import annotations

from PIL import Image, ImageFilter

__all__ = ["BLUR_CELLS", "blurred"]

#: The image is first reduced to this many cells across (pixelated), so no detail survives the blur.
BLUR_CELLS = 8
_BLUR_RADIUS = 6


def blurred(image: Image.Image) -> Image.Image:
    """The image with its content hidden, same size: pixelated to a few cells, then smoothed."""
    small = image.resize((BLUR_CELLS, max(1, round(BLUR_CELLS * image.height / image.width))), Image.Resampling.BOX)
    return small.resize(image.size, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(radius=_BLUR_RADIUS))
