"""The app's one classifier, loaded in a background thread so the page is up at once; requests wait for it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal

from model import Classifier, ClassifierError, ModelLoadError, ModelNotReadyError, Settings
from model.runtime.loading import ModelInfo

__all__ = ["ModelLoader", "Status"]

logger = logging.getLogger(__name__)

Status = Literal["loading", "ready", "error"]

#: How long a request waits for a model that is still loading before it is told to try again. Loading from the Hub
#: is bounded by `Settings.load_timeout`; this adds room for building the model on a slow, busy CPU.
_EXTRA_WAIT_SECONDS = 120.0


class ModelLoader:
    """Loads the classifier once, in a daemon thread, and hands it to every request.

    Args:
        load: builds the classifier (e.g. `lambda: Classifier.load(settings)`); its `ClassifierError` is kept and
            shown to every request, anything else is logged and replaced by a short generic message.
        settings: the settings the classifier is loaded with (limits and the model source, known before loading).
    """

    def __init__(self, load: Callable[[], Classifier], settings: Settings) -> None:
        self.settings = settings
        self._load = load
        self._done = threading.Event()
        self._classifier: Classifier | None = None
        self._error: ClassifierError | None = None
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()

    @classmethod
    def ready(cls, classifier: Classifier) -> ModelLoader:
        """A loader that already holds `classifier` (for tests and notebooks)."""
        loader = cls(lambda: classifier, classifier.settings)
        loader._finish(classifier, None)
        return loader

    @classmethod
    def failed(cls, error: ClassifierError, settings: Settings) -> ModelLoader:
        """A loader whose load failed before it started (e.g. a setting that cannot be used)."""
        loader = cls(lambda: _raise(error), settings)
        loader._finish(None, error)
        return loader

    def start(self) -> ModelLoader:
        """Start loading in the background (once); returns self."""
        if self._thread is None and not self._done.is_set():
            self._started = time.monotonic()
            self._thread = threading.Thread(target=self._run, name="load model", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        logger.info("Loading %s in the background", self.settings.model)
        try:
            classifier = self._load()
        except ClassifierError as error:
            logger.error("Could not load the model: %s", error)
            self._finish(None, error)
        except Exception:
            logger.exception("Unexpected error while loading %s", self.settings.model)
            self._finish(
                None,
                ModelLoadError(
                    f"Could not load {self.settings.model.display_id}: an unexpected error occurred (see the server "
                    "log). Restart the app; if it persists, set NSFW_MODEL to a local folder holding config.json and "
                    "model.safetensors."
                ),
            )
        else:
            self._finish(classifier, None)

    def _finish(self, classifier: Classifier | None, error: ClassifierError | None) -> None:
        self._classifier, self._error = classifier, error
        self._done.set()

    @property
    def status(self) -> Status:
        if not self._done.is_set():
            return "loading"
        return "ready" if self._classifier is not None else "error"

    @property
    def error(self) -> ClassifierError | None:
        """Why loading failed (None while loading or when ready)."""
        return self._error if self._done.is_set() else None

    @property
    def info(self) -> ModelInfo | None:
        """What was loaded (None until ready)."""
        return self._classifier.info if self._classifier is not None else None

    @property
    def loading_seconds(self) -> float:
        """Seconds since loading started (for the status panel while it is still loading)."""
        return time.monotonic() - self._started

    def wait(self, timeout: float | None = None) -> Classifier:
        """The classifier, waiting while it loads.

        Raises:
            ClassifierError: the load error when loading failed; `ModelNotReadyError` when it is still loading
                after `timeout` seconds (default: the load timeout plus room to build the model).
        """
        if timeout is None:
            timeout = self.settings.load_timeout + _EXTRA_WAIT_SECONDS
        if not self._done.wait(timeout):
            raise ModelNotReadyError(
                f"The model is still loading ({self.loading_seconds:.0f} s so far). Try again in a moment."
            )
        if self._classifier is None:
            error = self._error or ModelLoadError("The model could not be loaded.")
            # A fresh instance per request: re-raising one object would grow its traceback on every request.
            raise type(error)(str(error)) from None
        return self._classifier


def _raise(error: BaseException) -> Classifier:
    raise error
