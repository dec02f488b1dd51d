"""Gradio's upload payload -> what our decoder reads: the file's path, untouched (Gradio never opens it)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from model import CorruptImageError

__all__ = ["upload_source"]


def upload_source(payload: Mapping[str, Any] | str | None) -> str | bytes | None:
    """The uploaded file's path (or, for a data URL, its bytes) from an image input's raw payload.

    Events that take an image use `preprocess=False`: `gr.Image.preprocess` would open every upload with Pillow
    (any format Pillow knows) before our handler runs, and fail with a message we cannot word. Gradio still moves
    the file into its upload cache and refuses paths outside it; only `model.images.decode_image` parses it.

    Raises:
        CorruptImageError: a data URL that is not valid base64.
    """
    if payload is None or isinstance(payload, str):
        return payload or None
    url = payload.get("url") or ""
    if url.startswith("data:"):
        _, _, encoded = url.partition(",")
        try:
            return base64.b64decode(encoded, validate=False)
        except (binascii.Error, ValueError):
            raise CorruptImageError("The image data sent is not valid base64. Upload the file instead.") from None
    path = payload.get("path")
    return str(path) if path else None
