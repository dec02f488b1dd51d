"""Example pictures as buttons named after them ("Example: astronaut"), showing light thumbnails; a click loads the
full picture into the tab's image input, whose change event classifies it."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import gradio as gr

__all__ = ["EXAMPLES", "EXAMPLES_DIR", "THUMBNAILS_DIR", "example_buttons"]

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
#: Made by examples/make_thumbnails.py; a missing thumbnail falls back to the full picture.
THUMBNAILS_DIR = EXAMPLES_DIR / "thumbnails"
#: Offered on the Single image and Moderate tabs, in this order; all safe for work (examples/ATTRIBUTION.md).
EXAMPLES = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "drawing.png", "meme.png")


def _thumbnail(picture: Path) -> Path:
    thumbnail = THUMBNAILS_DIR / f"{picture.stem}.webp"
    return thumbnail if thumbnail.is_file() else picture


def _button_face(picture: Path) -> str:
    # A relative URL, so the page also works under a root path; the image's alt text names the button.
    source = html.escape(f"gradio_api/file={_thumbnail(picture)}", quote=True)
    name = html.escape(picture.stem.replace("_", " "), quote=True)
    return f'<img class="example-thumb" src="{source}" alt="Example: {name}" width="120" height="120">'


def example_buttons(target: gr.Image, label: str, elem_id: str, names: Sequence[str] = EXAMPLES) -> gr.Dataset:
    """One button per example under `label`; clicking one puts the full-size picture into `target`."""
    pictures = [EXAMPLES_DIR / name for name in names if (EXAMPLES_DIR / name).is_file()]
    dataset = gr.Dataset(
        components=["html"],
        samples=[[_button_face(picture)] for picture in pictures],
        type="index",
        label=label,
        samples_per_page=max(1, len(pictures)),
        elem_id=elem_id,
        elem_classes="example-buttons",
    )
    dataset.click(
        lambda index: str(pictures[index]) if index is not None else gr.skip(),
        dataset,
        target,
        api_visibility="private",
        queue=False,
        show_progress="hidden",
    )
    return dataset
