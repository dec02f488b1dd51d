"""The app as an agent meets it: a real MCP client (the `mcp` package, streamable HTTP) lists the tools, reads how to
send an image, calls classify and moderate with base64 data URIs, and parses JSON; a URL or a path is refused."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

from testbed.corpus import gif_claiming, heif
from testbed.images import EXAMPLES, encode, photo
from testbed.server import AppServer
from tests.support.loops import run_coroutine, run_on_own_thread

README = Path(__file__).resolve().parents[2] / "README.md"
TOOLS = {"classify", "moderate", "explain", "classify_batch", "evaluate", "model_info"}


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def with_session(app: AppServer, work: Any) -> Any:
    """Run `work(session)` in one MCP session against the app."""

    async def session_run() -> Any:
        async with (
            streamablehttp_client(f"{app.url}/gradio_api/mcp/") as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await work(session)

    return run_coroutine(session_run())


def call(app: AppServer, tool: str, arguments: dict[str, Any]) -> tuple[bool, str]:
    async def work(session: ClientSession) -> tuple[bool, str]:
        result = await session.call_tool(tool, arguments)
        return bool(result.isError), "\n".join(item.text for item in result.content if item.type == "text")

    return with_session(app, work)


@pytest.fixture(scope="module")
def tools(app: AppServer) -> dict[str, Any]:
    async def work(session: ClientSession) -> dict[str, Any]:
        return {tool.name: tool for tool in (await session.list_tools()).tools}

    return with_session(app, work)


def test_the_tools_tell_an_agent_to_send_a_data_uri_not_a_url(tools: dict[str, Any]) -> None:
    assert set(tools) >= TOOLS
    for name in ("classify", "moderate", "explain"):
        image = tools[name].inputSchema["properties"]["image"]
        assert "base64 data URI" in image["format"] and "http or https url" not in json.dumps(image)
        assert "base64 data URI" in tools[name].description and "no URL" in tools[name].description
        assert image["description"].endswith("data URI.")  # Gradio reads one line per argument: keep it whole
    for name in ("classify_batch", "evaluate"):
        assert "http or https url" not in json.dumps(tools[name].inputSchema)


def test_classify_with_a_data_uri_answers_json(app: AppServer) -> None:
    failed, text = call(app, "classify", {"image": data_uri((EXAMPLES / "rocket.jpg").read_bytes(), "image/jpeg")})
    assert not failed, text
    result = json.loads(text)
    assert result["label"] == "NSFW" and result["image"]["format"] == "JPEG"


def test_moderate_with_a_heic_data_uri_answers_json(app: AppServer) -> None:
    image = heif(photo("astronaut.png").resize((320, 240)))
    failed, text = call(app, "moderate", {"image": data_uri(image, "image/heic"), "scan": True})
    assert not failed, text
    result = json.loads(text)
    assert result["decision"] == "allow" and result["image"]["format"] == "HEIF" and result["tiles"]["count"] >= 1


def test_classify_batch_with_data_uris_lists_a_bomb_and_classifies_the_rest(app: AppServer) -> None:
    files = [
        data_uri((EXAMPLES / "rocket.jpg").read_bytes(), "image/jpeg"),
        data_uri(gif_claiming(65535, 65535), "image/gif"),
        data_uri(encode(photo("astronaut.png").resize((160, 120)), "AVIF"), "image/avif"),
    ]
    failed, text = call(app, "classify_batch", {"files": files})
    assert not failed, text
    results = json.loads(text)["results"]
    assert [result.get("label") for result in results] == ["NSFW", None, "SFW"]
    assert results[1]["error"].startswith("Image too large: 65535 x 65535 = 4294.8 MP; the limit is 40 MP")


@pytest.mark.parametrize("image", ["https://example.com/photo.jpg", "/etc/hostname", "photo.jpg"])
def test_a_url_or_a_path_is_refused_with_what_to_send(app: AppServer, image: str) -> None:
    failed, text = call(app, "classify", {"image": image})
    assert failed
    assert "data URI" in text or "never a server path or a URL" in text, text
    assert "Traceback" not in text and "provide a url" not in text


def test_the_readme_mcp_snippet_moderates_a_photo(
    app: AppServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    section = README.read_text(encoding="utf-8").split("### From an LLM agent (MCP)", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    (tmp_path / "photo.jpg").write_bytes((EXAMPLES / "rocket.jpg").read_bytes())
    monkeypatch.chdir(tmp_path)
    snippet = compile(code.replace("http://127.0.0.1:7860/", app.url + "/"), "README.md", "exec")
    run_on_own_thread(exec, snippet, {})  # it calls asyncio.run
    assert capsys.readouterr().out.splitlines()[-1] == "block"  # the stand-in scores rocket.jpg ~0.997
