"""Settings: the only reader of environment variables in the `model` package; typed, validated, documented."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigurationError

__all__ = [
    "DECODE_STAGES",
    "DEFAULT_MODEL",
    "DEVICE_CHOICES",
    "ENGINES",
    "PRECISIONS",
    "ModelSource",
    "Settings",
    "available_cores",
    "check_device_name",
    "load_settings",
    "parse_model_source",
]

DEFAULT_MODEL = "Marqo/nsfw-image-detection-384"
#: What NSFW_DEVICE / --device accept (`cuda:N` picks the N-th GPU).
DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
#: What NSFW_PRECISION accepts: the model card's fp32, or bf16 / fp16 (OpenVINO or torch autocast; fp16 on a GPU only).
PRECISIONS = ("fp32", "bf16", "fp16")
#: What NSFW_ENGINE accepts.
ENGINES = ("auto", "torch", "openvino", "onnxruntime")
#: What NSFW_SCREEN_DECODE accepts.
DECODE_STAGES = ("auto", "separate", "fused")
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def check_device_name(value: str, variable: str = "NSFW_DEVICE") -> str:
    """`value` normalised (lower case, no spaces) if it is one of `DEVICE_CHOICES`, else a `ConfigurationError`.

    Only the name is checked here (a `screen` driver may have no GPU while its cluster does); whether this machine
    has the device is `model.runtime.devices.resolve_device`'s job.
    """
    name = value.strip().lower()
    if not _DEVICE.fullmatch(name):
        raise ConfigurationError(f"{variable}={value!r} is not a device: use one of {', '.join(DEVICE_CHOICES)}.")
    return name


def available_cores() -> int:
    """CPU cores this process may run on (respects affinity masks and container limits)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def display_model_id(repo_id: str | None, source: str | None) -> str:
    """The one displayed model id, everywhere (status panel, results, reports, results files): a Hub id as it is,
    else the last part of a local folder's path, so that no page or report shows where a server keeps its files."""
    if repo_id:
        return repo_id
    return Path(source).name if source else "(unknown)"


@dataclass(frozen=True)
class ModelSource:
    """Where the model comes from: a Hub repository (optionally pinned) or a local folder."""

    repo_id: str | None = None
    revision: str | None = None
    local_dir: str | None = None

    @property
    def is_local(self) -> bool:
        return self.local_dir is not None

    @property
    def display_id(self) -> str:
        """The model as people see it: the Hub id, or a local folder's name (never the folder's full path)."""
        return display_model_id(self.repo_id, self.local_dir)

    def __str__(self) -> str:
        if self.local_dir is not None:
            return self.local_dir
        return f"{self.repo_id}@{self.revision}" if self.revision else str(self.repo_id)


@dataclass(frozen=True)
class Settings:
    """Everything configurable, read once.

    Environment variables (all optional):
        NSFW_MODEL: Hub id, `id@revision`, or a local folder with config.json + model.safetensors.
        NSFW_MAX_PIXELS: largest image accepted, in pixels (default 40,000,000).
        NSFW_MAX_SIDE: longest side accepted, in pixels (default 10,000).
        NSFW_MAX_FILE_MB: largest upload accepted, in megabytes (default 50).
        NSFW_BATCH_SIZE: images per forward pass (default: 16 on a CPU, 8 with OpenVINO or ONNX Runtime, 64 on a
            CUDA GPU, 32 on Apple MPS).
        NSFW_DEVICE: where the forward pass runs: auto (default: CUDA if present, else Apple MPS, else the CPU),
            cpu, cuda, cuda:N or mps. A device this machine lacks is refused, naming the ones it has.
        NSFW_PRECISION: fp32 (default, the model card's), bf16 (a GPU, or a CPU with native bf16) or fp16 (GPU).
        NSFW_ENGINE: what runs the forward pass on a CPU: auto (default: the fastest exact engine installed),
            torch, openvino or onnxruntime. On a GPU the engine is always torch.
        NSFW_THREADS: torch threads (default: the CPU cores this process may use).
        NSFW_SPLIT_BATCHES: 1 (default) runs a merged batch as two halves at once, each on half of the threads;
            0 runs it whole on all of them.
        NSFW_LOAD_TIMEOUT: seconds after which loading the model gives up (default 20).
        NSFW_FAST_DECODE: 1 (default) lets large JPEGs decode at reduced scale; 0 decodes every pixel.
        NSFW_SCAN_MAX_TILES: most tiles a high-resolution scan classifies besides the whole image (default 32).
        NSFW_MAX_FRAMES: most frames of an animation sampled, evenly spaced (default 32).
        NSFW_ZIP_MAX_MEMBERS: most entries a zip may hold, folders and `__MACOSX/` included (default 10,000).
        NSFW_ZIP_MAX_TOTAL_MB: most megabytes the members read from uploaded zips may expand to (default 2048).
        NSFW_ZIP_MAX_MEMBER_MB: largest member read from a zip, uncompressed, in megabytes (default 50).
        NSFW_ZIP_MAX_RATIO: highest compression ratio accepted for a member over 1 MB (default 100).
        NSFW_QUEUE_SIZE: requests that may wait for the model; more get "queue full, try again" (default 64).
        RAY_ADDRESS: the Ray cluster `python -m model screen` and `evaluate` use (default: a local Ray).
        NSFW_SCREEN_STALL_WARN: seconds without a new row after which `screen` says what it waits for (default 120).
        NSFW_SCREEN_STALL_LIMIT: seconds without a new row after which `screen` checkpoints and stops, naming what it
            waited for (default 600).
        NSFW_SCREEN_DECODE: where `screen` decodes files: auto (default: in separate CPU tasks when the cluster has
            GPUs, in the model's actors otherwise), separate or fused.
        RAY_JOB_CONFIG_JSON_ENV_VAR: set by Ray in a `ray job submit` entrypoint; read to name the job (a relative
            `--out` is refused there: Ray deletes the job's working directory).
    """

    model: ModelSource = ModelSource(repo_id=DEFAULT_MODEL)
    max_pixels: int = 40_000_000
    max_side: int = 10_000
    max_file_bytes: int = 50 * 1024 * 1024
    #: None: the device's default (model.runtime.devices.default_batch_size); a loaded `Classifier` holds the number
    #: used.
    batch_size: int | None = None
    threads: int | None = None
    split_batches: bool = True
    load_timeout: float = 20.0
    fast_decode: bool = True
    scan_max_tiles: int = 32
    max_frames: int = 32
    zip_max_members: int = 10_000
    zip_max_total_bytes: int = 2048 * 1024 * 1024
    zip_max_member_bytes: int = 50 * 1024 * 1024
    zip_max_ratio: int = 100
    queue_size: int = 64
    ray_address: str | None = None
    device: str = "auto"
    precision: str = "fp32"
    engine: str = "auto"
    stall_warn_seconds: float = 120.0
    stall_limit_seconds: float = 600.0
    decode_stage: str = "auto"
    #: The submission id when this process is a Ray job's entrypoint (`ray job submit`), else None.
    ray_job: str | None = None


def parse_model_source(value: str) -> ModelSource:
    """Turn `NSFW_MODEL` / `--model` into a `ModelSource`.

    A value naming an existing folder (or starting with `.`, `/` or `~`) is a local folder; anything else is a Hub
    id, optionally followed by `@revision`.
    """
    value = value.strip()
    if not value:
        raise ConfigurationError(
            "NSFW_MODEL is empty: give a Hub id such as Marqo/nsfw-image-detection-384 or a folder."
        )
    expanded = os.path.expanduser(value)
    if os.path.isdir(expanded) or value.startswith((".", "/", "~")):
        return ModelSource(local_dir=os.path.abspath(expanded))
    repo_id, _, revision = value.partition("@")
    if "@" in revision or not repo_id or (_ and not revision):
        raise ConfigurationError(
            f"Cannot read model source {value!r}: use 'owner/name', 'owner/name@revision' or a folder path."
        )
    return ModelSource(repo_id=repo_id, revision=revision or None)


def _read_int(environ: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ConfigurationError(f"{name}={raw!r} must be at least {minimum}.")
    return value


def _read_float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number.") from None
    if value <= 0:
        raise ConfigurationError(f"{name}={raw!r} must be positive.")
    return value


def _read_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name}={raw!r} must be 1 or 0.")


def _read_choice(environ: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() not in choices:
        raise ConfigurationError(f"{name}={raw!r} is not one of {', '.join(choices)}.")
    return raw.lower()


def load_settings(
    environ: Mapping[str, str] | None = None, model: str | None = None, device: str | None = None
) -> Settings:
    """Read settings from the environment (and optional `--model` / `--device` overrides)."""
    environ = os.environ if environ is None else environ
    threads_raw = environ.get("NSFW_THREADS", "").strip()
    batch_raw = environ.get("NSFW_BATCH_SIZE", "").strip()
    device_name = device or environ.get("NSFW_DEVICE", "").strip() or Settings.device
    return Settings(
        model=parse_model_source(model or environ.get("NSFW_MODEL", "") or DEFAULT_MODEL),
        max_pixels=_read_int(environ, "NSFW_MAX_PIXELS", Settings.max_pixels),
        max_side=_read_int(environ, "NSFW_MAX_SIDE", Settings.max_side),
        max_file_bytes=_read_int(environ, "NSFW_MAX_FILE_MB", Settings.max_file_bytes // 2**20) * 2**20,
        batch_size=_read_int(environ, "NSFW_BATCH_SIZE", 1) if batch_raw else None,
        threads=_read_int(environ, "NSFW_THREADS", 1) if threads_raw else None,
        split_batches=_read_bool(environ, "NSFW_SPLIT_BATCHES", Settings.split_batches),
        load_timeout=_read_float(environ, "NSFW_LOAD_TIMEOUT", Settings.load_timeout),
        fast_decode=_read_bool(environ, "NSFW_FAST_DECODE", Settings.fast_decode),
        scan_max_tiles=_read_int(environ, "NSFW_SCAN_MAX_TILES", Settings.scan_max_tiles),
        max_frames=_read_int(environ, "NSFW_MAX_FRAMES", Settings.max_frames),
        zip_max_members=_read_int(environ, "NSFW_ZIP_MAX_MEMBERS", Settings.zip_max_members),
        zip_max_total_bytes=_read_int(environ, "NSFW_ZIP_MAX_TOTAL_MB", Settings.zip_max_total_bytes // 2**20) * 2**20,
        zip_max_member_bytes=_read_int(environ, "NSFW_ZIP_MAX_MEMBER_MB", Settings.zip_max_member_bytes // 2**20)
        * 2**20,
        zip_max_ratio=_read_int(environ, "NSFW_ZIP_MAX_RATIO", Settings.zip_max_ratio),
        queue_size=_read_int(environ, "NSFW_QUEUE_SIZE", Settings.queue_size),
        ray_address=environ.get("RAY_ADDRESS", "").strip() or None,
        device=check_device_name(device_name, "--device" if device else "NSFW_DEVICE"),
        precision=_read_choice(environ, "NSFW_PRECISION", Settings.precision, PRECISIONS),
        engine=_read_choice(environ, "NSFW_ENGINE", Settings.engine, ENGINES),
        stall_warn_seconds=_read_float(environ, "NSFW_SCREEN_STALL_WARN", Settings.stall_warn_seconds),
        stall_limit_seconds=_read_float(environ, "NSFW_SCREEN_STALL_LIMIT", Settings.stall_limit_seconds),
        decode_stage=_read_choice(environ, "NSFW_SCREEN_DECODE", Settings.decode_stage, DECODE_STAGES),
        ray_job=_ray_job(environ),
    )


def _ray_job(environ: Mapping[str, str]) -> str | None:
    """The submission id of the Ray job this process runs as (Ray sets RAY_JOB_CONFIG_JSON_ENV_VAR for a
    `ray job submit` entrypoint), or None outside a job."""
    raw = environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR", "").strip()
    if not raw:
        return None
    try:
        metadata = json.loads(raw).get("metadata") or {}
    except (json.JSONDecodeError, AttributeError):
        metadata = {}
    return str(metadata.get("job_submission_id") or "a Ray job")
