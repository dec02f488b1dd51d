"""Animations: frames sampled evenly up to a limit, each scored, the maximum deciding."""

from __future__ import annotations

import io
from itertools import pairwise

import pytest
from PIL import Image, ImageDraw

from model import Classifier, ImageTooLargeError, UnsupportedFormatError
from model.tasks.frames import FrameScores, score_frames
from testbed.images import encode, photo

TOTAL = 12
#: Frames showing the rocket photo (scores ~0.997 with the stand-in); the others are flat gray (~0.04).
ROCKET_FRAMES = {2, 5, 9}


def _frames() -> list[Image.Image]:
    rocket = photo("rocket.jpg").resize((192, 128))
    frames = []
    for index in range(TOTAL):
        frame = rocket.copy() if index in ROCKET_FRAMES else Image.new("RGB", (192, 128), (128, 128, 128))
        # A frame-numbered mark keeps encoders from merging identical frames.
        ImageDraw.Draw(frame).point((index, 0), fill=(0, 0, 0))
        frames.append(frame)
    return frames


def _animation(format: str, **options: object) -> bytes:
    frames = _frames()
    buffer = io.BytesIO()
    frames[0].save(buffer, format, save_all=True, append_images=frames[1:], duration=40, loop=0, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def gif() -> bytes:
    return _animation("GIF")


@pytest.fixture(scope="module")
def every_frame(classifier: Classifier, gif: bytes) -> FrameScores:
    """Every frame, scored once for the module: the default limit (32) is above the frame count."""
    return score_frames(classifier, gif)


def test_frames_are_sampled_evenly_up_to_the_limit_first_and_last_included(classifier: Classifier, gif: bytes) -> None:
    result = score_frames(classifier, gif, max_frames=5)
    indices = [frame.index for frame in result.frames]
    assert result.total_frames == TOTAL and result.animated
    assert len(indices) == 5 and indices[0] == 0 and indices[-1] == TOTAL - 1
    steps = [b - a for a, b in pairwise(indices)]
    assert max(steps) - min(steps) <= 1


def test_each_sampled_frame_gets_its_own_score_and_the_maximum_decides(every_frame: FrameScores) -> None:
    result = every_frame
    assert [frame.index for frame in result.frames] == list(range(TOTAL))
    for frame in result.frames:
        if frame.index in ROCKET_FRAMES:
            assert frame.nsfw_score > 0.9, frame
        else:
            assert frame.nsfw_score < 0.2, frame
    assert result.top.index in ROCKET_FRAMES and result.nsfw_score == max(frame.nsfw_score for frame in result.frames)


def test_a_frame_scores_as_the_same_picture_does_on_its_own(
    classifier: Classifier, gif: bytes, every_frame: FrameScores
) -> None:
    with Image.open(io.BytesIO(gif)) as animation:
        animation.seek(9)
        ninth = animation.convert("RGB")
    assert every_frame.frames[9].nsfw_score == pytest.approx(classifier.predict([ninth])[0].nsfw_score, abs=1e-5)


def test_an_animated_webp_is_sampled_like_a_gif(classifier: Classifier) -> None:
    result = score_frames(classifier, _animation("WEBP", lossless=True), max_frames=4)
    assert result.total_frames == TOTAL
    assert [frame.index for frame in result.frames] == [0, 4, 7, 11]


def test_the_frame_limit_defaults_to_the_settings(classifier: Classifier, every_frame: FrameScores) -> None:
    assert classifier.settings.max_frames >= TOTAL
    assert len(every_frame.frames) == TOTAL


def test_a_still_image_is_one_frame_and_not_an_animation(classifier: Classifier) -> None:
    result = score_frames(classifier, encode(photo("astronaut.png")))
    assert [frame.index for frame in result.frames] == [0] and not result.animated


def test_animations_pass_the_same_checks_as_any_upload(classifier: Classifier) -> None:
    with pytest.raises(UnsupportedFormatError, match="this is a PDF document"):
        score_frames(classifier, b"%PDF-1.4 not an animation")
    huge = Image.new("RGB", (12_000, 10), "white")
    with pytest.raises(ImageTooLargeError, match="longest side may be at most"):
        score_frames(classifier, encode(huge, "GIF"))


def test_a_frame_limit_below_one_is_refused(classifier: Classifier, gif: bytes) -> None:
    with pytest.raises(ValueError, match="max_frames must be at least 1, not 0"):
        score_frames(classifier, gif, max_frames=0)
