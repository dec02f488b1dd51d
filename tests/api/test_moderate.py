"""/moderate, /explain and the MCP tool list, against `python app.py` on a local port."""

from __future__ import annotations

import io
import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from PIL import Image

from testbed.images import EXAMPLES, encode, photo
from testbed.server import AppServer
from tests.support.loops import run_coroutine

ROCKET = EXAMPLES / "rocket.jpg"
KEYS = {"decision", "nsfw_score", "allow_below", "block_above", "tiles", "frames"}


def _write(folder: Path, name: str, data: bytes) -> str:
    path = folder / name
    path.write_bytes(data)
    return str(path)


def _pasted_rocket() -> bytes:
    """Flat gray (scores ~0.04 with the stand-in) with the rocket photo (~0.997 alone) small in one corner."""
    image = Image.new("RGB", (960, 720), (128, 128, 128))
    image.paste(photo("rocket.jpg").resize((300, 200)), (600, 460))
    return encode(image)


@pytest.mark.parametrize(
    ("example", "band", "decision"),
    [("astronaut.png", (0.3, 0.7), "allow"), ("coffee.png", (0.3, 0.7), "review"), ("rocket.jpg", (0.3, 0.7), "block")],
)
def test_moderate_returns_the_documented_json(client: Client, example: str, band: tuple, decision: str) -> None:
    result = client.predict(handle_file(str(EXAMPLES / example)), *band, False, api_name="/moderate")
    assert set(result) >= KEYS
    assert result["decision"] == decision
    assert (result["allow_below"], result["block_above"]) == band
    assert result["tiles"] is None and result["frames"] is None


def test_moderate_defaults_to_the_documented_band_without_a_scan(client: Client) -> None:
    result = client.predict(handle_file(str(EXAMPLES / "coffee.png")), api_name="/moderate")
    assert (result["allow_below"], result["block_above"], result["tiles"]) == (0.3, 0.7, None)


def test_equal_thresholds_give_a_plain_cut_with_no_review(client: Client) -> None:
    score = client.predict(handle_file(str(EXAMPLES / "coffee.png")), api_name="/moderate")["nsfw_score"]
    at = client.predict(handle_file(str(EXAMPLES / "coffee.png")), score, score, api_name="/moderate")
    above = client.predict(handle_file(str(EXAMPLES / "coffee.png")), 0.99, 0.99, api_name="/moderate")
    assert (at["decision"], above["decision"]) == ("block", "allow")


def test_the_scan_finds_a_small_region_and_reports_where(client: Client, tmp_path: Path) -> None:
    upload = handle_file(_write(tmp_path, "pasted.png", _pasted_rocket()))
    plain = client.predict(upload, 0.3, 0.7, False, api_name="/moderate")
    scanned = client.predict(upload, 0.3, 0.7, True, api_name="/moderate")
    assert plain["decision"] == "allow" and plain["tiles"] is None
    tiles = scanned["tiles"]
    assert scanned["decision"] == "block" and scanned["nsfw_score"] == tiles["max_score"] > 0.7
    assert tiles["count"] == 9
    x0, y0, x1, y1 = tiles["box"]
    assert x0 <= 600 and y0 <= 460 and x1 >= 900 and y1 >= 660


def test_an_animation_lists_every_sampled_frame(client: Client, tmp_path: Path) -> None:
    frames = [Image.new("RGB", (96, 64), (128, 128, 128)), photo("rocket.jpg").resize((96, 64))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    result = client.predict(handle_file(_write(tmp_path, "clip.gif", buffer.getvalue())), api_name="/moderate")
    assert [frame["index"] for frame in result["frames"]] == [0, 1]
    assert result["nsfw_score"] == max(frame["nsfw_score"] for frame in result["frames"])
    assert result["decision"] == "block"


@pytest.mark.parametrize(
    ("band", "message"),
    [
        ((0.9, 0.2), "The allow threshold (0.9) must not be above the block threshold (0.2)"),
        ((0.3, 1.5), "The block threshold must be between 0 and 1, not 1.5"),
    ],
)
def test_an_impossible_band_is_refused_with_a_message(client: Client, band: tuple, message: str) -> None:
    with pytest.raises(AppError, match=re.escape(message)):
        client.predict(handle_file(str(EXAMPLES / "coffee.png")), *band, api_name="/moderate")


def test_a_bad_upload_gets_the_decoders_message(client: Client, tmp_path: Path) -> None:
    with pytest.raises(AppError, match="Unsupported file: this is a PDF document"):
        client.predict(handle_file(_write(tmp_path, "a.png", b"%PDF-1.7\n")), api_name="/moderate")
    with pytest.raises(AppError, match="No image was given"):
        client.predict(None, api_name="/moderate")


@pytest.mark.parametrize(("example", "size"), [("coffee.png", (600, 400)), ("chelsea.png", (451, 300))])
def test_explain_returns_a_heatmap_with_the_inputs_aspect_ratio(
    app: AppServer, example: str, size: tuple[int, int]
) -> None:
    client = Client(app.url, verbose=False)  # downloads the output file
    path = client.predict(handle_file(str(EXAMPLES / example)), api_name="/explain")
    with Image.open(path) as heatmap:
        assert heatmap.size == size and heatmap.format == "PNG"


def test_the_mcp_server_lists_classify_and_moderate_as_documented_tools(app: AppServer) -> None:
    with urllib.request.urlopen(f"{app.url}/gradio_api/mcp/schema", timeout=30) as response:
        tools = {tool["name"]: tool for tool in json.load(response)}
    assert {"classify", "moderate", "explain", "model_info", "classify_batch", "evaluate"} <= set(tools)
    moderate = tools["moderate"]
    assert moderate["description"].startswith("Decide allow, review or block")
    assert list(moderate["inputSchema"]["properties"]) == ["image", "allow_below", "block_above", "scan"]
    assert "at or above" in moderate["inputSchema"]["properties"]["block_above"]["description"]
    assert tools["classify"]["inputSchema"]["properties"]["threshold"]["description"]


def test_an_mcp_client_calls_moderate_on_an_uploaded_file(app: AppServer) -> None:
    with ROCKET.open("rb") as image:
        [server_path] = httpx.post(
            f"{app.url}/gradio_api/upload", files={"files": ("rocket.jpg", image, "image/jpeg")}, timeout=30
        ).json()

    async def call() -> tuple[list[str], Any]:
        url = f"{app.url}/gradio_api/mcp/"
        async with streamablehttp_client(url) as (read, write, _), ClientSession(read, write) as session:
            await session.initialize()
            tools = [tool.name for tool in (await session.list_tools()).tools]
            arguments = {"image": f"{app.url}/gradio_api/file={server_path}", "allow_below": 0.3, "block_above": 0.7}
            return tools, await session.call_tool("moderate", {**arguments, "scan": False})

    tools, result = run_coroutine(call())
    assert {"classify", "moderate"} <= set(tools)
    assert not result.isError
    assert json.loads(result.content[0].text)["decision"] == "block"  # JSON text, not a Python repr
