"""AVIF and HEIC/HEIF decode like every other format: limits before decoding, EXIF orientation, first frame."""

from __future__ import annotations

import struct

import pytest
from PIL import Image

from model import ImageLimits, ImageTooLargeError, decode_image
from testbed.corpus import heif
from testbed.images import encode


def red_left_half() -> Image.Image:
    image = Image.new("RGB", (120, 60), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 60, 60))
    return image


def rotated(format: str) -> bytes:
    """120 x 60, left half red, stored with EXIF orientation 6 (shown rotated 90° clockwise, 60 x 120)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    if format == "HEIF":
        return heif(red_left_half(), exif=exif.tobytes())
    return encode(red_left_half(), format, exif=exif.tobytes())


@pytest.mark.parametrize("format", ["AVIF", "HEIF"])
def test_exif_orientation_is_applied_as_a_phone_shows_the_photo(format: str) -> None:
    decoded = decode_image(rotated(format))
    assert decoded.format == format and (decoded.width, decoded.height) == (60, 120)
    top, bottom = decoded.image.getpixel((30, 10)), decoded.image.getpixel((30, 110))
    assert top[0] > 200 and top[2] < 50, top  # the red half is on top, as a viewer shows it
    assert bottom[2] > 200 and bottom[0] < 50, bottom


@pytest.mark.parametrize("format", ["AVIF", "HEIF"])
def test_the_pixel_limit_is_checked_from_the_header(format: str) -> None:
    data = heif(red_left_half()) if format == "HEIF" else encode(red_left_half(), format)
    with pytest.raises(ImageTooLargeError, match=r"^Image too large: 120 x 60 = 0.01 MP; the limit is"):
        decode_image(data, ImageLimits(max_pixels=5000))


def test_an_animated_avif_is_classified_from_its_first_frame() -> None:
    frames = [Image.new("RGB", (64, 48), colour) for colour in ((250, 0, 0), (0, 250, 0), (0, 0, 250))]
    decoded = decode_image(encode(frames[0], "AVIF", save_all=True, append_images=frames[1:], duration=40))
    assert decoded.animated and any("first frame" in note for note in decoded.notes)
    assert decoded.image.getpixel((32, 24))[0] > 200


def test_a_heic_declaring_a_huge_coded_size_behind_a_small_crop_is_refused_before_decoding() -> None:
    # Phones' HEIC store a coded size (ispe) and crop it (clap); libheif allocates the coded size when decoding.
    data = bytearray(heif(Image.new("RGB", (48, 32), "gray")))
    ispe = data.index(b"ispe")
    data[ispe + 8 : ispe + 12] = struct.pack(">I", 100_000)
    with pytest.raises(ImageTooLargeError, match=r"100000 x 64 px; the longest side may be at most 10000 px"):
        decode_image(bytes(data))
