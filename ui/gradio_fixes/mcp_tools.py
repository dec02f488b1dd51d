"""Gradio's MCP tools, described as this server takes files and answering in JSON.

Gradio 6.31's MCP server (`gradio.mcp.GradioMCPServer`) tells an agent that a file parameter is "a http or https
url to a file" and appends a sentence about an `upload_file_to_gradio` tool; this server fetches no URL (only a
link to a file already uploaded to it is read), so an agent following the schema is refused. A server path gets
"provide a url ('http://...')", the opposite of what works. And a tool's dict result is sent as `str(result)`, a
Python repr (`{'label': 'NSFW', ...}`) that JSON parsers reject. The replacements below describe the one way that
always works, a base64 `data:` URI, refuse anything else with a message that says so, and send dicts and lists
as JSON text. A list of files (`classify_batch`) had a schema whose `$ref` pointed at nothing, so the MCP server's
own validation refused every call, and its data URIs were never turned into files; both are fixed here. File
outputs (images) are left to Gradio.
"""

from __future__ import annotations

import json
from typing import Any

from gradio import processing_utils
from gradio.mcp import GradioMCPServer
from gradio_client import utils as client_utils

__all__ = [
    "FILE_FORMAT",
    "FILE_HOW_TO",
    "NOT_A_DATA_URI",
    "UPSTREAM_CONVERT",
    "UPSTREAM_HOW_TO",
    "UPSTREAM_POSTPROCESS",
    "UPSTREAM_SCHEMA",
    "apply",
]

#: The `format` of every file parameter in a tool's input schema.
FILE_FORMAT = "a base64 data URI of the file, e.g. data:image/jpeg;base64,/9j/4AAQ...; no URL or server path is read"
#: Appended to the description of every tool that takes a file.
FILE_HOW_TO = (
    " Send each file as a base64 data URI (data:<mime type>;base64,<the file's bytes in base64>): the server reads"
    " no URL and no server path. The result is JSON text."
)
#: The refusal of a file parameter that is neither a data URI nor a link to a file uploaded to this server.
NOT_A_DATA_URI = (
    "Send the file as a base64 data URI (data:image/jpeg;base64,...): this server reads no URL and no server path."
)
_UPSTREAM_FORMAT = "Gradio File Input - a http or https url to a file"

#: Gradio's own methods, kept for `apply` and for the tests that show why this module exists.
UPSTREAM_SCHEMA = GradioMCPServer.simplify_filedata_schema
UPSTREAM_CONVERT = GradioMCPServer.convert_strings_to_filedata
UPSTREAM_POSTPROCESS = GradioMCPServer.postprocess_output_data
UPSTREAM_HOW_TO = GradioMCPServer._file_data_tool_description


def _with_format(node: Any) -> Any:
    """File parameters described as data URIs; the `$ref` Gradio leaves on a list's items (which points at a
    `$defs` that is not at the schema's root, so a validating MCP server refuses every call) is dropped."""
    if isinstance(node, dict):
        if node.get("format") == _UPSTREAM_FORMAT:
            node = {key: value for key, value in node.items() if key != "$ref"} | {"format": FILE_FORMAT}
        return {key: _with_format(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_with_format(item) for item in node]
    return node


def _without_defs(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _without_defs(value) for key, value in node.items() if key != "$defs"}
    if isinstance(node, list):
        return [_without_defs(item) for item in node]
    return node


def simplify_filedata_schema(
    self: GradioMCPServer, schema: dict[str, Any]
) -> tuple[dict[str, Any], list[list[str | int]]]:
    """Gradio's schema with every file parameter described as a data URI (and no dangling references)."""
    simplified, positions = UPSTREAM_SCHEMA(self, schema)
    described = _with_format(simplified)
    if '"$ref"' not in json.dumps(described):
        described = _without_defs(described)
    return described, positions


def _concrete(position: list[str | int], value: Any) -> list[list[str | int]]:
    """`position` from the schema (a list's elements appear as "items") as the paths of the values sent."""
    if not position:
        return [[]]
    head, rest = position[0], position[1:]
    if head == "items" and isinstance(value, list):
        return [[index, *tail] for index, item in enumerate(value) for tail in _concrete(rest, item)]
    if isinstance(value, dict) and head in value:
        return [[head, *tail] for tail in _concrete(rest, value[head])]
    return [position]


def convert_strings_to_filedata(self: GradioMCPServer, value: Any, filedata_positions: list[list[str | int]]) -> Any:
    """Gradio's conversion of a data URI (or a URL, which the app's inputs then refuse unless it links to one of
    its own uploads) into a file, also for each element of a list of files (Gradio matches the schema's "items"
    against the list's indices, so none was converted); anything else is refused with `NOT_A_DATA_URI`."""
    positions = [path for position in filedata_positions for path in _concrete(position, value)]
    try:
        return UPSTREAM_CONVERT(self, value, positions)
    except ValueError as error:
        if str(error).startswith("Invalid file data format"):
            raise ValueError(NOT_A_DATA_URI) from None
        raise


def postprocess_output_data(self: GradioMCPServer, data: Any, root_url: str) -> list[Any]:
    """Gradio's tool result, with each dict or list output (a gr.JSON) as JSON text instead of a Python repr."""
    contents: list[Any] = []
    for output in data:
        if isinstance(output, dict | list) and not client_utils.is_file_obj_with_meta(output):
            output = processing_utils.add_root_url(output, root_url, None)
            contents.append(self.types.TextContent(type="text", text=json.dumps(output, ensure_ascii=False)))
        else:
            contents.extend(UPSTREAM_POSTPROCESS(self, [output], root_url))
    return contents


def apply() -> None:
    """Install the three replacements on Gradio's MCP server class (see the module's docstring)."""
    GradioMCPServer.simplify_filedata_schema = simplify_filedata_schema  # type: ignore[method-assign]
    GradioMCPServer.convert_strings_to_filedata = convert_strings_to_filedata  # type: ignore[method-assign]
    GradioMCPServer.postprocess_output_data = postprocess_output_data  # type: ignore[method-assign]
    GradioMCPServer._file_data_tool_description = FILE_HOW_TO  # type: ignore[assignment]
