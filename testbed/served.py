"""The app served by the calling process (`app.serve` with `prevent_thread_lock`) around a classifier it holds, so
that tests and benchmarks read what the code counts (`Classifier.forward_passes`) instead of a log."""

from __future__ import annotations

from typing import Any

import gradio as gr

from model import Classifier
from testbed.server import call_endpoint, free_port
from ui import ModelLoader
from ui.gradio_fixes import apply as apply_gradio_fixes

__all__ = ["ServedApp"]


class ServedApp:
    """The whole app (`app.build_demo` with every tab and endpoint, launched as `python app.py` launches it) on a free
    loopback port of this process.

    Args:
        classifier: the model it serves; give it a classifier of its own, so that nothing else shares its result
            cache or its counts.
        loader: serve this loader instead of one that holds `classifier` (a page whose model is still loading,
            failed, or was loaded with a note).
    """

    def __init__(self, classifier: Classifier, loader: ModelLoader | None = None) -> None:
        self.classifier = classifier
        self.loader = loader if loader is not None else ModelLoader.ready(classifier)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.demo: gr.Blocks | None = None

    def __enter__(self) -> ServedApp:
        import app  # the repository's app.py: imported here, so that importing testbed never builds a page

        apply_gradio_fixes()
        self.demo = app.serve(
            self.loader,
            server_name="127.0.0.1",
            server_port=self.port,
            prevent_thread_lock=True,
            quiet=True,
        )
        return self

    def __exit__(self, *_: object) -> None:
        if self.demo is not None:
            self.demo.close()

    def model_calls(self) -> int:
        """Forward passes the served classifier has run so far (results reused from the cache are not passes)."""
        return self.classifier.forward_passes

    def images_scored(self) -> int:
        """Images the served classifier has scored so far (each row of every forward pass)."""
        return self.classifier.images_classified

    def model_info(self) -> dict[str, Any]:
        """/model_info through Gradio's HTTP call API."""
        return call_endpoint(self.url, "model_info", [])
