"""The Gradio workarounds live in ui/gradio_fixes, go in with one apply(), and each still answers an upstream
behaviour: the "upstream" tests here (and in test_sessions, test_launch_check, test_upload_cache, test_monitoring,
test_queue_wakeup) fail once a Gradio upgrade changes that behaviour, marking the workaround that can go."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest
from gradio import networking, route_utils, state_holder
from gradio.mcp import GradioMCPServer
from gradio.queueing import Queue
from mcp import types

from ui import gradio_fixes
from ui.gradio_fixes import launch_check, mcp_tools, queue_wakeup, sessions, upload_cache

FILE_SCHEMA = {
    "type": "object",
    "properties": {"image": {"properties": {"meta": {"default": {"_type": "gradio.FileData"}}}, "type": "object"}},
}
LIST_SCHEMA = {
    "type": "object",
    "properties": {
        "files": {
            "type": "array",
            "items": {"$ref": "#/$defs/FileData"},
            "$defs": {"FileData": FILE_SCHEMA["properties"]["image"]},
        }
    },
}
PIXEL = "data:image/gif;base64,R0lGODlhAQABAAAAACw="
RESULT = {"label": "SFW", "nsfw_score": 0.06, "notes": []}


def upstream_server() -> SimpleNamespace:
    """What Gradio's result formatting reads from its server object."""
    return SimpleNamespace(types=types, get_svg=GradioMCPServer.get_svg, get_image=GradioMCPServer.get_image)


def test_gradio_s_mcp_server_sends_a_dict_result_as_a_python_repr() -> None:
    [content] = mcp_tools.UPSTREAM_POSTPROCESS(upstream_server(), [RESULT], "http://127.0.0.1")
    assert content.text == str(RESULT)
    with pytest.raises(json.JSONDecodeError):
        json.loads(content.text)


def test_gradio_s_mcp_schema_asks_for_a_url_and_refuses_a_path_by_asking_for_one() -> None:
    schema, positions = mcp_tools.UPSTREAM_SCHEMA(None, FILE_SCHEMA)
    assert schema["properties"]["image"]["format"] == "Gradio File Input - a http or https url to a file"
    assert positions == [["image"]]
    with pytest.raises(ValueError, match=r"provide a url \('http://...'"):
        mcp_tools.UPSTREAM_CONVERT(None, {"image": "/etc/hostname"}, positions)
    assert "upload_file_to_gradio" in mcp_tools.UPSTREAM_HOW_TO.fget(None)


def test_gradio_s_mcp_schema_for_a_list_of_files_points_at_nothing_and_its_data_uris_stay_strings() -> None:
    schema, positions = mcp_tools.UPSTREAM_SCHEMA(None, LIST_SCHEMA)
    assert schema["properties"]["files"]["items"]["$ref"] == "#/$defs/FileData" and "$defs" not in schema
    assert ["files", "items"] in positions
    assert mcp_tools.UPSTREAM_CONVERT(None, {"files": [PIXEL]}, positions) == {"files": [PIXEL]}


def test_the_fixed_mcp_server_sends_json_and_describes_data_uris() -> None:
    [content] = mcp_tools.postprocess_output_data(upstream_server(), [RESULT], "http://127.0.0.1")  # type: ignore[arg-type]
    assert json.loads(content.text) == RESULT
    schema, positions = mcp_tools.simplify_filedata_schema(None, FILE_SCHEMA)  # type: ignore[arg-type]
    assert schema["properties"]["image"]["format"] == mcp_tools.FILE_FORMAT
    with pytest.raises(ValueError, match="Send the file as a base64 data URI"):
        mcp_tools.convert_strings_to_filedata(None, {"image": "/etc/hostname"}, positions)  # type: ignore[arg-type]
    schema, positions = mcp_tools.simplify_filedata_schema(None, LIST_SCHEMA)  # type: ignore[arg-type]
    assert '"$ref"' not in json.dumps(schema)
    assert schema["properties"]["files"]["items"]["format"] == mcp_tools.FILE_FORMAT


def test_apply_installs_every_fix_and_a_second_call_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_holder.SessionState, "__init__", sessions.UPSTREAM_INIT)
    monkeypatch.setattr(networking, "url_ok", launch_check.UPSTREAM_URL_OK)
    monkeypatch.setattr(route_utils, "delete_files_created_by_app", upload_cache.UPSTREAM_SWEEP)
    for name in ("simplify_filedata_schema", "convert_strings_to_filedata", "postprocess_output_data"):
        monkeypatch.setattr(GradioMCPServer, name, getattr(GradioMCPServer, name))
    monkeypatch.setattr(GradioMCPServer, "_file_data_tool_description", mcp_tools.UPSTREAM_HOW_TO)
    monkeypatch.delenv("GRADIO_ANALYTICS_CACHE_FREQUENCY", raising=False)
    for name in ("start_processing", "push", "process_events", "close"):
        monkeypatch.setattr(Queue, name, getattr(queue_wakeup, f"UPSTREAM_{name.upper()}"))
    for _ in range(2):
        gradio_fixes.apply()
        assert state_holder.SessionState.__init__ is sessions._lazy_init
        assert networking.url_ok is launch_check.page_answers
        assert route_utils.delete_files_created_by_app is upload_cache.delete_old_uploads
        assert GradioMCPServer.postprocess_output_data is mcp_tools.postprocess_output_data
        assert GradioMCPServer._file_data_tool_description == mcp_tools.FILE_HOW_TO
        assert os.environ["GRADIO_ANALYTICS_CACHE_FREQUENCY"] == "100"
        assert Queue.start_processing is queue_wakeup.start_processing
        assert Queue.push is queue_wakeup._push and Queue.process_events is queue_wakeup._process_events
        assert Queue.close is queue_wakeup._close
