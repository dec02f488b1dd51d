"""The one blur: every view that hides an image (galleries, the Moderate preview, /explain) hides it the same way."""

from __future__ import annotations

from PIL import Image

from model.inputs.previews import blurred


def test_the_blur_hides_fine_detail_and_keeps_the_size() -> None:
    checkerboard = Image.new("RGB", (64, 48))
    pixels = [(255, 255, 255) if (x // 2 + y // 2) % 2 else (0, 0, 0) for y in range(48) for x in range(64)]
    checkerboard.putdata(pixels)
    hidden = blurred(checkerboard)
    assert hidden.size == checkerboard.size
    low, high = hidden.convert("L").getextrema()
    assert high - low < 40  # every pixel is close to the mean grey: the pattern is gone
