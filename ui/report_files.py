"""Report files for the Batch and Evaluate tabs: written for download (and pruned), the model record they carry, and
the blurred previews and gallery size shown beside them."""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from gradio.utils import get_upload_folder

from model.evaluation.reports import ModelRecord
from model.inputs.previews import blurred

from .loader import ModelLoader

__all__ = ["REPORT_FOLDER", "blurred", "file_stamp", "gallery_height", "model_record", "report_root", "write_report"]

logger = logging.getLogger(__name__)

#: Report files offered for download live in Gradio's upload folder (GRADIO_TEMP_DIR), one fresh folder per
#: report, and are deleted after an hour.
REPORT_FOLDER = "nsfw-reports"
_REPORT_MAX_AGE_SECONDS = 3600


def gallery_height(count: int, columns: int, row_pixels: int = 140, max_rows: int = 3) -> int:
    """A gallery height that fits `count` previews (up to `max_rows` rows, then it scrolls): Gradio's automatic
    height leaves a tall empty box under a single row."""
    rows = min(max_rows, max(1, -(-count // columns)))
    return rows * row_pixels + 48


def model_record(loader: ModelLoader) -> ModelRecord:
    """The loaded model's id (Hub id, or a local folder's name) and resolved revision, for reports."""
    info = loader.info
    if info is None:
        return ModelRecord(id=loader.settings.model.display_id, revision=loader.settings.model.revision)
    return ModelRecord.from_info(info)


def _prune(root: Path, now: float) -> None:
    for folder in root.iterdir() if root.is_dir() else ():
        try:
            if now - folder.stat().st_mtime > _REPORT_MAX_AGE_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError as error:
            logger.info("Could not prune an old report folder: %s", error.strerror)


def report_root() -> Path:
    """Where report files go: beside Gradio's uploads, so GRADIO_TEMP_DIR moves both."""
    return Path(get_upload_folder()) / REPORT_FOLDER


def file_stamp() -> str:
    """Now (UTC) as download file names carry it: 20261203-180102."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def write_report(name: str, text: str) -> str:
    """Write `text` to a fresh file called `name` (in its own folder, so names never collide) and return its path."""
    now = time.time()
    root = report_root()
    _prune(root, now)
    folder = root / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)
