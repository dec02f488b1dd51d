"""NSFW image detection demo: build_demo() composes the page from the tabs (each brings its own endpoints) and main()
launches it; `python app.py` serves it."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import gradio as gr

from model import Classifier, ClassifierError, ConfigurationError, Settings, load_settings
from model.runtime.allocator import limit_malloc_arenas
from model.runtime.zerogpu import on_zerogpu
from ui import ModelLoader, Tab, batch, evaluate, live, moderate, rest, single, status, theme
from ui.compression import COMPRESSION
from ui.gradio_fixes import apply as apply_gradio_fixes
from ui.mcp import bind
from ui.upload import refuse_remote_files
from ui.upload_classification import forget_session

__all__ = ["ENDPOINTS", "TABS", "build_demo", "create_loader", "main", "serve"]

logger = logging.getLogger("app")

#: The tabs, in order. To add one, write ui/<name>.py with TITLE, ELEM_ID and build(loader) (see `ui.Tab`) and
#: list the module here (and in ENDPOINTS if it adds endpoints with `add_api(loader)`); nothing else changes.
TABS: tuple[Tab, ...] = (single, batch, evaluate, moderate, live)
#: The modules whose `add_api(loader)` adds the public endpoints, in the order the API page and the MCP tool list show
#: them: /classify, /model_info, /moderate, /explain, /classify_batch, /evaluate.
ENDPOINTS = (single, status, moderate, batch, evaluate)
#: Gradio's upload cache (uploads, previews, reports): every minute, delete files older than 5 minutes (and all of
#: it at shutdown). Under full load uploads arrive at several MB/s, so the folder holds at most about 6 minutes of
#: them; a report or a revealed preview stays downloadable for 5 minutes (docs/RELIABILITY.md).
DELETE_CACHE = (60, 300)
PAGE_TITLE = "NSFW image detection"


def build_demo(loader: ModelLoader, tabs: Sequence[Tab] = TABS) -> gr.Blocks:
    """The whole app around `loader`: header, status panel, one `gr.Tab` per module in `tabs`, the public API.

    Nothing here touches the model, so the page is served while `loader` is still loading. A tab module is any
    object with `TITLE`, `ELEM_ID` and `build(loader)` (see `ui.Tab`); adding one is a one-line change to `TABS`.
    Launch the result with `**theme.launch_options(tabs)` for the theme, stylesheets and page scripts.
    """
    with gr.Blocks(title=PAGE_TITLE, analytics_enabled=False, delete_cache=DELETE_CACHE) as demo:
        gr.HTML(theme.HEADER, elem_id="header", elem_classes="flush", padding=False)
        status.build(loader)
        with gr.Tabs(elem_id="tabs"):
            for tab in tabs:
                with gr.Tab(tab.TITLE, id=tab.ELEM_ID, elem_id=tab.ELEM_ID):
                    tab.build(loader)
        gr.HTML(theme.footer(DELETE_CACHE), elem_id="page-footer", elem_classes="flush", padding=False)
        for module in ENDPOINTS:  # on hidden components of their own, so that no tab's layout can change the API
            module.add_api(loader)
        demo.unload(bind(forget_session, loader))  # a closed page's kept results go with it
    return refuse_remote_files(demo)


def create_loader(
    model: str | None = None, environ: Mapping[str, str] | None = None, device: str | None = None
) -> ModelLoader:
    """Read the settings and start loading in the background; a bad setting becomes the status panel's error.

    On ZeroGPU the model is loaded before this returns: the `spaces` package moves what is on `cuda` when the app
    launches, so the model must be there by then.
    """
    try:
        settings = load_settings(environ, model=model, device=device)
    except ConfigurationError as error:
        logger.error("Invalid setting: %s", error)
        return ModelLoader.failed(error, Settings())
    loader = ModelLoader(partial(Classifier.load, settings), settings).start()
    if on_zerogpu():
        with contextlib.suppress(ClassifierError):  # a failed load is shown in the status panel, as elsewhere
            loader.wait()
    return loader


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Serve the NSFW image detection demo. GRADIO_SERVER_NAME / GRADIO_SERVER_PORT choose the address."
    )
    parser.add_argument("--model", help="Hub id, id@revision or local folder (default: NSFW_MODEL or the Marqo model)")
    parser.add_argument(
        "--device", help="auto, cpu, cuda, cuda:N or mps (default: NSFW_DEVICE, else auto: CUDA if present, else CPU)"
    )
    parser.add_argument(
        "--share",
        action="store_true",
        default=environ.get("GRADIO_SHARE", "").strip().lower() in {"1", "true", "yes"},
        help="ask Gradio for a public share link (also GRADIO_SHARE=1)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser(os.environ).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    limit_malloc_arenas(os.environ)  # before the server's threads: a lower peak under concurrent requests
    # httpx logs every request URL at INFO, and file URLs carry upload names: keep only sizes and timings.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Gradio workarounds (ui/gradio_fixes): /monitoring refresh, cache sweep, lazy sessions, start-up check, MCP.
    apply_gradio_fixes()
    serve(create_loader(args.model, device=args.device), share=args.share)


def serve(loader: ModelLoader, **launch_options: Any) -> gr.Blocks:
    """Build the page around `loader`, queue it and launch it: what `python app.py` runs, and what tests call with
    `prevent_thread_lock=True` to serve it in their own process. `launch_options` go to `Blocks.launch`."""
    demo = build_demo(loader)
    # Requests waiting beyond NSFW_QUEUE_SIZE get "queue full" at once (HTTP 503) rather than waiting minutes.
    demo.queue(max_size=loader.settings.queue_size, default_concurrency_limit=1)
    demo.launch(
        # Zips for the Batch and Evaluate tabs may be larger than one image; each image is still held to its limit.
        max_file_size=max(loader.settings.max_file_bytes, loader.settings.zip_max_total_bytes),
        allowed_paths=[str(single.EXAMPLES_DIR)],
        footer_links=["api"],
        mcp_server=True,  # agents call /classify, /moderate, ... as MCP tools (gradio[mcp])
        # The page: 252 KB as Gradio sends it, 27 KB gzipped. The JSON API (POST /v1/classify, ...; ui.rest) is
        # registered before Gradio's own routes, on the same server and port (a Space serves it too).
        app_kwargs={"middleware": COMPRESSION, "routes": rest.routes(loader)},
        **theme.launch_options(TABS),
        **launch_options,
    )
    return demo


if __name__ == "__main__":
    main()
