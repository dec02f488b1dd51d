"""Hugging Face ZeroGPU: the forward pass wrapped in `spaces.GPU`, which is a no-op anywhere else.

`spaces` must be imported before anything initialises CUDA, so `model/__init__.py` imports this module first. On
ZeroGPU the decorated function runs in a process forked per call with the GPU attached: it receives only a key and
the CPU batch (the classifier stays in the parent's memory, which the fork shares) and returns CPU probabilities.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import spaces  # before torch touches CUDA: the package refuses to work after that
from spaces.config import Config as _SpacesConfig

if TYPE_CHECKING:
    import torch

__all__ = ["GPU_SECONDS_PER_BATCH", "on_zerogpu", "register", "run_on_gpu"]

#: GPU time requested per call: a ViT-Tiny batch of 64 runs in well under a second on any GPU; ZeroGPU schedules
#: short requests first, so a call asks for little (plus a second per 256 images of a larger batch).
GPU_SECONDS_PER_BATCH = 5

_forwards: dict[int, Callable[[torch.Tensor], torch.Tensor]] = {}


def on_zerogpu() -> bool:
    """Whether this process runs on ZeroGPU hardware (the `spaces` package reads SPACES_ZERO_GPU itself)."""
    return bool(_SpacesConfig.zero_gpu)


def register(forward: Callable[[torch.Tensor], torch.Tensor]) -> int:
    """Make `forward` callable by `run_on_gpu` under the returned key; register before the app launches."""
    key = len(_forwards)
    _forwards[key] = forward
    return key


def _duration(key: int, batch: torch.Tensor) -> int:
    return GPU_SECONDS_PER_BATCH + batch.shape[0] // 256


@spaces.GPU(duration=_duration)
def run_on_gpu(key: int, batch: torch.Tensor) -> torch.Tensor:
    """The registered forward pass `key` on `batch` (CPU in, CPU probabilities out), with a GPU on ZeroGPU."""
    return _forwards[key](batch).cpu()
