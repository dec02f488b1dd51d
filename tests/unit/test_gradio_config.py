"""Gradio set up for hostile input: uploads reach our decoder unopened, only uploads are read, no URL is ever fetched,
and the queue size is a setting."""

from __future__ import annotations

import base64
from pathlib import Path

import gradio as gr
import pytest
from gradio.utils import get_upload_folder

import app as demo_app
from model import ConfigurationError, CorruptImageError, load_settings
from model.errors import NotUploadedError
from tests.support.loops import run_coroutine
from ui.upload import NOT_UPLOADED_MESSAGE, upload_source

#: Components whose preprocessing only hands over the uploaded file's path (no decoding).
PATH_ONLY = (gr.File,)


def file_inputs(demo: gr.Blocks) -> list[tuple[gr.components.Component, bool]]:
    """Every (input component, its event's preprocess flag) that takes a file."""
    return [
        (block, function.preprocess)
        for function in demo.fns.values()
        for block in function.inputs
        if isinstance(block, gr.Image | gr.File | gr.Gallery | gr.ImageEditor)
    ]


def test_every_image_input_reaches_our_decoder_as_an_unopened_file(demo: gr.Blocks) -> None:
    inputs = file_inputs(demo)
    assert {type(block) for block, _ in inputs} == {gr.Image, gr.File}
    for block, preprocess in inputs:
        if isinstance(block, gr.Image):
            # type="filepath" alone still lets gr.Image.preprocess open the file with Pillow; preprocess=False stops it.
            assert (block.type, preprocess) == ("filepath", False), block.label
        else:
            assert isinstance(block, PATH_ONLY) and block.type == "filepath", block.label


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:1/x.png", "https://example.com/cat.jpg"]
)
def test_every_input_refuses_a_url_before_gradio_would_fetch_it(demo: gr.Blocks, url: str) -> None:
    blocks = {block._id: block for block, _ in file_inputs(demo)}
    assert blocks
    for block in blocks.values():
        with pytest.raises(gr.Error, match="Send the image file itself"):
            run_coroutine(block.async_move_resource_to_block_cache(url))


def test_a_link_to_an_upload_of_ours_is_read_from_disk_not_fetched(demo: gr.Blocks) -> None:
    uploaded = Path(get_upload_folder()) / "test-gradio-config" / "rocket.jpg"
    uploaded.parent.mkdir(parents=True, exist_ok=True)
    uploaded.write_bytes(b"not fetched")
    try:
        [block, *_] = [block for block, _ in file_inputs(demo)]
        link = f"https://anyhost.example/gradio_api/file={uploaded}"
        assert run_coroutine(block.async_move_resource_to_block_cache(link)) == str(uploaded)
        with pytest.raises(gr.Error, match="Send the image file itself"):
            run_coroutine(
                block.async_move_resource_to_block_cache("https://anyhost.example/gradio_api/file=/etc/passwd")
            )
    finally:
        uploaded.unlink()
        uploaded.parent.rmdir()


@pytest.mark.parametrize(
    "payload",
    [
        {"path": "/etc/passwd"},
        {"path": str(Path(demo_app.__file__).resolve())},
        {"path": f"{get_upload_folder()}/../../etc/passwd"},
        {"path": "http://127.0.0.1:1/x.png"},
        {"url": "http://169.254.169.254/latest/meta-data/"},
        "/etc/passwd",
    ],
    ids=["etc-passwd", "app-source", "traversal-from-cache", "url-as-path", "url", "bare-string"],
)
def test_an_image_payload_naming_anything_but_an_upload_is_refused(payload: object) -> None:
    with pytest.raises(NotUploadedError, match="never a server path or a URL"):
        upload_source(payload)


def test_uploads_and_data_urls_are_what_the_decoder_reads() -> None:
    inside = f"{get_upload_folder()}/0123abcd/photo.png"
    assert upload_source({"path": inside, "url": "http://127.0.0.1:7860/gradio_api/file=x"}) == inside
    assert upload_source({"url": "data:image/png;base64," + base64.b64encode(b"PNG bytes").decode()}) == b"PNG bytes"
    assert upload_source(None) is None and upload_source({}) is None
    with pytest.raises(CorruptImageError, match="not valid base64"):
        upload_source({"url": "data:image/png;base64,abcde"})
    assert "server path" in NOT_UPLOADED_MESSAGE


def test_the_queue_size_is_a_setting() -> None:
    assert load_settings({}).queue_size == 64
    assert load_settings({"NSFW_QUEUE_SIZE": "8"}).queue_size == 8
    with pytest.raises(ConfigurationError, match="NSFW_QUEUE_SIZE='0' must be at least 1"):
        load_settings({"NSFW_QUEUE_SIZE": "0"})


def test_the_footer_says_how_long_uploads_are_kept(demo: gr.Blocks) -> None:
    every, age = demo_app.DELETE_CACHE
    assert demo.delete_cache == (every, age)
    footer = next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "page-footer")
    assert f"uploads are deleted {age // 60} to {(age + every) // 60} minutes after they arrive" in footer.value
