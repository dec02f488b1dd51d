"""Endpoint functions as MCP tools: Gradio names each tool after its function and documents it from the docstring."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from .loader import ModelLoader

__all__ = ["bind"]


def bind(function: Callable[..., Any], loader: ModelLoader, name: str | None = None) -> Callable[..., Any]:
    """`function` with the loader bound, named `name` (default: its own name), keeping its docstring.

    Gradio's MCP server names a tool after the endpoint function and reads each parameter's description from its
    docstring's `Args:`; a bare `functools.partial` would be listed as a tool called "partial" with undocumented
    inputs.
    """
    bound = partial(function, loader)
    bound.__name__ = name or function.__name__  # type: ignore[attr-defined]
    bound.__doc__ = function.__doc__
    return bound
