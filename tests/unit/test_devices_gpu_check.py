"""The GPU check script is ready to run: without a CUDA GPU it stops at once with a message saying what it needs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from benchmarks import gpu_check


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_the_gpu_check_says_it_needs_a_cuda_gpu_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: benchmarks/gpu_check.py needs a CUDA GPU") and "Traceback" not in error
    assert not out.exists()
