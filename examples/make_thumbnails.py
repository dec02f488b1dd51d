"""Make examples/thumbnails/*.webp: the square, display-sized pictures on the example buttons (the full example is
what gets classified). Run `python examples/make_thumbnails.py` after adding or changing an example."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps

__all__ = ["SIDE", "make_thumbnail"]

HERE = Path(__file__).resolve().parent
#: Pixels across: the buttons are at most about 120 CSS pixels wide, so this stays sharp on 2x screens.
SIDE = 240
QUALITY = 78


def make_thumbnail(source: Path, folder: Path) -> Path:
    """A centred square crop of `source`, SIDE pixels across, saved as WebP in `folder` under the same stem."""
    with Image.open(source) as image:
        square = ImageOps.fit(image.convert("RGB"), (SIDE, SIDE), Image.Resampling.LANCZOS)
    target = folder / f"{source.stem}.webp"
    square.save(target, "WEBP", quality=QUALITY, method=6)
    return target


if __name__ == "__main__":
    folder = HERE / "thumbnails"
    folder.mkdir(exist_ok=True)
    for path in sorted(HERE.iterdir()):
        if path.suffix.lower() in {".png", ".jpg", ".jpeg", ".webp"}:
            made = make_thumbnail(path, folder)
            print(f"{made.relative_to(HERE)}: {made.stat().st_size} bytes")
