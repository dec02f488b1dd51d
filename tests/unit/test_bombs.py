"""Files whose headers claim huge images are refused with their size wherever Pillow notices (open, seek, load),
and one bad file never stops the files around it."""

from __future__ import annotations

import logging
import struct
import warnings

import pytest
from PIL import Image

from model import Classifier, ImageLimits, ImageTooLargeError, decode_image
from model.errors import FILE_FAILED_MESSAGE
from model.tasks.moderation import moderate
from model.tasks.pipeline import classify_sources
from testbed.corpus import animated_gif, gif_claiming, gif_frame_offsets, png_claiming, webp_claiming
from testbed.images import EXAMPLES

BOMBS = {
    "gif": (gif_claiming(65535, 65535), "65535 x 65535 = 4294.8 MP"),
    "png": (png_claiming(50000, 50000), "50000 x 50000 = 2500 MP"),
    "webp": (webp_claiming(16384, 16384), "16384 x 16384 = 268.4 MP"),
}


def gif_growing_at_frame(frame: int, size: tuple[int, int]) -> bytes:
    """A 4-frame 16 x 16 GIF whose frame `frame` claims `size`: the canvas grows only when that frame is reached."""
    data = bytearray(animated_gif(4, (16, 16)))
    offset = gif_frame_offsets(bytes(data))[frame]
    data[offset + 5 : offset + 9] = struct.pack("<HH", *size)
    return bytes(data)


@pytest.mark.parametrize("kind", BOMBS)
def test_a_header_claiming_a_huge_image_is_refused_with_its_size(kind: str) -> None:
    data, size = BOMBS[kind]
    with pytest.raises(ImageTooLargeError, match=rf"^Image too large: {size}; the limit is 40 MP"):
        decode_image(data)


def test_pillows_bomb_warning_raised_as_an_error_still_names_the_size() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(ImageTooLargeError, match=r"10000 x 10000 = 100 MP; the limit is 40 MP"):
            decode_image(gif_claiming(10000, 10000))


def test_above_pillows_own_limit_the_message_names_pillows_limit() -> None:
    generous = ImageLimits(max_pixels=10**10, max_side=100_000)
    with pytest.raises(ImageTooLargeError, match=r"65535 x 65535 = 4294.8 MP; the limit is 179 MP"):
        decode_image(gif_claiming(65535, 65535), generous)


def test_an_animation_whose_later_frame_grows_too_large_is_scored_up_to_that_frame(classifier: Classifier) -> None:
    result = moderate(classifier, gif_growing_at_frame(2, (9000, 9000)))
    assert [frame.index for frame in result.frames.frames] == [0, 1]
    assert any("Sampling stopped" in note and "9000 x 9000 = 81 MP" in note for note in result.notes), result.notes


def test_a_bad_source_becomes_its_own_generic_row_and_the_log_names_no_file(
    classifier: Classifier, caplog: pytest.LogCaptureFixture
) -> None:
    sources = [
        ("astronaut.png", EXAMPLES / "astronaut.png"),
        ("secret-holiday.jpg", 12345),
        ("rocket", EXAMPLES / "rocket.jpg"),
    ]
    with caplog.at_level(logging.ERROR):
        results = classify_sources(classifier, sources)  # type: ignore[arg-type]
    assert [result.file for result in results] == ["astronaut.png", "secret-holiday.jpg", "rocket"]
    assert results[1].error == FILE_FAILED_MESSAGE and results[1].prediction is None
    assert results[0].prediction is not None and results[2].prediction is not None
    assert "failed unexpectedly: TypeError" in caplog.text and "secret-holiday" not in caplog.text


def test_moderate_refuses_a_gif_bomb_with_its_size(classifier: Classifier) -> None:
    with pytest.raises(ImageTooLargeError, match=r"^Image too large: 65535 x 65535 = 4294.8 MP"):
        moderate(classifier, gif_claiming(65535, 65535), scan=True)
