"""NSFW image classification with Marqo/nsfw-image-detection-384: loading, safe decoding, batched inference."""

from .batch import FileResult, classify_sources
from .config import DEFAULT_MODEL, ModelSource, Settings, load_settings, parse_model_source
from .errors import (
    ClassifierError,
    ConfigurationError,
    CorruptImageError,
    CorruptWeightsError,
    DiskFullError,
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
from .images import DecodedImage, ImageLimits, decode_image
from .inference import Classifier, Prediction
from .loading import ModelInfo, load_model
from .thresholds import NSFW, SFW, check_band, check_threshold, decide, verdict

__all__ = [
    "DEFAULT_MODEL",
    "NSFW",
    "SFW",
    "Classifier",
    "ClassifierError",
    "ConfigurationError",
    "CorruptImageError",
    "CorruptWeightsError",
    "DecodedImage",
    "DiskFullError",
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
