"""The high-resolution scan: a tile plan that covers every pixel within a cap, and a scan that finds a small region."""

from __future__ import annotations

from itertools import pairwise

import pytest
from PIL import Image

from model import Classifier, load_settings
from model.tasks.scan import OVERLAP, plan_tiles, scan_image
from testbed.images import photo

#: The stand-in scores flat mid-gray low (~0.04) and the rocket photo high (~0.997).
GRAY = (128, 128, 128)


def _covered(boxes: list[tuple[int, int, int, int]], width: int, height: int) -> bool:
    mask = Image.new("1", (width, height), 0)
    for box in boxes:
        mask.paste(1, box)
    return mask.getbbox() == (0, 0, width, height) and all(mask.getdata())


@pytest.mark.parametrize(("width", "height"), [(960, 720), (1000, 1000), (384, 384), (3000, 200), (5656, 4242)])
def test_tiles_cover_every_pixel_and_stay_inside_the_image(width: int, height: int) -> None:
    boxes = plan_tiles(width, height, 384, 32)
    assert _covered(boxes, width, height)
    assert all(0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height for x0, y0, x1, y1 in boxes)


def test_tiles_are_model_sized_and_overlap_when_the_cap_allows() -> None:
    boxes = plan_tiles(960, 720, 384, 32)
    assert {(x1 - x0, y1 - y0) for x0, y0, x1, y1 in boxes} == {(384, 384)}
    xs = sorted({box[0] for box in boxes})
    assert xs[0] == 0 and xs[-1] == 960 - 384
    assert all(384 - (b - a) >= OVERLAP * 384 for a, b in pairwise(xs))


def test_a_24_megapixel_photo_is_scanned_in_at_most_the_cap_with_larger_overlapping_tiles() -> None:
    boxes = plan_tiles(5656, 4242, 384, 32)
    assert 16 < len(boxes) <= 32
    side = boxes[0][2] - boxes[0][0]
    assert side > 384
    xs = sorted({box[0] for box in boxes})
    assert all(side - (b - a) >= OVERLAP * side for a, b in pairwise(xs))


def test_a_long_screenshot_is_scanned_in_squares_of_its_width() -> None:
    boxes = plan_tiles(300, 3000, 384, 32)
    assert {(x1 - x0, y1 - y0) for x0, y0, x1, y1 in boxes} == {(300, 300)}


@pytest.mark.parametrize("cap", [1, 2, 5])
def test_the_cap_holds_even_for_a_strip_too_long_for_squares(cap: int) -> None:
    boxes = plan_tiles(200, 6000, 384, cap)
    assert len(boxes) <= cap
    assert _covered(boxes, 200, 6000)


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_tiles must be at least 1, not 0"):
        plan_tiles(960, 720, 384, 0)


def test_the_scan_finds_a_small_high_scoring_region_the_whole_image_misses(classifier: Classifier) -> None:
    image = Image.new("RGB", (960, 720), GRAY)
    region = (600, 460, 900, 660)
    image.paste(photo("rocket.jpg").resize((300, 200)), region[:2])

    result = scan_image(classifier, image)

    assert result.count == len(plan_tiles(960, 720, 384, classifier.settings.scan_max_tiles)) == 9
    assert result.whole_score < 0.5 < result.max_score
    assert result.nsfw_score == result.max_score
    x0, y0, x1, y1 = result.box
    assert x0 <= region[0] and y0 <= region[1] and x1 >= region[2] and y1 >= region[3]
    assert result.milliseconds > 0


def test_a_scan_of_a_plain_image_scores_the_same_everywhere(classifier: Classifier) -> None:
    result = scan_image(classifier, Image.new("RGB", (500, 400), GRAY), max_tiles=4)
    assert result.count == 4
    assert max(tile.nsfw_score for tile in result.tiles) == pytest.approx(result.whole_score, abs=1e-4)


def test_the_tile_cap_and_frame_limit_come_from_the_environment() -> None:
    settings = load_settings({"NSFW_SCAN_MAX_TILES": "12", "NSFW_MAX_FRAMES": "8"})
    assert (settings.scan_max_tiles, settings.max_frames) == (12, 8)
    assert (load_settings({}).scan_max_tiles, load_settings({}).max_frames) == (32, 32)
