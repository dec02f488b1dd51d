"""Hub repository -> a local snapshot folder holding `config.json` and `model.safetensors`, and why a fetch failed.

Files come from the Hub through huggingface_hub (so `HF_HOME`, `HF_ENDPOINT`, `HF_TOKEN` and `HF_HUB_OFFLINE`
behave as everywhere else) and only those two files are fetched. Every wait on the network is bounded by the load
timeout; a failure is diagnosed (unreachable, timeout, refused, not found, full disk, ...) into one of
`model.errors`' types with what to do, and when the cache holds the model, loading starts from the cache and says
so. Building the model from the folder is `model.runtime.loading`'s job.
"""

from __future__ import annotations

import errno
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx2
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

from ..config import ModelSource
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

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "fetch_snapshot"]

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
#: Longest wait for the Hub's first answer, whatever the load timeout. A dead network fails much sooner (connection
#: refused, no DNS); this is for one that swallows requests, so "unreachable" is reported within 10 s.
_FIRST_ANSWER_TIMEOUT = 10.0
_COMMIT_HASH = re.compile(r"[0-9a-f]{40}")
#: What a fetch through huggingface_hub raises for a network, Hub or disk problem: its HTTP errors are httpx2 errors
#: and OSErrors, socket and file errors are OSErrors, and so is the TimeoutError of our own deadline.
_FETCH_ERRORS = (httpx2.HTTPError, OSError)

T = TypeVar("T")


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
