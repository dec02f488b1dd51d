"""Hub repository or local folder -> timm model, its data config, its labels and the resolved revision.

Files come from the Hub through huggingface_hub (so `HF_HOME`, `HF_ENDPOINT`, `HF_TOKEN` and `HF_HUB_OFFLINE`
behave as everywhere else), only `config.json` and `model.safetensors` are fetched, and the model is then built
by timm's own `local-dir:` loader from that snapshot folder. Every wait is bounded by the load timeout.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import safetensors
import timm
import torch
from huggingface_hub import constants as hf_constants
from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
)
from huggingface_hub.errors import RevisionNotFoundError as HubRevisionNotFoundError

from .config import ModelSource
from .errors import (
    CorruptWeightsError,
    DiskFullError,
    HubServerError,
    HubTimeoutError,
    HubUnreachableError,
    IncompatibleModelError,
    ModelAccessError,
    ModelLoadError,
    ModelNotFoundError,
    RevisionNotFoundError,
)

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "LoadedModel", "ModelInfo", "fetch_snapshot", "load_model"]

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
#: The label (compared case-insensitively) whose probability is the NSFW score.
NSFW_LABEL = "nsfw"
#: Longest wait for the first answer from the Hub; a dead network fails much sooner (connection refused / DNS).
_METADATA_TIMEOUT = 10.0

T = TypeVar("T")


@dataclass(frozen=True)
class ModelInfo:
    """What was loaded, for display and for the records a result carries."""

    source: str
    repo_id: str | None
    revision: str | None
    labels: tuple[str, ...]
    nsfw_label: str
    input_size: tuple[int, ...]
    architecture: str
    load_seconds: float = 0.0
    note: str | None = None


@dataclass(frozen=True)
class LoadedModel:
    """A ready model with everything needed to run it exactly as the model card does."""

    model: torch.nn.Module
    data_config: dict[str, Any]
    info: ModelInfo
    nsfw_index: int


def _cache_hint() -> str:
    return f"the local cache ({hf_constants.HF_HUB_CACHE})"


def _run_with_deadline(function: Callable[[], T], timeout: float, what: str) -> T:
    """Run `function` in a daemon thread and give up after `timeout` seconds.

    huggingface_hub retries with back-off and per-request timeouts; a stalled server can hold it for minutes. The
    daemon thread may go on in the background, but huggingface_hub writes to `.incomplete` files and renames them
    only when complete, so an abandoned download never leaves a file a later start would load.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = function()
        except BaseException as error:  # re-raised in the caller's thread below
            outcome["error"] = error

    worker = threading.Thread(target=target, name=f"fetch {what}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"{what} did not finish within {timeout:.0f} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _from_cache(repo_id: str, revision: str | None, cache_dir: str | None) -> Path:
    paths = [
        hf_hub_download(repo_id, name, revision=revision, cache_dir=cache_dir, local_files_only=True)
        for name in (CONFIG_FILE, WEIGHTS_FILE)
    ]
    return Path(paths[0]).parent


def _translate_hub_error(error: BaseException, source: ModelSource) -> ModelLoadError | None:
    """Map a huggingface_hub/httpx error to ours; None for errors where the cache may still help."""
    name = str(source)
    if isinstance(error, HubRevisionNotFoundError):
        return RevisionNotFoundError(
            f"Could not load {source.repo_id}: revision {source.revision!r} does not exist in that repository. "
            "Use a branch, tag or commit hash listed on its Hub page, or drop the '@revision' part."
        )
    if isinstance(error, GatedRepoError):
        return ModelAccessError(
            f"Could not download {name}: the repository is gated. Accept its licence on "
            f"https://huggingface.co/{source.repo_id} and set HF_TOKEN to a token of that account."
        )
    if isinstance(error, RepositoryNotFoundError):
        if error.response is not None and error.response.status_code in (401, 403):
            return ModelAccessError(
                f"Could not download {name}: the Hub refused access ({error.response.status_code}). The repository "
                "is private or gated: accept its licence on its Hub page and set HF_TOKEN to a token with access."
            )
        return ModelNotFoundError(
            f"Could not download {name}: no such repository on the Hub. Check NSFW_MODEL for typos; if the "
            "repository is private, set HF_TOKEN."
        )
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        status = error.response.status_code
        if status in (401, 403):
            return ModelAccessError(
                f"Could not download {name}: the Hub refused access ({status}). The repository is private or "
                "gated: accept its licence on its Hub page and set HF_TOKEN to a token with access."
            )
        if isinstance(error, EntryNotFoundError):
            return CorruptWeightsError(
                f"Could not load {name}: the repository has no {WEIGHTS_FILE} or {CONFIG_FILE}. Only safetensors "
                "weights are loaded; use a repository or revision that has both files."
            )
        return None  # 5xx and the like: the cache may serve
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return DiskFullError(
            f"Could not download {name}: no space left on the disk holding {_cache_hint()}. Free some space "
            "or point HF_HOME to a disk with room."
        )
    return None


def _failure_for(error: BaseException, source: ModelSource, timeout: float) -> ModelLoadError:
    """The error to raise when the Hub failed and the cache had nothing."""
    name = str(source)
    remedy = (
        "Check the network (and HF_ENDPOINT / proxy settings), or set NSFW_MODEL to a local folder holding "
        f"{CONFIG_FILE} and {WEIGHTS_FILE}."
    )
    if isinstance(error, (TimeoutError, httpx.TimeoutException)):
        return HubTimeoutError(
            f"Could not download {name}: the Hugging Face Hub did not answer within {timeout:.0f} s and the model "
            f"is not in {_cache_hint()}. {remedy}"
        )
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        return HubServerError(
            f"Could not download {name}: the Hugging Face Hub answered with an error "
            f"({error.response.status_code}) and the model is not in {_cache_hint()}. Try again later. {remedy}"
        )
    if isinstance(error, OfflineModeIsEnabled) or hf_constants.is_offline_mode():
        return HubUnreachableError(
            f"Could not load {name}: HF_HUB_OFFLINE=1 is set and the model is not in {_cache_hint()}. Unset "
            f"HF_HUB_OFFLINE to download it, or pre-fetch it into the cache (see the README)."
        )
    return HubUnreachableError(
        f"Could not download {name}: the Hugging Face Hub is unreachable ({type(error).__name__}) and the model "
        f"is not in {_cache_hint()}. {remedy}"
    )


def fetch_snapshot(
    source: ModelSource,
    *,
    timeout: float = 20.0,
    cache_dir: str | None = None,
    endpoint: str | None = None,
) -> tuple[Path, str | None, str | None]:
    """Make `config.json` and `model.safetensors` of a Hub model available locally, within `timeout` seconds.

    Returns:
        The snapshot folder, the resolved commit hash, and a note when the Hub failed and the cache served.
    """
    assert source.repo_id is not None
    repo_id, revision = source.repo_id, source.revision
    started = time.monotonic()

    def remaining() -> float:
        return max(0.1, timeout - (time.monotonic() - started))

    def cached_or_raise(error: BaseException) -> tuple[Path, str | None, str | None]:
        translated = _translate_hub_error(error, source)
        if translated is not None:
            raise translated from None
        try:
            folder = _from_cache(repo_id, revision, cache_dir)
        except (LocalEntryNotFoundError, EntryNotFoundError, OSError):
            raise _failure_for(error, source, timeout) from None
        reason = "HF_HUB_OFFLINE=1" if hf_constants.is_offline_mode() else f"the Hub failed: {type(error).__name__}"
        logger.warning("Loaded %s from the local cache (%s)", source, reason)
        return folder, folder.name, f"Loaded from the local cache ({reason})."

    if hf_constants.is_offline_mode():
        return cached_or_raise(OfflineModeIsEnabled("HF_HUB_OFFLINE=1"))

    # One quick request, never retried: a dead network or a wrong id fails here in seconds, not after back-off.
    url = hf_hub_url(repo_id, CONFIG_FILE, revision=revision, endpoint=endpoint)
    try:
        _run_with_deadline(
            lambda: get_hf_file_metadata(url, timeout=min(_METADATA_TIMEOUT, remaining())),
            remaining(),
            "metadata",
        )
    except (HfHubHTTPError, httpx.HTTPError, OSError, TimeoutError) as error:
        return cached_or_raise(error)

    def download() -> Path:
        paths = [
            hf_hub_download(
                repo_id,
                name,
                revision=revision,
                cache_dir=cache_dir,
                endpoint=endpoint,
                etag_timeout=min(_METADATA_TIMEOUT, remaining()),
            )
            for name in (CONFIG_FILE, WEIGHTS_FILE)
        ]
        return Path(paths[0]).parent

    try:
        folder = _run_with_deadline(download, remaining(), "download")
    except (HfHubHTTPError, httpx.HTTPError, OSError, TimeoutError) as error:
        return cached_or_raise(error)
    return folder, folder.name, None


def _sha256_prefix(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def _read_config(folder: Path, name: str) -> dict[str, Any]:
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise ModelNotFoundError(
            f"Could not load {name}: {config_path} does not exist. The folder must hold {CONFIG_FILE} and "
            f"{WEIGHTS_FILE} (as published on the Hub)."
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IncompatibleModelError(f"Could not load {name}: {CONFIG_FILE} is not valid JSON ({error}).") from None
    if not isinstance(config, dict):
        raise IncompatibleModelError(f"Could not load {name}: {CONFIG_FILE} does not hold a JSON object.")
    return config


def _check_config(config: dict[str, Any], name: str) -> tuple[str, tuple[str, ...], int]:
    architecture = config.get("architecture")
    if not isinstance(architecture, str) or not timm.is_model(architecture):
        raise IncompatibleModelError(
            f"Could not load {name}: {CONFIG_FILE} names architecture {architecture!r}, which timm "
            f"{timm.__version__} does not know. Use the model's own config.json or upgrade timm."
        )
    labels = config.get("label_names") or config.get("pretrained_cfg", {}).get("label_names")
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise IncompatibleModelError(f"Could not load {name}: {CONFIG_FILE} has no label_names list.")
    matches = [index for index, label in enumerate(labels) if label.strip().lower() == NSFW_LABEL]
    if len(matches) != 1:
        raise IncompatibleModelError(
            f"Could not load {name}: its labels are {labels}, with no single 'NSFW' label. This app needs a "
            "classifier with an NSFW class; check NSFW_MODEL."
        )
    num_classes = config.get("num_classes", len(labels))
    if num_classes != len(labels):
        raise IncompatibleModelError(
            f"Could not load {name}: {CONFIG_FILE} says num_classes={num_classes} but lists {len(labels)} labels."
        )
    return architecture, tuple(labels), matches[0]


def _build(folder: Path, name: str, architecture: str) -> torch.nn.Module:
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise CorruptWeightsError(
            f"Could not load {name}: {weights} does not exist. Only safetensors weights are loaded (nothing is "
            "unpickled); convert the checkpoint to model.safetensors."
        )
    try:
        model = timm.create_model(f"local-dir:{folder}", pretrained=True)
    except safetensors.SafetensorError as error:
        raise CorruptWeightsError(
            f"Could not load {name}: {WEIGHTS_FILE} is truncated or corrupt ({error}). Delete it (or the cache "
            f"folder) so it is downloaded again."
        ) from None
    except RuntimeError as error:
        summary = str(error).splitlines()[0][:300]
        raise IncompatibleModelError(
            f"Could not load {name}: the weights do not fit architecture {architecture!r} named in {CONFIG_FILE} "
            f"({summary}). Use the config.json published with these weights."
        ) from None
    return model.eval()


def load_model(
    source: ModelSource,
    *,
    timeout: float = 20.0,
    cache_dir: str | None = None,
    endpoint: str | None = None,
) -> LoadedModel:
    """Load the classifier from the Hub (or its cache) or from a local folder.

    Raises:
        ModelLoadError: one of its subclasses, with a message that names the source and the remedy.
    """
    started = time.monotonic()
    name = str(source)
    note: str | None = None
    if source.is_local:
        folder = Path(str(source.local_dir))
        if not folder.is_dir():
            raise ModelNotFoundError(
                f"Could not load {name}: the folder does not exist. Set NSFW_MODEL to a folder holding "
                f"{CONFIG_FILE} and {WEIGHTS_FILE}, or to a Hub id."
            )
        revision = None
    else:
        folder, revision, note = fetch_snapshot(source, timeout=timeout, cache_dir=cache_dir, endpoint=endpoint)
    config = _read_config(folder, name)
    architecture, labels, nsfw_index = _check_config(config, name)
    model = _build(folder, name, architecture)
    if source.is_local:
        revision = f"local:{_sha256_prefix(folder / WEIGHTS_FILE)}"
    data_config = timm.data.resolve_model_data_config(model)
    info = ModelInfo(
        source=name,
        repo_id=source.repo_id,
        revision=revision,
        labels=labels,
        nsfw_label=labels[nsfw_index],
        input_size=tuple(data_config["input_size"]),
        architecture=architecture,
        load_seconds=round(time.monotonic() - started, 3),
        note=note,
    )
    logger.info("Loaded %s (revision %s) in %.2f s", name, revision, info.load_seconds)
    return LoadedModel(model=model, data_config=data_config, info=info, nsfw_index=nsfw_index)
