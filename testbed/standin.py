"""The stand-in checkpoint: Marqo's architecture and published config.json with weights whose output moves with the
input, laid out as a local folder and as a Hugging Face cache entry. Tests and benchmarks only."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import timm
import torch
from safetensors.torch import save_file

__all__ = ["COMMIT", "REPO_ID", "build_standin", "cache_repo_folder", "install_in_cache", "reference_config"]

REPO_ID = "Marqo/nsfw-image-detection-384"
#: The commit hash the stand-in pretends to be, as a Hub snapshot is named.
COMMIT = "0123456789abcdef0123456789abcdef01234567"
_SHARED_CONFIG = Path(__file__).resolve().parents[2] / "shared" / "reference" / "marqo-config.json"
_COPY_CONFIG = Path(__file__).with_name("marqo-config.json")
#: Scale of the head: random ViT features vary little between images, so the head amplifies them until the NSFW
#: probability spans most of (0, 1) across ordinary photos (a constant output would hide preprocessing bugs).
_HEAD_SCALE = 1.5
#: Random-feature projections of ordinary photos sit around -0.8; the bias centres them so scores straddle 0.5.
_HEAD_OFFSET = 0.8


def reference_config() -> dict:
    """The published config.json (from ../shared when present, else the committed copy of it)."""
    path = _SHARED_CONFIG if _SHARED_CONFIG.is_file() else _COPY_CONFIG
    return json.loads(path.read_text(encoding="utf-8"))


def build_standin(folder: Path, *, swap_labels: bool = False, config: dict | None = None, seed: int = 0) -> Path:
    """Write config.json + model.safetensors for a stand-in of the Marqo model into `folder`.

    With `swap_labels`, the label order in config.json and the head rows are both reversed: the same model, so the
    NSFW score must not change.
    """
    config = json.loads(json.dumps(config or reference_config()))
    torch.manual_seed(seed)
    model = timm.create_model(config["architecture"], pretrained=False, num_classes=config["num_classes"])
    with torch.no_grad():
        direction = torch.randn(model.head.weight.shape[1])
        direction /= direction.norm()
        model.head.weight.copy_(torch.stack([direction, -direction]) * _HEAD_SCALE)
        model.head.bias.copy_(torch.tensor([1.0, -1.0]) * _HEAD_SCALE * _HEAD_OFFSET)
        if swap_labels:
            model.head.weight.copy_(model.head.weight.flip(0))
            model.head.bias.copy_(model.head.bias.flip(0))
            config["label_names"] = list(reversed(config["label_names"]))
    folder.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


def cache_repo_folder(hub_cache: Path, repo_id: str = REPO_ID) -> Path:
    return hub_cache / f"models--{repo_id.replace('/', '--')}"


def install_in_cache(
    source: Path, hub_cache: Path, *, repo_id: str = REPO_ID, commit: str = COMMIT, ref: str | None = "main"
) -> Path:
    """Lay `source`'s files out as huggingface_hub does: blobs by hash, a snapshot of symlinks, refs/<ref>."""
    repo = cache_repo_folder(hub_cache, repo_id)
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for file in sorted(path for path in source.iterdir() if path.is_file()):  # not an engine export's folder
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        blob = repo / "blobs" / digest
        if not blob.exists():
            shutil.copyfile(file, blob)
        link = snapshot / file.name
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(Path("..", "..", "blobs", digest))
    if ref is not None:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / ref).write_text(commit, encoding="utf-8")
    return snapshot
