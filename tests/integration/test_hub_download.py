"""The real download path (huggingface_hub + timm, nothing patched) against a Hub-compatible server on loopback:
downloads, pins, every failure mode with its own error, and the cache standing in when the Hub fails."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import try_to_load_from_cache

from model import parse_model_source
from model.errors import (
    CorruptWeightsError,
    DownloadIncompleteError,
    HubServerError,
    HubTimeoutError,
    HubUnreachableError,
    ModelAccessError,
    ModelLoadError,
    ModelNotFoundError,
    RevisionNotFoundError,
)
from model.runtime.hub import CONFIG_FILE, WEIGHTS_FILE, fetch_snapshot
from model.runtime.loading import LoadedModel, load_model
from testbed.standin import COMMIT, REPO_ID, cache_repo_folder, install_in_cache
from tests.support.hub_server import HubServer, closed_port

#: A second commit of the same repository: the stand-in with its labels in the other order.
OTHER_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"
#: The load timeout for tests that wait on a stalled server (elsewhere the default, 20 s: a busy CI machine must not
#: turn a normal download into a timeout).
TIMEOUT = 2.0
#: Scheduling slack on a busy CI machine: the deadline is a thread join, so the real overrun is milliseconds.
SLACK = 5.0


@pytest.fixture
def hub(standin_dir: Path, swapped_dir: Path) -> Iterator[HubServer]:
    """The Hub: `main` and tag `v1` at COMMIT (the stand-in), OTHER_COMMIT holding the swapped stand-in."""
    commits = {COMMIT: standin_dir, OTHER_COMMIT: swapped_dir}
    with HubServer(REPO_ID, commits, branches={"main": COMMIT, "v1": OTHER_COMMIT}, stall_seconds=30) as server:
        yield server


@pytest.fixture
def cold_cache(tmp_path: Path) -> Path:
    return tmp_path / "hub"


@pytest.fixture
def warm_cache(tmp_path: Path, standin_dir: Path) -> Path:
    """A hub cache holding the stand-in at COMMIT as `main`, as an earlier successful start leaves it."""
    install_in_cache(standin_dir, tmp_path / "hub")
    return tmp_path / "hub"


def load(hub: HubServer, cache: Path, spec: str = REPO_ID, timeout: float = 20.0) -> LoadedModel:
    return load_model(parse_model_source(spec), timeout=timeout, cache_dir=str(cache), endpoint=hub.url)


def fetch(
    hub: HubServer, cache: Path, spec: str = REPO_ID, timeout: float = 20.0
) -> tuple[Path, str | None, str | None]:
    return fetch_snapshot(parse_model_source(spec), timeout=timeout, cache_dir=str(cache), endpoint=hub.url)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_download_into_an_empty_cache_records_the_served_commit(
    hub: HubServer, cold_cache: Path, standin_dir: Path
) -> None:
    loaded = load(hub, cold_cache)
    assert loaded.info.revision == COMMIT and loaded.info.note is None
    assert loaded.info.labels == ("NSFW", "SFW")
    repo = cache_repo_folder(cold_cache)
    assert (repo / "refs" / "main").read_text() == COMMIT
    assert sha256(repo / "snapshots" / COMMIT / WEIGHTS_FILE) == sha256(standin_dir / WEIGHTS_FILE)
    assert [request.path.rsplit("/", 1)[1] for request in hub.requests if request.method == "GET"] == [
        CONFIG_FILE,
        WEIGHTS_FILE,
    ]


def test_a_warm_cache_that_is_current_downloads_nothing(hub: HubServer, warm_cache: Path) -> None:
    folder, revision, note = fetch(hub, warm_cache)
    assert (folder.name, revision, note) == (COMMIT, COMMIT, None)
    assert hub.requests and not [request for request in hub.requests if request.method == "GET"]


def test_a_warm_cache_follows_main_when_the_hub_has_moved_on(hub: HubServer, warm_cache: Path) -> None:
    hub.branches["main"] = OTHER_COMMIT
    _, revision, note = fetch(hub, warm_cache)
    assert (revision, note) == (OTHER_COMMIT, None)
    assert (cache_repo_folder(warm_cache) / "refs" / "main").read_text() == OTHER_COMMIT


@pytest.mark.parametrize("pin", [OTHER_COMMIT, "v1"], ids=["commit", "tag"])
def test_id_at_revision_pins_that_revision_and_records_its_commit(hub: HubServer, cold_cache: Path, pin: str) -> None:
    loaded = load(hub, cold_cache, f"{REPO_ID}@{pin}")
    assert loaded.info.revision == OTHER_COMMIT
    assert loaded.info.labels == ("SFW", "NSFW")  # the other commit's config, not main's
    assert loaded.info.source == f"{REPO_ID}@{pin}"
    assert all(f"/resolve/{pin}/" in request.path for request in hub.requests)


def test_a_pinned_commit_already_cached_never_asks_the_hub(hub: HubServer, warm_cache: Path) -> None:
    hub.mode = "stall"
    _, revision, note = fetch(hub, warm_cache, f"{REPO_ID}@{COMMIT}", timeout=TIMEOUT)
    assert (revision, note) == (COMMIT, None)
    assert hub.requests == []


def test_an_unknown_revision_raises_revision_not_found_even_with_a_warm_cache(hub: HubServer, warm_cache: Path) -> None:
    with pytest.raises(RevisionNotFoundError, match=r"revision 'v9' does not exist in Marqo/nsfw-image-detection-384 "):
        load(hub, warm_cache, f"{REPO_ID}@v9")
    with pytest.raises(RevisionNotFoundError, match=r"Use a branch, tag or commit hash .* drop the '@revision' part"):
        load(hub, warm_cache, f"{REPO_ID}@{'0' * 40}")


def test_an_unknown_repository_raises_model_not_found(hub: HubServer, cold_cache: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"has no repository Someone/nothing-here.*Check NSFW_MODEL for typos"):
        load(hub, cold_cache, "Someone/nothing-here")


@pytest.mark.parametrize("mode", ["gated", "private"])
def test_a_gated_or_private_repository_says_to_accept_the_licence_or_set_hf_token(
    hub: HubServer, cold_cache: Path, mode: str
) -> None:
    hub.mode = mode
    with pytest.raises(
        ModelAccessError,
        match=r"refused access \(401\).*accept its licence on https://huggingface\.co/Marqo/nsfw-image-detection-384"
        r".*set HF_TOKEN",
    ):
        load(hub, cold_cache)


def test_a_repository_without_safetensors_weights_is_refused(standin_dir: Path, tmp_path: Path) -> None:
    config_only = tmp_path / "config-only"
    config_only.mkdir()
    (config_only / CONFIG_FILE).write_bytes((standin_dir / CONFIG_FILE).read_bytes())
    with (
        HubServer(REPO_ID, {COMMIT: config_only}) as hub,
        pytest.raises(CorruptWeightsError, match=r"has no model\.safetensors at revision main.*nothing is unpickled"),
    ):
        load(hub, tmp_path / "hub")


COLD_FAILURES = {
    "server_error": (
        HubServerError,
        r"answered with an error \(500\), and the model is not in the local cache .*later",
    ),
    "stall": (
        HubTimeoutError,
        r"did not answer within 2 s, and the model is not in the local cache .*NSFW_LOAD_TIMEOUT",
    ),
    "stall_download": (HubTimeoutError, r"did not deliver the model within 2 s, and the model is not in the local"),
    "captive_portal": (HubServerError, r"did not answer like a Hugging Face Hub .*Check HF_ENDPOINT, and any proxy"),
}


@pytest.mark.parametrize(
    ("mode", "error_type", "message"), [(m, *e) for m, e in COLD_FAILURES.items()], ids=COLD_FAILURES.keys()
)
def test_with_a_cold_cache_each_hub_failure_ends_within_the_bound_with_its_own_error(
    hub: HubServer, cold_cache: Path, mode: str, error_type: type[ModelLoadError], message: str
) -> None:
    hub.mode = mode
    started = time.monotonic()
    with pytest.raises(error_type, match=message):
        load(hub, cold_cache, timeout=TIMEOUT)
    assert time.monotonic() - started < TIMEOUT + SLACK


WARM_FALLBACKS = {
    "server_error": r"answered with an error \(500\)",
    "gated": r"refused access \(401\)",
    "stall": r"did not answer within 2 s",
    "captive_portal": r"did not answer like a Hugging Face Hub",
}


@pytest.mark.parametrize(("mode", "reason"), WARM_FALLBACKS.items(), ids=WARM_FALLBACKS.keys())
def test_with_a_warm_cache_a_failing_hub_starts_from_the_cache_and_the_note_says_why(
    hub: HubServer, warm_cache: Path, mode: str, reason: str
) -> None:
    hub.mode = mode
    started = time.monotonic()
    loaded = load(hub, warm_cache, timeout=TIMEOUT)
    assert time.monotonic() - started < TIMEOUT + SLACK
    assert loaded.info.revision == COMMIT
    assert loaded.info.note is not None
    assert loaded.info.note.startswith(f"Loaded from the local cache (commit {COMMIT[:12]}) because ")
    assert re.search(reason, loaded.info.note)


def test_a_hub_that_would_stall_a_download_does_not_matter_when_the_cache_is_current(
    hub: HubServer, warm_cache: Path
) -> None:
    hub.mode = "stall_download"
    loaded = load(hub, warm_cache)
    assert (loaded.info.revision, loaded.info.note) == (COMMIT, None)


def test_an_unreachable_hub_fails_fast_with_a_cold_cache_and_is_skipped_with_a_warm_one(
    cold_cache: Path, warm_cache: Path
) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    source = parse_model_source(REPO_ID)
    started = time.monotonic()
    with pytest.raises(HubUnreachableError, match=r"is unreachable \(.*[Cc]onnection refused\).*set NSFW_MODEL"):
        load_model(source, cache_dir=str(cold_cache / "empty"), endpoint=endpoint)
    assert time.monotonic() - started < 10
    loaded = load_model(source, cache_dir=str(warm_cache), endpoint=endpoint)
    assert loaded.info.revision == COMMIT
    assert loaded.info.note is not None and "is unreachable" in loaded.info.note


def test_a_cut_short_download_keeps_no_partial_file_for_a_later_start(
    hub: HubServer, cold_cache: Path, standin_dir: Path
) -> None:
    hub.mode = "cut_short"
    # huggingface_hub retries the broken download five times (about 6 s) and then gives up; the bound is not reached.
    with pytest.raises(DownloadIncompleteError, match=r"kept breaking off before the end .*nothing partial was kept"):
        load(hub, cold_cache, timeout=60)
    blobs = cache_repo_folder(cold_cache) / "blobs"
    assert not (blobs / sha256(standin_dir / WEIGHTS_FILE)).exists()
    assert not [path.name for path in blobs.iterdir() if path.name.endswith(".incomplete")]
    assert try_to_load_from_cache(REPO_ID, WEIGHTS_FILE, cache_dir=cold_cache) is None
    hub.mode = "server_error"  # a later start while the Hub is down: nothing half-downloaded to load
    with pytest.raises(HubServerError, match=r"not in the local cache"):
        load(hub, cold_cache)
    hub.mode = "normal"  # and once the Hub is back, the download completes
    assert load(hub, cold_cache).info.revision == COMMIT


def test_a_download_broken_off_once_resumes_and_gets_the_same_bytes(
    hub: HubServer, cold_cache: Path, standin_dir: Path
) -> None:
    hub.mode = "cut_once"
    loaded = load(hub, cold_cache, timeout=60)
    assert loaded.info.revision == COMMIT
    weights = cache_repo_folder(cold_cache) / "snapshots" / COMMIT / WEIGHTS_FILE
    assert sha256(weights) == sha256(standin_dir / WEIGHTS_FILE)
    first, second = hub.downloads()
    assert first.range is None and second.range is not None and second.range.startswith("bytes=")


def test_when_main_moved_and_its_download_breaks_off_the_commit_already_cached_serves(
    hub: HubServer, warm_cache: Path
) -> None:
    hub.branches["main"] = OTHER_COMMIT
    hub.mode = "cut_short"
    loaded = load(hub, warm_cache, timeout=60)
    assert loaded.info.revision == COMMIT and loaded.info.labels == ("NSFW", "SFW")
    assert loaded.info.note is not None and "kept breaking off" in loaded.info.note
