"""One manifest reader: the Batch / Evaluate tabs (and `/evaluate`) and `screen` / `evaluate` accept the same
manifests with the same labels, and refuse the same ones with the same message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from model.errors import ManifestError
from model.inputs.archives import open_uploads
from model.inputs.sources import collect_sources
from testbed.zips import tiny_png

GOOD = {
    "header": b"file,label\na.png,nsfw\nb.png,sfw\n",
    "semicolons, other column names, ./ prefix": b"path;class\n./a.png;True\nb.png;0\n",
    "tabs without a header": b"a.png\t1\nb.png\tfalse\n",
    "byte-order mark and extra columns": b"\xef\xbb\xbfimage,label,notes\na.png,NSFW,seen\nb.png,SFW,\n",
    "a duplicate with the same label": b"filename,label\na.png,nsfw\nb.png,sfw\na.png,1\n",
}
BAD = {
    "empty": (b"", "labels.csv is empty"),
    "no file column": (b"name,verdict\na.png,nsfw\n", "labels.csv has no file column"),
    "header only": (b"file,label\n", "labels.csv has a header but no rows"),
    "unknown label": (b"file,label\na.png,maybe\n", "labels.csv: line 2: label 'maybe' is not one of"),
    "short row": (b"file,label\na.png\n", "labels.csv: line 2: expected a file and a label, found 1 column"),
    "conflict": (b"file,label\na.png,nsfw\na.png,sfw\n", "labels.csv: line 3: 'a.png' is listed again"),
    "not UTF-8": (b"file,label\n\xff\xfe.png,nsfw\n", "labels.csv is not UTF-8 text"),
}


def _folder(tmp_path: Path, manifest: bytes) -> Path:
    (tmp_path / "a.png").write_bytes(tiny_png(1))
    (tmp_path / "b.png").write_bytes(tiny_png(2))
    path = tmp_path / "labels.csv"
    path.write_bytes(manifest)
    return path


def _tab_labels(manifest: Path) -> dict[str, int]:
    """What the Evaluate tab and `/evaluate` read (`score_labelled` opens the upload this way)."""
    files = [manifest.parent / "a.png", manifest.parent / "b.png", manifest]
    with open_uploads(files, labelled=True) as uploads:
        return uploads.labels()


def _cli_labels(manifest: Path) -> dict[str, int]:
    """What `screen` and `evaluate` read."""
    sources = collect_sources([str(manifest)], max_file_bytes=1024 * 1024)
    return {Path(file).name: label for file, label in sources.truths.items()}


def _refusal(read: Callable[[Path], dict[str, int]], manifest: Path) -> str:
    with pytest.raises(ManifestError) as refused:
        read(manifest)
    return str(refused.value).replace(str(manifest), manifest.name)


@pytest.mark.parametrize("text", GOOD.values(), ids=GOOD.keys())
def test_the_tabs_and_the_command_line_read_a_manifest_to_the_same_labels(tmp_path: Path, text: bytes) -> None:
    manifest = _folder(tmp_path, text)
    assert _tab_labels(manifest) == _cli_labels(manifest) == {"a.png": 1, "b.png": 0}


@pytest.mark.parametrize(("text", "message"), BAD.values(), ids=BAD.keys())
def test_the_tabs_and_the_command_line_refuse_a_manifest_with_the_same_message(
    tmp_path: Path, text: bytes, message: str
) -> None:
    manifest = _folder(tmp_path, text)
    tab, cli = _refusal(_tab_labels, manifest), _refusal(_cli_labels, manifest)
    assert tab == cli
    assert tab.startswith(message) or tab.startswith(f"The manifest {message}")


def test_a_parquet_manifest_reads_like_the_same_csv_on_the_command_line(tmp_path: Path) -> None:
    manifest = _folder(tmp_path, GOOD["header"])
    table = pa.table({"File": ["a.png", "b.png"], "Class": ["nsfw", "0"]})
    pq.write_table(table, tmp_path / "labels.parquet")
    assert _cli_labels(tmp_path / "labels.parquet") == _cli_labels(manifest) == {"a.png": 1, "b.png": 0}


def test_a_manifest_without_labels_lists_files_for_screening(tmp_path: Path) -> None:
    manifest = _folder(tmp_path, b"path\na.png\nb.png\n")
    sources = collect_sources([str(manifest)], max_file_bytes=1024 * 1024)
    assert [Path(file).name for file in sources.files] == ["a.png", "b.png"]
    assert sources.truths == {}
