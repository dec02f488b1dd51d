"""Hub repository or local folder -> timm model, its data config, its labels and the resolved revision.

Files come from the Hub through huggingface_hub (so `HF_HOME`, `HF_ENDPOINT`, `HF_TOKEN` and `HF_HUB_OFFLINE`
behave as everywhere else), only `config.json` and `model.safetensors` are fetched, and the model is then built by
timm's own `local-dir:` loader from that snapshot folder. Every wait on the network is bounded by the load timeout;
when the Hub fails and the cache holds the model, loading starts from the cache and says so in `ModelInfo.note`.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import safetensors
import timm
import torch
from huggingface_hub import constants as hf_constants
from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url, try_to_load_from_cache
from huggingface_hub.errors import (
    FileMetadataError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
)
from huggingface_hub.errors import RevisionNotFoundError as HubRevisionNotFoundError

from ..config import ModelSource, display_model_id
from ..errors import (
    CacheNotWritableError,
    CorruptWeightsError,
    DiskFullError,
    DownloadIncompleteError,
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
#: Longest wait for the Hub's first answer, whatever the load timeout. A dead network fails much sooner (connection
#: refused, no DNS); this is for one that swallows requests, so "unreachable" is reported within 10 s.
_FIRST_ANSWER_TIMEOUT = 10.0
_COMMIT_HASH = re.compile(r"[0-9a-f]{40}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: What a fetch through huggingface_hub raises for a network, Hub or disk problem: its HTTP errors are httpx2 errors
#: and OSErrors, socket and file errors are OSErrors, and so is the TimeoutError of our own deadline.
_FETCH_ERRORS = (httpx2.HTTPError, OSError)

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

    @property
    def display_id(self) -> str:
        """The Hub id, or the local folder's name (`model.config.display_model_id`)."""
        return display_model_id(self.repo_id, self.source)


@dataclass(frozen=True)
class LoadedModel:
    """A ready model with everything needed to run it exactly as the model card does."""

    model: torch.nn.Module
    data_config: dict[str, Any]
    info: ModelInfo
    nsfw_index: int
    #: The folder the weights were read from (a Hub snapshot or the local folder): engine exports are cached by it.
    folder: Path | None = None


@dataclass(frozen=True)
class _Failure:
    """Why a fetch failed: what happened (a clause), what to do (sentences), and whether the cache may stand in."""

    error_type: type[ModelLoadError]
    reason: str
    remedy: str
    cache_may_serve: bool = True

    def error(self, source: ModelSource, cache: Path) -> ModelLoadError:
        if not self.cache_may_serve:
            return self.error_type(f"Could not load {source}: {self.reason}. {self.remedy}")
        return self.error_type(
            f"Could not download {source}: {self.reason}, and the model is not in the local cache ({cache}). "
            f"{self.remedy}"
        )


def _run_with_deadline(function: Callable[[], T], timeout: float, what: str) -> T:
    """Run `function` in a daemon thread and give up waiting for it after `timeout` seconds.

    huggingface_hub retries with back-off and waits up to 60 s per attempt once nothing is cached, so a stalled
    server can hold it for minutes. An abandoned thread ends on its own when those retries run out (it never keeps
    the process alive), and since huggingface_hub writes each file to a temporary name and renames it only once
    complete, it never leaves a file that a later start would load.
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
        raise TimeoutError(f"{what} did not finish within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _cached_snapshot(repo_id: str, revision: str, cache: Path) -> Path | None:
    """The cached snapshot folder holding both files for `revision` (branch, tag or commit), found without network."""
    paths = [
        try_to_load_from_cache(repo_id, name, cache_dir=cache, revision=revision)
        for name in (CONFIG_FILE, WEIGHTS_FILE)
    ]
    if not all(isinstance(path, str) for path in paths):
        return None
    folders = {Path(str(path)).parent for path in paths}
    return folders.pop() if len(folders) == 1 else None


def _check_hub_answers(repo_id: str, revision: str, endpoint: str | None, timeout: float) -> None:
    """One HEAD request for config.json, never retried: a dead network, a wrong id or a refusal shows up here within
    seconds, instead of after huggingface_hub's retries with back-off."""
    url = hf_hub_url(repo_id, CONFIG_FILE, revision=revision, endpoint=endpoint)
    metadata = get_hf_file_metadata(url, timeout=timeout, endpoint=endpoint)
    if metadata.commit_hash is None or metadata.etag is None:
        raise FileMetadataError(f"{url} answered without the X-Repo-Commit and ETag headers of a Hub")


def _download(repo_id: str, revision: str, cache_dir: Path, endpoint: str | None, timeout: float) -> Path:
    paths = [
        hf_hub_download(
            repo_id,
            name,
            revision=revision,
            cache_dir=cache_dir,
            endpoint=endpoint,
            etag_timeout=min(_FIRST_ANSWER_TIMEOUT, timeout),
        )
        for name in (CONFIG_FILE, WEIGHTS_FILE)
    ]
    return Path(paths[0]).parent


def _summary(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def _diagnose(error: BaseException, source: ModelSource, *, phase: str, waited: float, endpoint: str) -> _Failure:
    """Turn what huggingface_hub, httpx2 or the disk raised into what happened and what to do about it."""
    repo_id = source.repo_id
    hub = f"the Hub ({endpoint})"
    local = f"set NSFW_MODEL to a local folder holding {CONFIG_FILE} and {WEIGHTS_FILE}"
    network = f"Check the network and any proxy (HTTPS_PROXY) or HF_ENDPOINT setting, or {local}."
    if isinstance(error, LocalEntryNotFoundError) and error.__cause__ is not None:
        error = error.__cause__  # huggingface_hub's "and nothing is cached" wraps what really went wrong
    if isinstance(error, HubRevisionNotFoundError):
        return _Failure(
            RevisionNotFoundError,
            f"revision {source.revision!r} does not exist in {repo_id} on {hub}",
            "Use a branch, tag or commit hash listed on the model's Hub page, or drop the '@revision' part of "
            "NSFW_MODEL.",
            cache_may_serve=False,
        )
    if isinstance(error, RemoteEntryNotFoundError):
        missing = WEIGHTS_FILE if str(error.response.url).endswith(WEIGHTS_FILE) else CONFIG_FILE
        return _Failure(
            CorruptWeightsError if missing == WEIGHTS_FILE else IncompatibleModelError,
            f"{repo_id} has no {missing} at revision {source.revision or 'main'}",
            f"This app loads timm models published with {CONFIG_FILE} and {WEIGHTS_FILE} (safetensors only, "
            "nothing is unpickled); use a repository or revision that has both.",
            cache_may_serve=False,
        )
    if isinstance(error, HfHubHTTPError):
        status = error.response.status_code if error.response is not None else "no status"
        if isinstance(error, GatedRepoError) or status in (401, 403):
            return _Failure(
                ModelAccessError,
                f"{hub} refused access ({status}): the repository is gated or private, or does not exist",
                f"If it is gated, accept its licence on https://huggingface.co/{repo_id} while signed in; then set "
                "HF_TOKEN to an access token of an account that may read it. Check NSFW_MODEL for typos too.",
            )
        if isinstance(error, RepositoryNotFoundError):
            return _Failure(
                ModelNotFoundError,
                f"{hub} has no repository {repo_id}",
                "Check NSFW_MODEL for typos; if the repository is private, set HF_TOKEN to a token with access.",
            )
        return _Failure(HubServerError, f"{hub} answered with an error ({status})", f"Try again later, or {local}.")
    if isinstance(error, FileMetadataError):
        return _Failure(
            HubServerError,
            f"{endpoint} did not answer like a Hugging Face Hub (no X-Repo-Commit or ETag header)",
            "Check HF_ENDPOINT, and any proxy or captive portal between this machine and the Hub, or " + local + ".",
        )
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return _Failure(
            DiskFullError,
            "there is no space left on the disk holding the Hugging Face cache",
            "Free some space, or set HF_HOME to a folder on a disk with room for the model.",
        )
    if isinstance(error, OSError) and error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return _Failure(
            CacheNotWritableError,
            f"the Hugging Face cache cannot be written ({error.strerror}: {error.filename})",
            "Set HF_HOME to a folder this user may write, or pre-fetch the model into the cache (see the README).",
        )
    if isinstance(error, (TimeoutError, httpx2.TimeoutException)):
        what = "did not answer" if phase == "contact" else "did not deliver the model"
        return _Failure(
            HubTimeoutError,
            f"{hub} {what} within {waited:g} s",
            f"Check the network and any proxy (HTTPS_PROXY) or HF_ENDPOINT setting; on a slow link raise "
            f"NSFW_LOAD_TIMEOUT; or {local}.",
        )
    if phase == "download" and not isinstance(error, (httpx2.ConnectError, httpx2.ProxyError)):
        return _Failure(
            DownloadIncompleteError,
            f"the download from {hub} kept breaking off before the end ({_summary(error)}); nothing partial was kept",
            network,
        )
    return _Failure(HubUnreachableError, f"{hub} is unreachable ({_summary(error)})", network)


def fetch_snapshot(
    source: ModelSource,
    *,
    timeout: float = 20.0,
    cache_dir: str | None = None,
    endpoint: str | None = None,
) -> tuple[Path, str | None, str | None]:
    """Make `config.json` and `model.safetensors` of a Hub model available locally, within `timeout` seconds.

    A commit already in the cache is used without asking the Hub (it cannot change). Otherwise the Hub is asked
    once, quickly, and then the files are downloaded (or confirmed current) through huggingface_hub. When that
    fails in a way the cache can make up for (network, timeout, server error, refusal, full disk), the snapshot the
    cache held for this revision is used instead, with a note saying why.

    Args:
        source: a Hub repository, optionally with a revision.
        timeout: seconds after which loading gives up waiting for the Hub (the first answer is awaited at most 10 s).
        cache_dir: the hub cache folder (default: huggingface_hub's, from `HF_HOME` / `HF_HUB_CACHE`).
        endpoint: the Hub's address (default: huggingface_hub's, from `HF_ENDPOINT`).

    Returns:
        The snapshot folder, its commit hash, and a note when the cache stood in for the Hub.

    Raises:
        ModelLoadError: one of its subclasses, naming what happened and what to do.
    """
    if source.repo_id is None:
        raise ValueError(f"{source} is a local folder, not a Hub repository")
    repo_id = source.repo_id
    revision = source.revision or hf_constants.DEFAULT_REVISION
    cache = Path(cache_dir or hf_constants.HF_HUB_CACHE).expanduser()
    cached = _cached_snapshot(repo_id, revision, cache)
    if cached is not None and _COMMIT_HASH.fullmatch(revision):
        return cached, cached.name, None
    if hf_constants.is_offline_mode():
        if cached is not None:
            logger.info("HF_HUB_OFFLINE=1: loading %s from the local cache", source)
            return cached, cached.name, "Loaded from the local cache: HF_HUB_OFFLINE=1 is set."
        raise HubUnreachableError(
            f"Could not load {source}: HF_HUB_OFFLINE=1 is set and the model is not in the local cache ({cache}). "
            "Unset HF_HUB_OFFLINE to download it, or pre-fetch it into the cache on a machine with network and copy "
            "the cache here (see the README)."
        )

    started = time.monotonic()
    phase, waited = "contact", min(_FIRST_ANSWER_TIMEOUT, timeout)
    try:
        _run_with_deadline(
            lambda: _check_hub_answers(repo_id, revision, endpoint, waited), waited, f"{source} first answer"
        )
        phase, waited = "download", timeout
        remaining = max(0.1, timeout - (time.monotonic() - started))
        folder = _run_with_deadline(
            lambda: _download(repo_id, revision, cache, endpoint, remaining), remaining, f"{source} download"
        )
    except _FETCH_ERRORS as error:
        logger.debug("Fetching %s failed in the %s phase", source, phase, exc_info=error)
        failure = _diagnose(error, source, phase=phase, waited=waited, endpoint=endpoint or hf_constants.ENDPOINT)
        if cached is None or not failure.cache_may_serve:
            raise failure.error(source, cache) from None
        note = f"Loaded from the local cache (commit {cached.name[:12]}) because {failure.reason}."
        logger.warning("%s: %s", source, note)
        return cached, cached.name, note
    return folder, folder.name, None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _redownload_hint(folder: Path) -> str:
    """How to get rid of a bad file: a Hub cache snapshot must go with its blobs, or the bad blob is linked again."""
    if folder.parent.name == "snapshots":
        return f"Delete the cached copy ({folder.parent.parent}) so the next start downloads it again."
    return f"Replace it with a complete copy of {WEIGHTS_FILE} as published with the model."


def _check_cached_checksum(weights: Path, name: str) -> None:
    """A Hub cache names each weights blob by its SHA-256: check it, so a damaged file is never loaded."""
    blob = weights.resolve()
    if weights.is_symlink() and _SHA256.fullmatch(blob.name) and _sha256(blob) != blob.name:
        raise CorruptWeightsError(
            f"Could not load {name}: the cached {WEIGHTS_FILE} ({blob}) does not match its SHA-256 checksum; the "
            f"file is damaged. {_redownload_hint(weights.parent)}"
        )


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
    _check_cached_checksum(weights, name)
    try:
        model = timm.create_model(f"local-dir:{folder}", pretrained=True)
    except safetensors.SafetensorError as error:
        raise CorruptWeightsError(
            f"Could not load {name}: {WEIGHTS_FILE} is truncated or corrupt ({error}). {_redownload_hint(folder)}"
        ) from None
    except (RuntimeError, TypeError) as error:
        # RuntimeError: tensors that do not fit the architecture; TypeError: config arguments it does not take.
        summary = " ".join(str(error).split())[:300]
        raise IncompatibleModelError(
            f"Could not load {name}: architecture {architecture!r} named in {CONFIG_FILE} cannot be built from this "
            f"config and these weights ({summary}). Use the {CONFIG_FILE} published with these weights."
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
        revision = f"local:{_sha256(folder / WEIGHTS_FILE)[:12]}"
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
    return LoadedModel(model=model, data_config=data_config, info=info, nsfw_index=nsfw_index, folder=folder)
