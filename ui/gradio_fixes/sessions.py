"""Gradio's per-session copy of the page config, built only when something reads it.

Gradio 6.31 gives every new session a `SessionState` whose constructor renders the config of every block on the
page (146 here: about 15 ms of CPU, holding the event loop). Every plain-HTTP API call (`POST
/gradio_api/call/classify`) is a new session, so each call paid it, and each of the up to 10,000 sessions Gradio
keeps held its own copy. The copy is only read to make a deep link (`/gradio_api/deep_link`, which this app does not
offer) or after a component update; the replacement below renders a block's config the first time it is read,
which gives the same configs (tested) for none of the cost.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr
from gradio import state_holder

__all__ = ["UPSTREAM_INIT", "LazyConfigs", "apply"]


class LazyConfigs(dict):
    """`SessionState.config_values`, rendered on demand: a key read or iterated over gets the config that
    `SessionState.__init__` would have rendered for it; keys written by Gradio (after updates) are kept as written."""

    def __init__(self, session: state_holder.SessionState, blocks: gr.Blocks) -> None:
        super().__init__()
        self._session = session
        self._page_ids = blocks.blocks
        self._complete = False

    def _render(self, key: int) -> bool:
        config = self._session.blocks_config
        if key in self._page_ids and key in config.blocks:
            super().__setitem__(key, config.config_for_block(key, [], config.blocks[key]))
            return True
        return False

    def _render_all(self) -> None:
        """Every block's config, in page order as Gradio's own constructor has them, written ones kept as written."""
        if self._complete:
            return
        self._complete = True
        written = dict(super().items())
        super().clear()
        for key in list(self._session.blocks_config.blocks):
            if key in written:
                super().__setitem__(key, written.pop(key))
            else:
                self._render(key)
        for key, config in written.items():
            super().__setitem__(key, config)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or (isinstance(key, int) and self._render(key))

    def __getitem__(self, key: int) -> Any:
        if not super().__contains__(key) and not self._render(key):
            raise KeyError(key)
        return super().__getitem__(key)

    def get(self, key: int, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[int]:
        self._render_all()
        return super().__iter__()

    def __len__(self) -> int:
        self._render_all()
        return super().__len__()

    def keys(self):
        self._render_all()
        return super().keys()

    def values(self):
        self._render_all()
        return super().values()

    def items(self):
        self._render_all()
        return super().items()


#: Gradio's own constructor, kept for `apply` and for the test that shows why this module exists.
UPSTREAM_INIT = state_holder.SessionState.__init__


def _lazy_init(self: state_holder.SessionState, blocks: gr.Blocks) -> None:
    UPSTREAM_INIT(self, _NoBlocks(blocks))
    self.config_values = LazyConfigs(self, blocks)


class _NoBlocks:
    """`blocks` as `SessionState.__init__` sees it, with an empty `blocks` mapping so that it renders nothing."""

    def __init__(self, blocks: gr.Blocks) -> None:
        self.default_config = blocks.default_config
        self.blocks: dict[int, Any] = {}


def apply() -> None:
    """Have every new Gradio session render its config on demand (see the module's docstring)."""
    state_holder.SessionState.__init__ = _lazy_init
