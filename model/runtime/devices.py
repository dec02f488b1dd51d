"""Where and how precisely the forward pass runs: device names checked against this machine, native bf16 detected."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from ..config import DEVICE_CHOICES, PRECISIONS, check_device_name
from ..errors import ConfigurationError

__all__ = [
    "DEVICE_CHOICES",
    "PRECISIONS",
    "autocast",
    "available_devices",
    "check_device_name",
    "check_precision",
    "cpu_has_native_bf16",
    "default_batch_size",
    "describe_device",
    "resolve_device",
]

#: CPU features (torch.cpu.get_capabilities) that give bf16 matrix products in hardware; without one of them oneDNN
#: emulates bf16 and is slower than fp32.
_NATIVE_BF16 = ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16")
#: Images per forward pass when NSFW_BATCH_SIZE is not set: a CPU is saturated by small batches, a GPU is not.
_BATCH_SIZES = {"cpu": 16, "cuda": 64, "mps": 32}
#: On a CPU, an exported engine keeps the working memory of the largest batch it has run (OpenVINO: +290 MB at
#: batch 8, +480 MB at 16, in ms per image alike), so it gets batches of 8: what 8 concurrent clients merge anyway.
_EXPORTED_ENGINE_BATCH_SIZE = 8
_AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_available()


def available_devices() -> list[str]:
    """The devices this machine offers, CPU first: e.g. ['cpu'], ['cpu', 'cuda:0', 'cuda:1'] or ['cpu', 'mps']."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    if _mps_available():
        devices.append("mps")
    return devices


def resolve_device(name: str) -> torch.device:
    """The torch device for a (checked) device name; `auto` is CUDA if present, else Apple MPS, else the CPU.

    Raises:
        ConfigurationError: the device asked for is not on this machine; the message lists what is.
    """
    name = check_device_name(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and device.index is None and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    available = available_devices()
    if str(device) not in available:
        raise ConfigurationError(
            f"NSFW_DEVICE={name!r} asks for a device this machine does not have; available: {', '.join(available)}. "
            "Set NSFW_DEVICE to one of them, or to auto."
        )
    return device


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 matrix products in hardware (AVX512-BF16, AMX or Arm BF16)."""
    capabilities = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    return any(capabilities.get(feature, False) for feature in _NATIVE_BF16)


def check_precision(precision: str, device: torch.device) -> None:
    """Refuse a precision that `device` cannot run fast and exactly enough, naming NSFW_PRECISION.

    Raises:
        ConfigurationError: unknown precision, fp16 off a GPU, or bf16 on a CPU without native bf16.
    """
    if precision not in PRECISIONS:
        choices = ", ".join(PRECISIONS)
        raise ConfigurationError(f"NSFW_PRECISION={precision!r} is not a precision: use one of {choices}.")
    if precision == "fp16" and device.type == "cpu":
        raise ConfigurationError(
            "NSFW_PRECISION='fp16' runs on a GPU only (CPUs compute fp16 slowly). Use fp32, or bf16 on a CPU with "
            "native bf16."
        )
    if precision == "bf16" and device.type == "cpu" and not cpu_has_native_bf16():
        raise ConfigurationError(
            "NSFW_PRECISION='bf16' needs a CPU with native bf16 (AVX512-BF16 or AMX), and this one has neither: it "
            "would be slower than fp32. Use NSFW_PRECISION=fp32."
        )


def autocast(precision: str, device: torch.device) -> AbstractContextManager[object]:
    """The autocast context for `precision` on `device` (nothing for fp32: the weights stay fp32 throughout)."""
    dtype = _AUTOCAST_DTYPES.get(precision)
    if dtype is None:
        return nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def default_batch_size(device: torch.device, engine: str = "torch") -> int:
    """Images per forward pass on `device` with `engine` when NSFW_BATCH_SIZE is not set."""
    if device.type == "cpu" and engine != "torch":
        return _EXPORTED_ENGINE_BATCH_SIZE
    return _BATCH_SIZES.get(device.type, 16)


def describe_device(device: torch.device, threads: int) -> str:
    """For people: 'CPU, 2 threads', 'NVIDIA H200 (139 GiB), cuda:0' or 'Apple MPS'."""
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        return f"{properties.name} ({properties.total_memory / 2**30:.0f} GiB), {device}"
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU, {threads} thread{'s' if threads != 1 else ''}"
