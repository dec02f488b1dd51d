"""Controls that several tabs lay out and wire the same way: the threshold and band sliders, the blurred preview
gallery, a long run whose end is announced, a re-render from stored scores, and the hidden components behind a
named API endpoint."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr
from gradio.components import Component

from model.thresholds import DEFAULT_ALLOW_BELOW, DEFAULT_BLOCK_ABOVE, DEFAULT_THRESHOLD

from .report_files import gallery_height

__all__ = [
    "GALLERY_COLUMNS",
    "add_endpoint",
    "api_threshold",
    "band_sliders",
    "files_input",
    "gallery_update",
    "preview_gallery",
    "rerender_on",
    "run_then_announce",
    "threshold_slider",
]

#: Thumbnails a row in the Batch and Evaluate galleries.
GALLERY_COLUMNS = 5


def files_input(label: str, elem_id: str, height: int) -> gr.File:
    """The Batch and Evaluate tabs' drop zone for many files."""
    return gr.File(file_count="multiple", label=label, elem_id=elem_id, height=height)


def threshold_slider(elem_id: str, info: str, *, step: float = 0.01, visible: bool = True) -> gr.Slider:
    """The tab's "Threshold" slider (0 to 1, at the default); `info` says what moving it does."""
    return gr.Slider(
        0.0, 1.0, value=DEFAULT_THRESHOLD, step=step, label="Threshold", info=info, visible=visible, elem_id=elem_id
    )


def band_sliders(
    allow_id: str,
    block_id: str,
    allow_below: float = DEFAULT_ALLOW_BELOW,
    block_above: float = DEFAULT_BLOCK_ABOVE,
) -> tuple[gr.Slider, gr.Slider]:
    """The review band's "Allow below" and "Block at or above" sliders."""
    return (
        gr.Slider(0.0, 1.0, value=allow_below, step=0.01, label="Allow below", elem_id=allow_id),
        gr.Slider(0.0, 1.0, value=block_above, step=0.01, label="Block at or above", elem_id=block_id),
    )


def preview_gallery(label: str, elem_id: str) -> gr.Gallery:
    """A hidden gallery of blurred thumbnails, shown by `gallery_update`."""
    return gr.Gallery(
        label=label,
        show_label=False,
        columns=GALLERY_COLUMNS,
        fit_columns=False,
        object_fit="cover",
        visible=False,
        elem_id=elem_id,
    )


def gallery_update(gallery: list[Any]) -> gr.Gallery:
    """Show `gallery` ((image, caption) pairs) at the height its rows need, or hide it when empty."""
    return gr.Gallery(value=gallery, visible=bool(gallery), height=gallery_height(len(gallery), GALLERY_COLUMNS))


def run_then_announce(
    button: gr.Button,
    run: Callable[..., Any],
    inputs: Sequence[Component],
    state: gr.State,
    views: Sequence[Component],
    announce: Callable[..., str],
    announce_inputs: Sequence[Component],
    announcement: gr.HTML,
) -> None:
    """`button` runs `run` (its progress over the first view), then `announce` says the outcome in the live region."""
    button.click(
        run,
        list(inputs),
        [state, *views],
        api_visibility="private",
        show_progress="full",
        show_progress_on=[views[0]],
    ).then(announce, list(announce_inputs), announcement, api_visibility="private", queue=False, show_progress="hidden")


def rerender_on(
    triggers: Sequence[Any], render: Callable[..., Any], inputs: Sequence[Component], views: Sequence[Component]
) -> None:
    """Re-draw `views` from stored results when a control moves (the model does not run); the latest move wins."""
    gr.on(
        list(triggers),
        render,
        list(inputs),
        list(views),
        api_visibility="private",
        show_progress="hidden",
        trigger_mode="always_last",
    )


def api_threshold() -> gr.Slider:
    """The `threshold` input of an endpoint, made in the caller's hidden group before `add_endpoint`."""
    return gr.Slider(0.0, 1.0, value=DEFAULT_THRESHOLD, label="threshold")


def add_endpoint(
    function: Callable[..., Any],
    inputs: Sequence[Component] | None,
    api_name: str,
    *,
    output: Component | None = None,
    description: str | None = None,
    **options: Any,
) -> None:
    """Expose `function` as `/api_name` on hidden components of its own, so that no layout can change the API.

    `inputs` are hidden components the caller made (inside `gr.Group(visible=False)`); the answer goes to `output`,
    by default a hidden JSON "result"; `description` is the API page's text (Gradio's default: the docstring).
    `options` are passed to `gr.on` (`preprocess`, `concurrency_limit`).
    """
    if output is None:
        with gr.Group(visible=False):
            output = gr.JSON(label="result")
    if description is not None:
        options["api_description"] = description
    gr.on([], function, None if inputs is None else list(inputs), output, api_name=api_name, **options)
