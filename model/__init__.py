"""NSFW image classification with Marqo/nsfw-image-detection-384: loading, safe decoding, batched inference.

The model's libraries (torch, timm) load on first use of `Classifier`, `load_model` and their kin, so that what
needs no model (`screen`'s driver, reading results, `--help`) starts in a fraction of a second.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .config import DEFAULT_MODEL, ModelSource, Settings, load_settings, parse_model_source
from .errors import (
    CacheNotWritableError,
    ClassifierError,
    ConfigurationError,
    CorruptImageError,
    CorruptWeightsError,
    DiskFullError,
    DownloadIncompleteError,
    EmptyFileError,
    HubServerError,
    HubTimeoutError,
    HubUnreachableError,
    ImageTooLargeError,
    IncompatibleModelError,
    InvalidImageError,
    ModelAccessError,
    ModelLoadError,
    ModelNotFoundError,
    ModelNotReadyError,
    RevisionNotFoundError,
    UnsupportedFormatError,
)
from .inputs.images import DecodedImage, ImageLimits, decode_image
from .runtime import zerogpu  # noqa: F401  (first: `spaces` must be imported before anything touches CUDA)
from .tasks.pipeline import FileResult, classify_sources
from .thresholds import NSFW, SFW, check_band, check_threshold, decide, verdict

if TYPE_CHECKING:
    from .runtime.classifier import Classifier, Prediction, Runtime
    from .runtime.loading import ModelInfo, load_model

#: Names whose modules import torch, loaded when first asked for.
_LAZY = {
    "Classifier": "runtime.classifier",
    "Prediction": "runtime.classifier",
    "Runtime": "runtime.classifier",
    "ModelInfo": "runtime.loading",
    "load_model": "runtime.loading",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_MODEL",
    "NSFW",
    "SFW",
    "CacheNotWritableError",
    "Classifier",
    "ClassifierError",
    "ConfigurationError",
    "CorruptImageError",
    "CorruptWeightsError",
    "DecodedImage",
    "DiskFullError",
    "DownloadIncompleteError",
    "EmptyFileError",
    "FileResult",
    "HubServerError",
    "HubTimeoutError",
    "HubUnreachableError",
    "ImageLimits",
    "ImageTooLargeError",
    "IncompatibleModelError",
    "InvalidImageError",
    "ModelAccessError",
    "ModelInfo",
    "ModelLoadError",
    "ModelNotFoundError",
    "ModelNotReadyError",
    "ModelSource",
    "Prediction",
    "RevisionNotFoundError",
    "Runtime",
    "Settings",
    "UnsupportedFormatError",
    "check_band",
    "check_threshold",
    "classify_sources",
    "decide",
    "decode_image",
    "load_model",
    "load_settings",
    "parse_model_source",
    "verdict",
]
