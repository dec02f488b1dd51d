"""One upload -> the scores behind allow / review / block, and the /moderate JSON built from them."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from model import Classifier, UnsupportedFormatError
from model.tasks.moderation import PREVIEW_SIDE, moderate
from testbed.images import encode, photo


def _pasted_rocket() -> bytes:
    """Flat gray (scores ~0.04) with the rocket photo (~0.997 alone) small in one corner."""
    image = Image.new("RGB", (960, 720), (128, 128, 128))
    image.paste(photo("rocket.jpg").resize((300, 200)), (600, 460))
    return encode(image)


def _animation() -> bytes:
    frames = [Image.new("RGB", (96, 64), (128, 128, 128)), photo("rocket.jpg").resize((96, 64))]
    frames.append(Image.new("RGB", (96, 64), (120, 128, 128)))
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return buffer.getvalue()


def test_a_still_image_is_scored_whole_with_no_tiles_or_frames(classifier: Classifier) -> None:
    result = moderate(classifier, encode(photo("astronaut.png")))
    body = result.to_json(0.3, 0.7)
    assert body["tiles"] is None and body["frames"] is None
    assert body["decision"] == "allow" and body["nsfw_score"] == result.whole_score < 0.3
    assert (body["allow_below"], body["block_above"]) == (0.3, 0.7)
    assert body["image"] == {"width": 512, "height": 512, "format": "PNG"}


def test_the_band_decides_from_the_same_scores_without_running_the_model_again(classifier: Classifier) -> None:
    result = moderate(classifier, encode(photo("coffee.png")))  # ~0.53
    assert [result.decision(*band) for band in [(0.6, 0.9), (0.3, 0.7), (0.2, 0.5)]] == ["allow", "review", "block"]


def test_the_scan_reports_the_top_tile_and_decides_from_it(classifier: Classifier) -> None:
    result = moderate(classifier, _pasted_rocket(), scan=True)
    body = result.to_json(0.3, 0.7)
    assert body["whole_image_score"] < 0.3 < 0.7 <= body["tiles"]["max_score"] == body["nsfw_score"]
    assert body["decision"] == "block"
    assert body["tiles"]["count"] == 9 and body["tiles"]["box"] == [576, 336, 960, 720]


def test_an_animation_lists_every_sampled_frame_and_decides_from_the_highest(classifier: Classifier) -> None:
    result = moderate(classifier, _animation(), scan=True)
    body = result.to_json(0.3, 0.7)
    assert [frame["index"] for frame in body["frames"]] == [0, 1, 2] and body["total_frames"] == 3
    assert body["nsfw_score"] == body["frames"][1]["nsfw_score"] > 0.9 and body["decision"] == "block"
    assert body["tiles"] is None
    assert any("3 of 3 frames were scored" in note for note in body["notes"])
    assert any("tile scan applies to still images" in note for note in body["notes"])


def test_the_preview_is_kept_small_whatever_the_upload(classifier: Classifier) -> None:
    result = moderate(classifier, encode(Image.new("RGB", (2400, 1200), (128, 128, 128)), "JPEG"))
    assert result.preview.size == (PREVIEW_SIDE, PREVIEW_SIDE // 2)
    assert result.preview_scale == pytest.approx(PREVIEW_SIDE / 2400)


def test_a_file_that_is_not_an_image_is_refused_with_the_decoders_message(classifier: Classifier) -> None:
    with pytest.raises(UnsupportedFormatError, match="this is an HTML page"):
        moderate(classifier, b"<html><body>hello</body></html>")
