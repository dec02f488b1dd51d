"""The status panel and /model_info: loading / ready (model id, revision, labels, input size, load time, device,
engine) / error."""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from .controls import add_endpoint
from .loader import ModelLoader
from .mcp import bind

__all__ = ["add_api", "build", "configured_id", "model_info", "status_html"]

#: Seconds between refreshes of the panel while the model loads (the timer stops once it is ready or failed).
POLL_SECONDS = 1.0


def configured_id(loader: ModelLoader) -> str:
    """The model as configured, before it is loaded: its displayed id (a Hub id or a local folder's name), with
    @revision when a Hub revision is pinned."""
    source = loader.settings.model
    pinned = f"@{source.revision}" if source.revision and not source.is_local else ""
    return f"{source.display_id}{pinned}"


def _chip(name: str, value: str, title: str | None = None, wide: bool = False) -> str:
    tooltip = f' title="{html.escape(title)}"' if title else ""
    kind = "chip chip-wide" if wide else "chip"
    return (
        f'<span class="{kind}"{tooltip}><span class="chip-name">{html.escape(name)}</span>'
        f'<span class="chip-value">{html.escape(value)}</span></span>'
    )


def status_html(loader: ModelLoader) -> str:
    """The panel's HTML for the loader's current state."""
    status = loader.status
    if status == "loading":
        return (
            '<div class="status status-loading" data-status="loading" role="status">'
            '<span class="status-dot"></span>'
            f"<span><b>Loading the model</b> {html.escape(configured_id(loader))} "
            f'<span class="muted">({loader.loading_seconds:.0f} s)</span>. '
            "You can add an image now: it is classified as soon as the model is ready.</span></div>"
        )
    if status == "error":
        message = html.escape(str(loader.error))
        return (
            '<div class="status status-error" data-status="error" role="alert">'
            '<span class="status-dot"></span>'
            f'<div><b>The model could not be loaded.</b> <span class="status-message">{message}</span></div></div>'
        )
    info = loader.info
    assert info is not None
    runtime = loader.wait(0).runtime
    revision = info.revision or "unknown"
    short_revision = revision[:7] if len(revision) == 40 else revision
    chips = [
        _chip("Model", info.display_id, info.architecture, wide=True),
        _chip("Revision", short_revision, revision),
        _chip("Labels", " · ".join(info.labels)),
        _chip("Input", " × ".join(str(side) for side in info.input_size[1:])),
        _chip("Loaded in", f"{info.load_seconds:.1f} s"),
        _chip("Device", runtime.device_name, "ZeroGPU (a GPU lent per request)" if runtime.zerogpu else runtime.device),
        _chip("Engine", f"{runtime.engine} · {runtime.precision}", f"batches of up to {runtime.batch_size} images"),
    ]
    notes = [text for text in (info.note, runtime.note) if text]
    note = "".join(f'<div class="status-note">{html.escape(text)}</div>' for text in notes)
    # On a phone the details fold behind the toggle (ui/style.css shows the model id in the title line instead).
    return (
        '<div class="status status-ready" data-status="ready" role="status">'
        '<span class="status-dot"></span><div class="status-body"><div class="status-head">'
        f'<b class="status-title">Model ready</b><span class="status-model">{html.escape(info.display_id)}</span>'
        '<button type="button" class="status-toggle" aria-expanded="false" aria-controls="status-details">'
        "Details</button></div>"
        f'<div class="chips" id="status-details">{"".join(chips)}</div>{note}</div></div>'
    )


# The details toggle (shown on phones only) opens and closes the chips; the panel stops refreshing once ready.
_TOGGLE_DETAILS = (
    "element.addEventListener('click', (event) => {"
    " const toggle = event.target.closest('.status-toggle'); if (!toggle) return;"
    " const open = toggle.closest('.status').classList.toggle('status-open');"
    " toggle.setAttribute('aria-expanded', String(open)); toggle.textContent = open ? 'Hide details' : 'Details'; });"
)


def build(loader: ModelLoader) -> gr.HTML:
    """Lay out the panel; it refreshes itself while the model loads and stops polling once it is ready."""
    panel = gr.HTML(
        status_html(loader), elem_id="model-status", elem_classes="flush", padding=False, js_on_load=_TOGGLE_DETAILS
    )
    timer = gr.Timer(POLL_SECONDS, active=True)

    def refresh() -> tuple[str, gr.Timer]:
        return status_html(loader), gr.Timer(active=loader.status == "loading")

    # No triggers and no inputs: runs when a page loads; then the timer ticks until the model is ready or failed.
    gr.on(None, refresh, None, [panel, timer], show_progress="hidden", queue=False, api_visibility="private")
    timer.tick(refresh, None, [panel, timer], show_progress="hidden", queue=False, api_visibility="private")
    return panel


def model_info(loader: ModelLoader) -> dict[str, Any]:
    """The model's state: {"status": "loading"|"ready"|"error", "id", "revision", "labels", "input_size", "error",
    "note", "runtime"}; "note" says why the model came from the local cache (Hub down, offline), else null;
    "runtime" (null until ready) is {"device", "device_name" (e.g. GPU name and memory), "engine", "precision",
    "batch_size", "zerogpu", "engine_note" (why the engine asked for is not running, else null)}."""
    info = loader.info
    if info is None:
        error = loader.error
        return {
            "status": loader.status,
            "id": configured_id(loader),
            "revision": loader.settings.model.revision,
            "labels": [],
            "input_size": None,
            "error": str(error) if error is not None else None,
            "note": None,
            "runtime": None,
        }
    return {
        "status": "ready",
        "id": info.display_id,
        "revision": info.revision,
        "labels": list(info.labels),
        "input_size": list(info.input_size),
        "error": None,
        "note": info.note,
        "runtime": loader.wait(0).runtime.to_json(),
    }


def add_api(loader: ModelLoader) -> None:
    """`/model_info` (no inputs) on a hidden component of its own."""
    with gr.Group(visible=False):
        info = gr.JSON(label="model info")
    add_endpoint(bind(model_info, loader), None, "model_info", output=info, description=model_info.__doc__)
