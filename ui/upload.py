"""Gradio's upload payload -> what our decoder reads: a file uploaded to this server (Gradio never opens it), or a
data URL's bytes; never a server path that was not uploaded, never a URL."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import gradio as gr
from gradio.utils import get_upload_folder, is_in_or_equal
from gradio_client.utils import is_http_url_like

from model import CorruptImageError
from model.errors import NotUploadedError

__all__ = ["NOT_UPLOADED_MESSAGE", "progress_reporter", "refuse_remote_files", "upload_names", "upload_source"]

#: How Gradio links to a file it serves; such a link to one of our own uploads is read from disk, never fetched.
_FILE_ROUTE = "/gradio_api/file="
NOT_UPLOADED_MESSAGE = (
    "Send the image file itself: this server reads only files uploaded to it, never a server path or a URL."
)


def upload_names(files: Sequence[str]) -> list[str]:
    """The names the user gave their uploads: Gradio keeps each one as the last part of its cache path."""
    return [Path(file).name for file in files]


def progress_reporter(progress: gr.Progress | None, desc: str) -> Callable[[int, int], None]:
    """Show "Opening the upload" on `progress` now; return the (done, total) callback that shows `desc` per image."""
    if progress is not None:
        progress(0, desc="Opening the upload")

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress((done, total), desc=desc, unit="images")

    return report


def _uploaded_path(path: str) -> str:
    """`path` if it lies inside Gradio's upload folder (where every upload and example lands), else refuse it."""
    if is_http_url_like(path) or not is_in_or_equal(path, get_upload_folder()):
        raise NotUploadedError(NOT_UPLOADED_MESSAGE)
    return path


def upload_source(payload: Mapping[str, Any] | str | None) -> str | bytes | None:
    """The uploaded file's path (or, for a data URL, its bytes) from an image input's raw payload.

    Events that take an image use `preprocess=False`: `gr.Image.preprocess` would open every upload with Pillow
    (any format Pillow knows) before our handler runs, and fail with a message we cannot word. Gradio still moves
    files into its upload cache, but it checks only payloads marked as files (with `meta`); an image payload
    without `meta` reaches us as it was sent, so the path is checked here too.

    Raises:
        CorruptImageError: a data URL that is not valid base64.
        NotUploadedError: the payload names a path outside the upload folder, or a URL.
    """
    if payload is None or isinstance(payload, str):
        return _uploaded_path(payload) if payload else None
    url = payload.get("url") or ""
    if url.startswith("data:"):
        _, _, encoded = url.partition(",")
        try:
            return base64.b64decode(encoded, validate=False)
        except (binascii.Error, ValueError):
            raise CorruptImageError("The image data sent is not valid base64. Upload the file instead.") from None
    path = payload.get("path")
    if path:
        return _uploaded_path(str(path))
    if is_http_url_like(url):
        raise NotUploadedError(NOT_UPLOADED_MESSAGE)
    return None


Mover = Callable[[str | Path | None], Coroutine[Any, Any, str | None]]


def _own_upload(url: str) -> str:
    """The upload a `.../gradio_api/file=<path>` link names (how MCP clients pass files they uploaded), or refuse."""
    _, found, path = urlsplit(url).path.partition(_FILE_ROUTE)
    if found and path and is_in_or_equal(unquote(path), get_upload_folder()):
        return unquote(path)
    raise gr.Error(NOT_UPLOADED_MESSAGE, title="Upload the file", print_exception=False)


def _without_urls(move: Mover) -> Mover:
    async def move_uploaded_only(url_or_file_path: str | Path | None) -> str | None:
        if isinstance(url_or_file_path, str) and is_http_url_like(url_or_file_path):
            url_or_file_path = _own_upload(url_or_file_path)
        return await move(url_or_file_path)

    return move_uploaded_only


def refuse_remote_files(demo: gr.Blocks) -> gr.Blocks:
    """Make every input of `demo` refuse a file payload that names a URL, before Gradio would download it.

    Gradio fetches a URL given as a file's path (`handle_file("https://...")`) on the server, with no size limit
    and before any handler runs; its SSRF filter stops loopback and private addresses, but a public URL is still
    fetched (and its host name resolved). Every input here takes an uploaded file, so a URL is refused with a
    message saying to send the file, except a link to a file already uploaded here (MCP clients upload first, then
    pass the file's link), which is read from the upload folder without any request. Outputs are left alone.
    """
    inputs = {block._id: block for function in demo.fns.values() for block in function.inputs}
    for block in inputs.values():
        block.async_move_resource_to_block_cache = _without_urls(block.async_move_resource_to_block_cache)
    return demo
