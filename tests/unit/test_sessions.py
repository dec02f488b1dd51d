"""A new Gradio session no longer renders the whole page's config up front, yet reads the same configs as before."""

from __future__ import annotations

import json
from collections.abc import Iterator

import gradio as gr
import pytest
from gradio import state_holder
from gradio.blocks import BlocksConfig

from ui.gradio_fixes.sessions import UPSTREAM_INIT
from ui.gradio_fixes.sessions import apply as make_sessions_lazy

EAGER_INIT = UPSTREAM_INIT


@pytest.fixture
def lazy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Sessions made lazy for one test; Gradio's own constructor is put back afterwards."""
    monkeypatch.setattr(state_holder.SessionState, "__init__", EAGER_INIT)
    make_sessions_lazy()
    yield


def eager_session(demo: gr.Blocks) -> state_holder.SessionState:
    session = state_holder.SessionState.__new__(state_holder.SessionState)
    EAGER_INIT(session, demo)
    return session


def as_json(session: state_holder.SessionState) -> str:
    return json.dumps(list(session.components), default=str, sort_keys=True)


def test_a_new_session_renders_no_block_config(demo: gr.Blocks, lazy: None, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[int] = []
    render = BlocksConfig.config_for_block

    def counting(self: BlocksConfig, block_id: int, *args: object) -> object:
        rendered.append(block_id)
        return render(self, block_id, *args)

    monkeypatch.setattr(BlocksConfig, "config_for_block", counting)
    state_holder.StateHolder.__getitem__(_holder(demo), "a new API caller")
    assert rendered == []


def test_gradio_s_own_session_renders_every_block_config(demo: gr.Blocks, monkeypatch: pytest.MonkeyPatch) -> None:
    """Why ui.gradio_fixes.sessions exists. If a Gradio upgrade renders lazily itself, this fails: the fix can go."""
    rendered: list[int] = []
    render = BlocksConfig.config_for_block

    def counting(block_id: int, *args: object) -> object:
        rendered.append(block_id)
        return render(block_id, *args)

    monkeypatch.setattr(BlocksConfig, "config_for_block", staticmethod(counting))
    eager_session(demo)
    assert len(rendered) >= len(demo.blocks) > 100


def _holder(demo: gr.Blocks) -> state_holder.StateHolder:
    holder = state_holder.StateHolder()
    holder.set_blocks(demo)
    return holder


def test_a_lazy_session_reads_the_same_configs_as_gradio_s_own(demo: gr.Blocks, lazy: None) -> None:
    session = state_holder.SessionState(demo)
    assert len(demo.blocks) > 100  # the whole page, every tab
    assert as_json(session) == as_json(eager_session(demo))


def test_an_updated_component_reads_the_same_as_in_gradio_s_own_session(demo: gr.Blocks, lazy: None) -> None:
    """What a handler's `gr.update(...)` does to a session: the block is replaced and the new value recorded."""
    # The page's last text block (the footer): an update must not move it in the page order either.
    textbox = [block for block in demo.blocks.values() if isinstance(block, gr.Textbox | gr.HTML)][-1]
    sessions = [state_holder.SessionState(demo), eager_session(demo)]
    for session in sessions:
        session[textbox._id] = type(textbox)(value="updated", visible=False)
        session._update_value_in_config(textbox._id, "updated")
    lazy_session, eager = sessions
    assert as_json(lazy_session) == as_json(eager)
    assert '"updated"' in as_json(lazy_session)
