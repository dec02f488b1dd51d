"""The demo's user interface: one module per tab (each with TITLE and build(loader)), plus the pieces they share."""

from __future__ import annotations

from typing import Protocol

from .loader import ModelLoader

__all__ = ["ModelLoader", "Tab"]


class Tab(Protocol):
    """What a tab module provides; `app.build_demo` opens a `gr.Tab(TITLE)` and calls `build(loader)` inside it.

    `build` lays out the tab and wires its events. It must not block or touch the model: handlers call
    `loader.wait()` when they run, so the page is up while the model loads.
    """

    TITLE: str
    ELEM_ID: str
    #: The sliders a link to the tab carries: address parameter -> slider elem_id (ui/page_state.js).
    LINKED_SLIDERS: dict[str, str]
    #: Linked sliders shown only in one choice of a radio: parameter -> (radio elem_id, choice); a link with that
    #: parameter makes that choice first. Empty for most tabs.
    LINKED_MODES: dict[str, tuple[str, str]]

    def build(self, loader: ModelLoader) -> None: ...
