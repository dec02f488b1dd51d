"""Endpoint functions as MCP tools: Gradio names each tool after its function and documents it from the docstring."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from .loader import ModelLoader

__all__ = ["bind"]


def bind(function: Callable[..., Any], loader: ModelLoader, name: str | None = None) -> Callable[..., Any]:
    """`function` with the loader bound, named `name` (default: its own name), keeping its docstring and type hints.

    Gradio's MCP server names a tool after the endpoint function and reads each parameter's description from its
    docstring's `Args:`; a bare `functools.partial` would be listed as a tool called "partial" with undocumented
    inputs. Gradio also reads the type hints to pass a `gr.Request` (the caller's session), which it cannot see
    through a `functools.partial`.
    """

    @functools.wraps(function)
    def bound(*args: Any, **kwargs: Any) -> Any:
        return function(loader, *args, **kwargs)

    signature = inspect.signature(function)
    bound.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])  # type: ignore[attr-defined]
    bound.__name__ = name or function.__name__
    return bound
