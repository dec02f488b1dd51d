"""Draw the two generated examples, drawing.png (a crayon-style landscape) and meme.png (a captioned cartoon).

Run `python examples/make_examples.py` to rebuild them; the output is deterministic, and both images are safe for
work by construction (flat shapes and text). They are committed, so the app never runs this script.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = ["make_drawing", "make_meme"]

HERE = Path(__file__).resolve().parent
#: Bold sans fonts tried in order for the meme caption; Pillow's bundled font is the last resort.
BOLD_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "DejaVuSans-Bold.ttf",
)


def _wobble(points: list[tuple[float, float]], rng: random.Random, amount: float = 2.5) -> list[tuple[float, float]]:
    """Jitter a polygon so its edges look hand-drawn."""
    return [(x + rng.uniform(-amount, amount), y + rng.uniform(-amount, amount)) for x, y in points]


def _circle(center: tuple[float, float], radius: float, steps: int = 40) -> list[tuple[float, float]]:
    x, y = center
    return [
        (x + radius * math.cos(2 * math.pi * i / steps), y + radius * math.sin(2 * math.pi * i / steps))
        for i in range(steps)
    ]


def make_drawing(size: tuple[int, int] = (640, 480), seed: int = 7) -> Image.Image:
    """A child's crayon drawing: sun, clouds, hills, a house, a tree and flowers."""
    rng = random.Random(seed)
    width, height = size
    image = Image.new("RGB", size, (250, 248, 240))
    draw = ImageDraw.Draw(image)
    ink = (40, 40, 60)

    def shape(points: list[tuple[float, float]], fill: tuple[int, int, int]) -> None:
        draw.polygon(_wobble(points, rng), fill=fill, outline=ink, width=3)

    draw.rectangle((0, 0, width, height * 0.62), fill=(190, 225, 250))
    sun = (width * 0.84, height * 0.16)
    for ray in range(12):
        angle = 2 * math.pi * ray / 12
        start = (sun[0] + 48 * math.cos(angle), sun[1] + 48 * math.sin(angle))
        end = (sun[0] + 72 * math.cos(angle), sun[1] + 72 * math.sin(angle))
        draw.line(_wobble([start, end], rng, 2), fill=(245, 170, 20), width=5)
    shape(_circle(sun, 40), (255, 205, 40))
    for cx, cy in ((width * 0.18, height * 0.14), (width * 0.52, height * 0.1)):
        for dx, dy, radius in ((-30, 6, 24), (0, -6, 30), (32, 6, 22)):
            draw.ellipse((cx + dx - radius, cy + dy - radius, cx + dx + radius, cy + dy + radius), fill="white")
    shape(
        [
            (0, height * 0.62),
            (width * 0.3, height * 0.5),
            (width * 0.62, height * 0.6),
            (width, height * 0.52),
            (width, height),
            (0, height),
        ],
        (120, 200, 90),
    )
    shape(
        [(0, height * 0.74), (width * 0.45, height * 0.66), (width, height * 0.76), (width, height), (0, height)],
        (90, 175, 70),
    )
    left, top, house_width, house_height = width * 0.2, height * 0.45, width * 0.28, height * 0.3
    shape(
        [(left, top), (left + house_width, top), (left + house_width, top + house_height), (left, top + house_height)],
        (235, 110, 90),
    )
    shape(
        [(left - 18, top + 4), (left + house_width / 2, top - house_height * 0.62), (left + house_width + 18, top + 4)],
        (150, 70, 60),
    )
    shape(
        [
            (left + house_width * 0.4, top + house_height * 0.45),
            (left + house_width * 0.6, top + house_height * 0.45),
            (left + house_width * 0.6, top + house_height),
            (left + house_width * 0.4, top + house_height),
        ],
        (120, 80, 50),
    )
    for window_x in (left + house_width * 0.1, left + house_width * 0.72):
        shape(
            [
                (window_x, top + house_height * 0.2),
                (window_x + house_width * 0.18, top + house_height * 0.2),
                (window_x + house_width * 0.18, top + house_height * 0.45),
                (window_x, top + house_height * 0.45),
            ],
            (170, 215, 250),
        )
    trunk_x = width * 0.68
    shape(
        [
            (trunk_x, height * 0.48),
            (trunk_x + 26, height * 0.48),
            (trunk_x + 30, height * 0.8),
            (trunk_x - 4, height * 0.8),
        ],
        (130, 85, 45),
    )
    for dx, dy, radius in ((13, height * 0.4, 58), (-30, height * 0.47, 40), (56, height * 0.47, 40)):
        shape(_circle((trunk_x + dx, dy), radius, 24), (60, 150, 60))
    for index in range(7):
        x = width * (0.06 + 0.13 * index) + rng.uniform(-10, 10)
        y = height * 0.9 + rng.uniform(-12, 12)
        draw.line([(x, y), (x, y + 28)], fill=(50, 120, 50), width=3)
        petal = ((230, 80, 140), (250, 200, 50), (140, 110, 230))[index % 3]
        for angle in range(0, 360, 72):
            px, py = x + 9 * math.cos(math.radians(angle)), y + 9 * math.sin(math.radians(angle))
            draw.ellipse((px - 7, py - 7, px + 7, py + 7), fill=petal, outline=ink)
        draw.ellipse((x - 5, y - 5, x + 5, y + 5), fill=(255, 230, 90), outline=ink)
    return image.filter(ImageFilter.SMOOTH)


def _bold_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in BOLD_FONTS:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def _caption_size(draw: ImageDraw.ImageDraw, lines: tuple[str, ...], width: int) -> int:
    """The largest font size at which every caption line fits the width."""
    for size in range(60, 20, -2):
        font = _bold_font(size)
        if all(draw.textlength(line, font=font) <= width * 0.92 for line in lines):
            return size
    return 20


def _caption(draw: ImageDraw.ImageDraw, text: str, y: float, width: int, size: int, anchor: str) -> None:
    """White capitals with a black outline: the classic meme caption."""
    draw.text(
        (width / 2, y),
        text,
        font=_bold_font(size),
        fill="white",
        stroke_width=max(2, size // 12),
        stroke_fill="black",
        anchor=anchor,
    )


def make_meme(size: tuple[int, int] = (600, 600)) -> Image.Image:
    """A cheerful cartoon robot waving, captioned top and bottom like a meme."""
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for row in range(height):
        mix = row / height
        draw.line([(0, row), (width, row)], fill=(int(90 + 80 * mix), int(140 + 60 * mix), int(220 - 30 * mix)))
    ink = (30, 30, 45)
    draw.rectangle((0, height * 0.74, width, height), fill=(150, 110, 80), outline=ink, width=4)
    cx = width / 2
    draw.rounded_rectangle(
        (cx - 95, height * 0.4, cx + 95, height * 0.74), 26, fill=(170, 180, 200), outline=ink, width=5
    )
    draw.rounded_rectangle(
        (cx - 120, height * 0.17, cx + 120, height * 0.41), 34, fill=(200, 210, 225), outline=ink, width=5
    )
    draw.line([(cx, height * 0.17), (cx, height * 0.11)], fill=ink, width=5)
    draw.ellipse((cx - 13, height * 0.085, cx + 13, height * 0.13), fill=(240, 80, 80), outline=ink, width=4)
    for eye_x in (cx - 52, cx + 52):
        draw.ellipse((eye_x - 26, height * 0.23, eye_x + 26, height * 0.31), fill="white", outline=ink, width=4)
        draw.ellipse((eye_x - 10, height * 0.255, eye_x + 10, height * 0.29), fill=ink)
    draw.arc((cx - 50, height * 0.27, cx + 50, height * 0.37), 20, 160, fill=ink, width=6)
    draw.rounded_rectangle(
        (cx - 60, height * 0.48, cx + 60, height * 0.62), 12, fill=(60, 200, 120), outline=ink, width=4
    )
    draw.text(
        (cx, height * 0.55), "SFW", font=_bold_font(40), fill="white", anchor="mm", stroke_width=2, stroke_fill=ink
    )
    # A raised arm waving an open hand, with motion lines.
    draw.rounded_rectangle(
        (cx + 90, height * 0.44, cx + 170, height * 0.51), 16, fill=(170, 180, 200), outline=ink, width=4
    )
    draw.rounded_rectangle(
        (cx + 140, height * 0.3, cx + 175, height * 0.5), 16, fill=(170, 180, 200), outline=ink, width=4
    )
    draw.ellipse((cx + 128, height * 0.2, cx + 188, height * 0.31), fill=(170, 180, 200), outline=ink, width=4)
    for offset in (0, 18):
        draw.arc((cx + 180 + offset, height * 0.17, cx + 230 + offset, height * 0.31), 300, 60, fill="white", width=5)
    top, bottom = "SHOWING THE DEMO", "BLUR ON. THRESHOLD 0.5."
    size = _caption_size(draw, (top, bottom), width)
    _caption(draw, top, height * 0.025, width, size, "ma")
    _caption(draw, bottom, height * 0.97, width, size, "md")
    return image


def main() -> None:
    make_drawing().save(HERE / "drawing.png", optimize=True)
    make_meme().save(HERE / "meme.png", optimize=True)


if __name__ == "__main__":
    main()
