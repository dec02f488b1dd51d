"""Every error the classifier raises: one type per failure kind, each with a message that says what to do."""

from __future__ import annotations

import logging
import traceback

__all__ = [
    "FILE_FAILED_MESSAGE",
    "ArchiveError",
    "ArchiveTooLargeError",
    "CacheNotWritableError",
    "ClassifierError",
    "ClusterAuthError",
    "ClusterUnreachableError",
    "ConfigurationError",
    "CorruptArchiveError",
    "CorruptImageError",
    "CorruptWeightsError",
    "DiskFullError",
    "DownloadIncompleteError",
    "EmptyArchiveError",
    "EmptyFileError",
    "EvaluationError",
    "HubServerError",
    "HubTimeoutError",
    "HubUnreachableError",
    "ImageTooLargeError",
    "IncompatibleModelError",
    "InvalidImageError",
    "JobError",
    "JobFailedError",
    "JobStalledError",
    "ManifestError",
    "MissingLabelsError",
    "ModelAccessError",
    "ModelLoadError",
    "ModelNotFoundError",
    "ModelNotReadyError",
    "NotUploadedError",
    "ResultsFileError",
    "ResultsFileTooLargeError",
    "RevisionNotFoundError",
    "SingleClassError",
    "SourceError",
    "UnsafeArchiveError",
    "UnsupportedFormatError",
    "log_file_failure",
]

#: What a user sees for one file that failed unexpectedly (the traceback goes to the log, without the file).
FILE_FAILED_MESSAGE = "This file could not be read: something unexpected went wrong. Try another file or re-export it."


def log_file_failure(logger: logging.Logger, action: str, error: BaseException) -> str:
    """Log an unexpected failure on one file (the traceback and the error's type, never its message, which may
    name the file or quote its content) and return `FILE_FAILED_MESSAGE` for that file's row."""
    frames = "".join(traceback.format_tb(error.__traceback__))
    logger.error("%s failed unexpectedly: %s\n%s", action, type(error).__name__, frames.rstrip())
    return FILE_FAILED_MESSAGE


class ClassifierError(Exception):
    """Root of every error raised by the `model` package."""


class ConfigurationError(ClassifierError, ValueError):
    """A setting (environment variable or argument) has a value that cannot be used."""


class ModelLoadError(ClassifierError, RuntimeError):
    """The model could not be loaded; subclasses say why."""


class HubUnreachableError(ModelLoadError, ConnectionError):
    """The Hugging Face Hub could not be reached and the model is not in the local cache."""


class HubTimeoutError(HubUnreachableError, TimeoutError):
    """The Hub did not answer, or did not deliver the model, within the load timeout (and the cache had nothing)."""


class DownloadIncompleteError(ModelLoadError, ConnectionError):
    """A download kept breaking off before the whole file arrived; nothing partial was kept."""


class HubServerError(ModelLoadError):
    """The Hub answered with a server error (5xx) and the model is not in the local cache."""


class ModelNotFoundError(ModelLoadError, FileNotFoundError):
    """The repository (or local folder) does not exist, or is private and no token was given."""


class RevisionNotFoundError(ModelLoadError):
    """The repository exists but the requested revision (branch, tag or commit) does not."""


class ModelAccessError(ModelLoadError, PermissionError):
    """The repository is gated or private and the request was not authorised."""


class CorruptWeightsError(ModelLoadError):
    """The weights file is missing, truncated, corrupt or not in safetensors format."""


class IncompatibleModelError(ModelLoadError):
    """The config or weights describe a model this app cannot use (other architecture, no NSFW label)."""


class DiskFullError(ModelLoadError, OSError):
    """There is no disk space left to store the downloaded model."""


class CacheNotWritableError(ModelLoadError, PermissionError):
    """The Hugging Face cache folder is read-only or not writable by this user, so the model cannot be stored."""


class ModelNotReadyError(ClassifierError):
    """A request arrived before the model was loaded, or after loading failed."""


class InvalidImageError(ClassifierError, ValueError):
    """An uploaded file cannot be classified; subclasses say why."""


class EmptyFileError(InvalidImageError):
    """The file is empty (0 bytes) or nothing was submitted."""


class UnsupportedFormatError(InvalidImageError):
    """The file is not one of the allowed image formats (JPEG, PNG, WebP, GIF, BMP, AVIF, HEIC/HEIF)."""


class ImageTooLargeError(InvalidImageError):
    """The image (or file) exceeds the configured pixel, side or byte limits."""


class CorruptImageError(InvalidImageError):
    """The file claims an allowed format but is truncated, corrupt or has no pixels."""


class NotUploadedError(InvalidImageError):
    """A request named a server path or a URL instead of sending the file; nothing was read or fetched."""


class ArchiveError(ClassifierError, ValueError):
    """An uploaded archive cannot be used; subclasses say why."""


class CorruptArchiveError(ArchiveError):
    """The file is not a zip archive, or its directory is truncated or corrupt."""


class ArchiveTooLargeError(ArchiveError):
    """The archive exceeds the member-count or total-size limit."""


class UnsafeArchiveError(ArchiveError):
    """The archive is built like a zip bomb (members overlap, or sizes do not match the data)."""


class EmptyArchiveError(ArchiveError):
    """The upload holds no file that could be an image."""


class EvaluationError(ClassifierError, ValueError):
    """A labelled set cannot be evaluated; subclasses say why."""


class ManifestError(EvaluationError):
    """The CSV manifest (file,label) cannot be read, or names a label that is not nsfw/sfw."""


class MissingLabelsError(EvaluationError):
    """No image has a label: none sits under an nsfw/sfw folder or is listed in a manifest."""


class SingleClassError(EvaluationError):
    """Every labelled image has the same label; the metrics need both NSFW and SFW images."""


class ResultsFileError(EvaluationError):
    """A results file (CSV, Parquet or JSON lines of scores) is unreadable or lacks the columns it needs."""


class ResultsFileTooLargeError(ResultsFileError):
    """A results file has more rows or bytes than this reader accepts."""


class SourceError(ClassifierError, ValueError):
    """A source given to `screen` or `evaluate` does not exist, or holds nothing to classify."""


class JobError(ClassifierError, RuntimeError):
    """A `screen` or `evaluate` job on Ray could not start or finish; subclasses say why."""


class ClusterUnreachableError(JobError, ConnectionError):
    """No Ray cluster answers at the address given."""


class ClusterAuthError(JobError, PermissionError):
    """The Ray cluster refused our authentication token (or asked for one we did not send)."""


class JobStalledError(JobError, TimeoutError):
    """No new row arrived for `NSFW_SCREEN_STALL_LIMIT` seconds; the job checkpointed its rows and stopped."""


class JobFailedError(JobError):
    """Ray could not finish the job (after the retries on the nodes left); the rows done are checkpointed."""
