"""High-resolution scan: the whole image plus overlapping model-sized tiles cut from the full-resolution image."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import torch
from PIL import Image

from ..runtime.classifier import Classifier

__all__ = ["OVERLAP", "ScanResult", "Tile", "plan_tiles", "scan_image"]

logger = logging.getLogger(__name__)

#: Neighbouring tiles share at least this fraction of their side, so a region cut by one tile's edge lies whole
#: (or nearly) inside the next one.
OVERLAP = 0.25
#: When the tile count would exceed the cap, the tile side grows by this factor until it fits.
_GROWTH = 1.1

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Tile:
    """One scanned tile: its box [x0, y0, x1, y1) in original-image pixels and its NSFW score."""

    box: Box
    nsfw_score: float


@dataclass(frozen=True)
class ScanResult:
    """The whole-image score, every tile's score, and what the scan cost.

    `nsfw_score` (the maximum of the whole image and every tile) is the score a decision should use: a small
    region that scores high anywhere in the image is enough.
    """

    whole_score: float
    tiles: tuple[Tile, ...]
    tile_side: int
    milliseconds: float

    @property
    def count(self) -> int:
        return len(self.tiles)

    @property
    def top(self) -> Tile:
        """The highest-scoring tile (the first one, in row order, on a tie)."""
        return max(self.tiles, key=lambda tile: tile.nsfw_score)

    @property
    def max_score(self) -> float:
        return self.top.nsfw_score

    @property
    def box(self) -> Box:
        return self.top.box

    @property
    def nsfw_score(self) -> float:
        return max(self.whole_score, self.max_score)


def _starts(length: int, side: int) -> list[int]:
    """Tile starts along one axis: evenly spread, first at 0 and last flush with the end, overlapping >= OVERLAP."""
    if length <= side:
        return [0]
    stride = side * (1.0 - OVERLAP)
    count = math.ceil((length - side) / stride) + 1
    return [round(index * (length - side) / (count - 1)) for index in range(count)]


def _fit(tile: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize a tile to exactly the input size, so the transform's centre crop never cuts part of a tile away."""
    return tile if tile.size == size else tile.resize(size, Image.Resampling.BICUBIC)


def plan_tiles(width: int, height: int, tile_side: int, max_tiles: int) -> list[Box]:
    """The boxes to scan, in row order: square, overlapping, covering every pixel, at most `max_tiles` of them.

    Tiles are `tile_side` pixels (the model's input) where that fits the cap, so the model sees the image's own
    pixels; on an image too large for that, the tile side grows until the count fits and each tile is then
    downscaled to the input, which still sees far more detail than the whole-image pass. A side shorter than a
    tile sets the tile side (a long screenshot is scanned in squares of its width); only when such squares would
    exceed the cap do tiles grow along the long side into rectangles, which are squeezed into the input square.

    Args:
        width: image width in pixels.
        height: image height in pixels.
        tile_side: the model's input side in pixels.
        max_tiles: the most tiles to return (at least 1).
    """
    if width < 1 or height < 1:
        raise ValueError(f"Cannot tile an image of {width} x {height} pixels.")
    if max_tiles < 1:
        raise ValueError(f"max_tiles must be at least 1, not {max_tiles}.")
    side = min(tile_side, width, height)
    while True:
        xs, ys = _starts(width, side), _starts(height, side)
        if len(xs) * len(ys) <= max_tiles or side >= max(width, height):
            break
        side = min(max(width, height), math.ceil(side * _GROWTH))
    return [(x, y, x + min(side, width), y + min(side, height)) for y in ys for x in xs]


def scan_image(classifier: Classifier, image: Image.Image, *, max_tiles: int | None = None) -> ScanResult:
    """Score the whole image and every tile of `plan_tiles`, as batches through the classifier.

    Pass the image decoded at full resolution (`decode_image` without `draft_min_side`): tiles cut from a
    reduced decode would see no more than the whole-image pass does.

    Args:
        classifier: the loaded classifier; its data config gives the tile side.
        image: the RGB image.
        max_tiles: the cap on tiles; defaults to `classifier.settings.scan_max_tiles`.
    """
    started = time.perf_counter()
    cap = classifier.settings.scan_max_tiles if max_tiles is None else max_tiles
    _, input_height, input_width = classifier.data_config["input_size"]
    side = min(input_height, input_width)
    boxes = plan_tiles(image.width, image.height, side, cap)
    tensors = [classifier.preprocess(image)]
    tensors.extend(classifier.preprocess(_fit(image.crop(box), (input_width, input_height))) for box in boxes)
    batch = torch.stack(tensors)
    predictions = classifier.predict_tensor(batch)
    milliseconds = 1000 * (time.perf_counter() - started)
    tiles = tuple(Tile(box=box, nsfw_score=p.nsfw_score) for box, p in zip(boxes, predictions[1:], strict=True))
    tile_side = max(boxes[0][2] - boxes[0][0], boxes[0][3] - boxes[0][1])
    logger.info(
        "Scanned %d x %d px in %d tiles of %d px in %.0f ms",
        image.width,
        image.height,
        len(tiles),
        tile_side,
        milliseconds,
    )
    return ScanResult(
        whole_score=predictions[0].nsfw_score, tiles=tiles, tile_side=tile_side, milliseconds=milliseconds
    )
