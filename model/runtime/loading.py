"""Hub repository or local folder -> timm model, its data config, its labels and the resolved revision.

A Hub model's files are fetched by `model.runtime.hub` (which also diagnoses a failed download and falls back to the
cache, saying so in `ModelInfo.note`); the model is then built here by timm's own `local-dir:` loader from that
folder, after its config and the cached weights' checksum are checked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors
import timm
import torch

from ..config import ModelSource, display_model_id
from ..errors import CorruptWeightsError, IncompatibleModelError, ModelNotFoundError
from .hub import CONFIG_FILE, WEIGHTS_FILE, fetch_snapshot

__all__ = ["LoadedModel", "ModelInfo", "load_model"]

logger = logging.getLogger(__name__)

#: The label (compared case-insensitively) whose probability is the NSFW score.
NSFW_LABEL = "nsfw"
_SHA256 = re.compile(r"[0-9a-f]{64}")


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
