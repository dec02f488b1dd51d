"""The one safe decoder: refused files get their message, odd-but-valid files get the picture a person sees."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image, ImageFile

from model import ImageLimits, decode_image, errors
from model.inputs.images import BACKGROUND, open_image
from testbed.corpus import Case, animated_gif, corpus, exif_rotated, png_claiming
from testbed.images import encode, large_jpeg

CASES = corpus()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_corpus_file_is_refused_with_its_message_or_decoded_to_rgb(case: Case) -> None:
    if case.error is not None:
        with pytest.raises(case.error, match=case.match):
            decode_image(case.data)
        return
    decoded = decode_image(case.data)
    assert decoded.image.mode == "RGB"
    assert decoded.image.size == (decoded.width, decoded.height)
    if case.note:
        assert any(re.search(case.note, note) for note in decoded.notes), decoded.notes


def test_the_corpus_has_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


def test_a_bomb_is_refused_from_its_header_without_decoding_pixels() -> None:
    with pytest.raises(errors.ImageTooLargeError):
        open_image(png_claiming(9500, 9500))
    # The limit is ours, so a smaller limit refuses what Pillow would happily decode.
    with pytest.raises(errors.ImageTooLargeError, match=r"200 x 100 = 0\.02 MP; the limit is 0\.01 MP"):
        decode_image(encode(Image.new("RGB", (200, 100)), "PNG"), ImageLimits(max_pixels=10_000))


def test_pillows_global_truncated_image_switch_is_never_flipped() -> None:
    jpeg = encode(Image.new("RGB", (64, 64), "red"), "JPEG")
    with pytest.raises(errors.CorruptImageError):
        decode_image(jpeg[: len(jpeg) - 40])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_files_over_the_byte_limit_are_refused_before_reading() -> None:
    data = large_jpeg(3)
    with pytest.raises(errors.ImageTooLargeError, match=r"File too large: \d+(\.\d)? MB; the limit is 0\.1 MB"):
        decode_image(data, ImageLimits(max_file_bytes=100_000))


def test_a_path_is_read_like_bytes(tmp_path) -> None:
    path = tmp_path / "picture.webp"
    path.write_bytes(encode(Image.new("RGB", (30, 20), "blue"), "WEBP"))
    decoded = decode_image(path)
    assert (decoded.format, decoded.width, decoded.height) == ("WEBP", 30, 20)


def test_sixteen_bit_grayscale_is_rescaled_not_clipped() -> None:
    mid_grey = np.full((16, 16), 32896, dtype=np.uint16)  # 128 * 257: the middle of the 16-bit range
    decoded = decode_image(encode(Image.fromarray(mid_grey, mode="I;16"), "PNG"))
    assert decoded.image.getpixel((8, 8)) == (128, 128, 128)


def test_transparent_pixels_are_composited_on_white() -> None:
    image = Image.new("RGBA", (20, 10), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 10, 10))
    decoded = decode_image(encode(image, "PNG"))
    assert decoded.image.getpixel((2, 2)) == (255, 0, 0)
    assert decoded.image.getpixel((15, 5)) == BACKGROUND


@pytest.mark.parametrize(("orientation", "red_corner"), [(6, (30, 5)), (8, (30, 115))])
def test_exif_orientation_is_applied_as_a_viewer_shows_it(orientation: int, red_corner: tuple[int, int]) -> None:
    decoded = decode_image(exif_rotated(orientation))
    assert (decoded.width, decoded.height) == (60, 120)
    red, _green, blue = decoded.image.getpixel(red_corner)
    assert red > 200 and blue < 60


def test_cmyk_is_converted_to_rgb_colours() -> None:
    decoded = decode_image(encode(Image.new("RGB", (32, 32), (220, 30, 30)).convert("CMYK"), "JPEG", quality=95))
    red, green, blue = decoded.image.getpixel((16, 16))
    assert red > 180 and green < 80 and blue < 80


def test_an_animation_uses_its_first_frame() -> None:
    decoded = decode_image(animated_gif(5))
    assert decoded.animated
    assert decoded.image.getpixel((0, 0)) == (0, 0, 0)


def test_large_jpegs_take_the_draft_path_only_when_asked() -> None:
    data = large_jpeg(12)
    exact = decode_image(data)
    fast = decode_image(data, draft_min_side=768)
    assert (exact.width, exact.height) == (fast.width, fast.height) == (4000, 3000)
    assert exact.image.size == (4000, 3000)
    assert min(fast.image.size) >= 768 and fast.image.size[0] < 4000
