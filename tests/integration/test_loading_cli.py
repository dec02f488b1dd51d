"""Loading faults seen from a fresh process, where huggingface_hub reads `HF_*` at import: `python -m model` prints
one paragraph and exits non-zero; offline, no network, a broken proxy, a full or read-only disk; no token is logged."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testbed.images import EXAMPLES
from testbed.standin import COMMIT, REPO_ID, install_in_cache
from tests.support.hub_server import HubServer, closed_port

ROOT = Path(__file__).resolve().parents[2]
IMAGE = str(EXAMPLES / "coffee.png")
#: Python + torch + timm import and the load bound itself (10 s), with room for a busy CI machine.
PROMPT_EXIT = 60.0
#: Loads the stand-in's repository once per (cache folder, endpoint) pair given ("" for huggingface_hub's default, which
#: is HF_ENDPOINT or the real Hub, as in the app) and prints the outcome: type or "loaded", seconds, message or note.
LOAD_SCRIPT = """
import sys, time
from model import ModelLoadError, parse_model_source
from model.runtime.loading import load_model
for cache, endpoint in zip(sys.argv[1::2], sys.argv[2::2]):
    started = time.monotonic()
    try:
        info = load_model(parse_model_source("{repo}"), timeout=20, cache_dir=cache, endpoint=endpoint or None).info
        print("loaded", round(time.monotonic() - started, 2), info.revision, info.note)
    except ModelLoadError as error:
        print(type(error).__name__, round(time.monotonic() - started, 2), error)
""".replace("{repo}", REPO_ID)


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any HF_*/NSFW_* or proxy setting of the machine running the tests."""
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    kept = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HF_", "NSFW_", "HUGGINGFACE_")) and key.lower() not in proxies
    }
    return {**kept, **extra}


def run(
    command: list[str], env: dict[str, str], prefix: tuple[str, ...] = ()
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        [*prefix, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=PROMPT_EXIT + 60
    )
    return result, time.monotonic() - started


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "model", *args]


def assert_one_paragraph_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: could not load the model from "), result.stderr
    assert "\n\n" not in result.stderr.strip(), result.stderr
    assert len(result.stderr.strip().splitlines()) == 2, result.stderr  # the source, then what happened and what to do
    assert re.search(message, result.stderr), result.stderr


def namespace_prefix(kind: str, probe: str, tmp_path: Path) -> tuple[str, ...]:
    """`unshare` for a private mount or network namespace: directly as root, else in a user namespace."""
    if shutil.which("unshare") is None:
        pytest.skip("needs util-linux `unshare` to give the process its own mount/network namespace")
    reasons = []
    for prefix in (("unshare", kind), ("unshare", "-r", kind)):
        result = subprocess.run([*prefix, "sh", "-c", probe, "sh", str(tmp_path)], capture_output=True, text=True)
        if result.returncode == 0:
            return prefix
        reasons.append(f"{' '.join(prefix)}: {result.stderr.strip()}")
    pytest.skip("cannot create a private namespace here (no root, user namespaces disabled): " + "; ".join(reasons))


CLI_FAILURES = {
    "gated": ("gated", (), r"refused access \(401\).*accept its licence on .*set HF_TOKEN"),
    "unknown-revision": ("normal", ("--model", f"{REPO_ID}@v9"), r"revision 'v9' does not exist in Marqo/nsfw"),
    "stall-download": ("stall_download", (), r"did not deliver the model within 6 s"),
    "cut-short": ("cut_short", (), r"kept breaking off before the end .*nothing partial was kept"),
}


@pytest.mark.parametrize(("mode", "args", "message"), CLI_FAILURES.values(), ids=CLI_FAILURES.keys())
def test_the_cli_reports_a_load_failure_in_one_paragraph_and_exits_promptly(
    hub: HubServer, tmp_path: Path, mode: str, args: tuple[str, ...], message: str
) -> None:
    hub.mode = mode
    env = clean_environment(HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "home"), NSFW_LOAD_TIMEOUT="20")
    if mode.startswith("stall"):
        # The first answer (HEAD) must come within the bound, from a process that has just started.
        env["NSFW_LOAD_TIMEOUT"] = "6"
    result, seconds = run(cli(*args, IMAGE), env)
    assert_one_paragraph_error(result, message)
    assert "Marqo/nsfw-image-detection-384" in result.stderr.splitlines()[0]
    assert seconds < PROMPT_EXIT  # the stalled request is still held: the process did not wait for it


def test_with_default_settings_a_stalled_hub_ends_the_load_within_the_bound(hub: HubServer, tmp_path: Path) -> None:
    hub.mode = "stall"
    result, seconds = run(cli(IMAGE), clean_environment(HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "home")))
    assert_one_paragraph_error(result, r"did not answer within 10 s, and the model is not in the local cache")
    assert seconds < PROMPT_EXIT


def test_offline_mode_starts_from_the_cache_and_says_so(hf_home: Path) -> None:
    result, _ = run(cli(IMAGE), clean_environment(HF_HOME=str(hf_home), HF_HUB_OFFLINE="1"))
    assert result.returncode == 0, result.stderr
    assert '"nsfw_score"' in result.stdout
    assert result.stderr.strip() == "note: Loaded from the local cache: HF_HUB_OFFLINE=1 is set."


def test_offline_mode_with_a_cold_cache_says_how_to_prefetch(tmp_path: Path) -> None:
    result, _ = run(cli(IMAGE), clean_environment(HF_HOME=str(tmp_path), HF_HUB_OFFLINE="1"))
    assert_one_paragraph_error(result, r"HF_HUB_OFFLINE=1 is set and the model is not in the local cache .*pre-fetch")


def test_with_no_network_the_default_hub_fails_within_10_s_cold_and_the_cache_serves_warm(
    standin_dir: Path, tmp_path: Path
) -> None:
    prefix = namespace_prefix("-n", "true", tmp_path)
    install_in_cache(standin_dir, tmp_path / "warm")
    result, _ = run(
        [sys.executable, "-c", LOAD_SCRIPT, str(tmp_path / "cold"), "", str(tmp_path / "warm"), ""],
        clean_environment(),
        prefix,
    )
    assert result.returncode == 0, result.stderr
    cold, warm = result.stdout.splitlines()
    kind, seconds, message = cold.split(" ", 2)
    assert kind == "HubUnreachableError" and float(seconds) < 10, cold
    assert message.startswith("Could not download Marqo/nsfw-image-detection-384: the Hub (https://huggingface.co)")
    assert "is unreachable" in message and "set NSFW_MODEL to a local folder" in message
    assert warm.startswith(f"loaded {float(warm.split()[1])} {COMMIT} Loaded from the local cache"), warm


def test_behind_a_broken_proxy_the_hub_is_reported_unreachable(tmp_path: Path) -> None:
    proxy = f"http://127.0.0.1:{closed_port()}"
    env = clean_environment(HTTPS_PROXY=proxy, HTTP_PROXY=proxy, HF_HOME=str(tmp_path))
    result, _ = run([sys.executable, "-c", LOAD_SCRIPT, str(tmp_path / "hub"), ""], env)
    kind, seconds, message = result.stdout.strip().split(" ", 2)
    assert kind == "HubUnreachableError" and float(seconds) < 10, result.stdout + result.stderr
    assert "is unreachable" in message and "proxy (HTTPS_PROXY)" in message


DISK_FAULTS = {
    "disk-full": ("size=1M", r"no space left on the disk holding the Hugging Face cache.*set HF_HOME to a folder"),
    "read-only": ("ro,size=1M", r"cache cannot be written \(Read-only file system.*Set HF_HOME to a folder"),
}


@pytest.mark.parametrize(("options", "message"), DISK_FAULTS.values(), ids=DISK_FAULTS.keys())
def test_a_cache_on_a_full_or_read_only_disk_gives_its_own_error(
    hub: HubServer, tmp_path: Path, options: str, message: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    mount = f'mount -t tmpfs -o {options} tmpfs "$1"'
    prefix = namespace_prefix("-m", mount, tmp_path)
    hub.mode = "normal"
    env = clean_environment(HF_ENDPOINT=hub.url, HF_HOME=str(home))
    # The tmpfs exists only inside the child's mount namespace: nothing to unmount, nothing left behind.
    command = ["sh", "-c", f'{mount} && shift && exec "$@"', "sh", str(home), *cli(IMAGE)]
    result, _ = run(command, env, prefix)
    assert_one_paragraph_error(result, message)


def test_the_token_is_sent_but_never_logged_even_at_debug_level(standin_dir: Path, tmp_path: Path) -> None:
    token = "hf_secretTokenThatMustNeverAppear0123456789"
    script = "import logging; logging.basicConfig(level=logging.DEBUG)\n" + LOAD_SCRIPT
    with (
        HubServer(REPO_ID, {COMMIT: standin_dir}, mode="gated", token=token) as accepting,
        HubServer(REPO_ID, {COMMIT: standin_dir}, mode="gated", token="hf_someoneElsesToken") as refusing,
    ):
        env = clean_environment(HF_TOKEN=token, HF_DEBUG="1", HF_HUB_VERBOSITY="debug", HF_HOME=str(tmp_path / "home"))
        caches = [str(tmp_path / "a"), accepting.url, str(tmp_path / "b"), refusing.url]
        debug_run, _ = run([sys.executable, "-c", script, *caches], env)
        cli_run, _ = run(cli("-v", IMAGE), {**env, "HF_ENDPOINT": refusing.url})
    debug_output = debug_run.stdout + debug_run.stderr
    accepted, refused = debug_run.stdout.splitlines()
    assert re.fullmatch(rf"loaded \S+ {COMMIT} None", accepted), debug_output
    assert refused.startswith("ModelAccessError") and "refused access (401)" in refused
    assert cli_run.returncode == 1 and "refused access (401)" in cli_run.stderr
    file_requests = [request for request in accepting.requests if "/resolve/" in request.path]
    assert file_requests and all(request.authorized for request in file_requests)
    assert "authenticated: True" in debug_output  # the debug log ran, and spoke of the token
    for output in (debug_output, cli_run.stdout + cli_run.stderr):
        assert token not in output
        assert token[3:20] not in output
