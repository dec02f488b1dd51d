"""The one manifest reader: a CSV or Parquet list of files with optional labels, for every path that reads one.

The Batch and Evaluate tabs, `/evaluate`, `screen` and `evaluate` all read manifests here, so one file is accepted
or refused with the same message everywhere. Accepted forms:

- CSV (UTF-8, a byte-order mark is ignored) delimited by commas, semicolons or tabs; Parquet when read from disk.
- A header row naming a file column (`file`, `filename`, `file_name`, `path` or `image`, any case) and optionally a
  label column (`label` or `class`); other columns are ignored. Without a header, a first row such as `a.jpg,nsfw`
  (its second cell a label) means the first two columns are the file and its label.
- Labels `nsfw`/`sfw`, `1`/`0` or `true`/`false` in any case (NSFW is 1); an empty label leaves the file unlabelled.
- Paths use `/` or `\\`; a leading `./` is dropped; rows with an empty file cell and blank lines are ignored.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence

from ..errors import ManifestError

__all__ = [
    "FILE_COLUMNS",
    "LABEL_COLUMNS",
    "LABEL_VALUES",
    "MANIFEST_SUFFIXES",
    "manifest_from_bytes",
    "parse_manifest",
    "read_manifest",
]

#: Manifest label spellings, compared case-insensitively after stripping spaces (NSFW is the positive class, 1).
LABEL_VALUES = {"nsfw": 1, "sfw": 0, "1": 1, "0": 0, "true": 1, "false": 0}
LABEL_SPELLINGS = "nsfw, sfw, 1, 0, true or false"
FILE_COLUMNS = ("file", "filename", "file_name", "path", "image")
LABEL_COLUMNS = ("label", "class")
#: File suffixes read as manifests from disk (`screen`, `evaluate`); uploads to the tabs are CSV only.
MANIFEST_SUFFIXES = (".csv", ".parquet")
_MAX_ROWS = 10_000_000
_MB = 1024 * 1024


def _megabytes(size: int) -> str:
    return f"{size / _MB:.1f} MB"


def _rows(
    header: Sequence[str], rows: Iterable[tuple[int, Sequence[object]]], source: str, word: str
) -> dict[str, int | None]:
    """{file: label or None} from the header and numbered rows; every problem is collected, then refused at once."""
    names = [str(cell).strip().casefold() for cell in header]
    file_column = next((names.index(name) for name in FILE_COLUMNS if name in names), None)
    label_column = next((names.index(name) for name in LABEL_COLUMNS if name in names), None)
    if file_column is None:
        raise ManifestError(
            f"{source} has no file column (its first row is {', '.join(str(cell) for cell in header)!r}). "
            "Start it with the header row 'file,label' (the label column is optional)."
        )
    needed = max(file_column, -1 if label_column is None else label_column)
    labels: dict[str, int | None] = {}
    problems: list[str] = []
    for number, row in rows:
        if len(row) <= needed:
            problems.append(f"{word} {number}: expected a file and a label, found {len(row)} column(s)")
            continue
        cell = row[file_column]
        file = "" if cell is None else str(cell).strip().replace("\\", "/").removeprefix("./")
        if not file:
            continue
        raw = None if label_column is None else row[label_column]
        value = "" if raw is None else str(raw).strip()
        label = LABEL_VALUES.get(value.casefold()) if value else None
        if value and label is None:
            problems.append(f"{word} {number}: label {value[:40]!r} is not one of {LABEL_SPELLINGS} (any case)")
        elif labels.get(file) is not None and label is not None and labels[file] != label:
            problems.append(f"{word} {number}: {file!r} is listed again with the other label")
        elif labels.get(file) is None:
            labels[file] = label
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ManifestError(f"{source}: " + "; ".join(problems[:5]) + more + ".")
    if not labels:
        raise ManifestError(f"{source} has a header but no rows: add one 'file,label' row per image.")
    return labels


def _check_rows(count: int, source: str, max_rows: int) -> None:
    if count > max_rows:
        raise ManifestError(f"The manifest {source} has {count:,} rows; the most read is {max_rows:,}.")


def parse_manifest(text: str, source: str = "manifest.csv", *, max_rows: int = _MAX_ROWS) -> dict[str, int | None]:
    """Read CSV manifest text into {file: label}, in the order listed (label None where the row gives none).

    Raises:
        ManifestError: when the file is empty, has no file column, or with the line numbers of short rows,
            unknown labels or conflicting duplicates.
    """
    text = text.lstrip("\ufeff")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [(number, row) for number, row in enumerate(csv.reader(io.StringIO(text), dialect), start=1) if any(row)]
    if not rows:
        raise ManifestError(f"{source} is empty: write one 'file,label' row per image (labels nsfw or sfw).")
    _check_rows(len(rows) - 1, source, max_rows)
    first = rows[0][1]
    if len(first) >= 2 and first[1].strip().casefold() in LABEL_VALUES:
        return _rows(["file", "label"], rows, source, "line")
    return _rows(first, rows[1:], source, "line")


def manifest_from_bytes(data: bytes, source: str, *, max_rows: int = _MAX_ROWS) -> dict[str, int | None]:
    """`parse_manifest` on the bytes of a CSV file, which must be UTF-8."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestError(f"{source} is not UTF-8 text: save the manifest as CSV (UTF-8).") from None
    return parse_manifest(text, source, max_rows=max_rows)


def read_manifest(path: str | os.PathLike[str], *, max_bytes: int, max_rows: int = _MAX_ROWS) -> dict[str, int | None]:
    """Read a CSV or Parquet manifest from disk into {file: label}, under a size and a row limit.

    Raises:
        ManifestError: when the file is too large, unreadable, or refused by `parse_manifest`'s rules.
    """
    source = os.fspath(path)
    try:
        size = os.stat(source).st_size
        if size > max_bytes:
            raise ManifestError(f"The manifest {source} is {_megabytes(size)}; the limit is {_megabytes(max_bytes)}.")
        if not source.casefold().endswith(".parquet"):
            with open(source, "rb") as file:
                data = file.read()
            return manifest_from_bytes(data, source, max_rows=max_rows)
    except OSError as error:
        raise ManifestError(f"The manifest {source} could not be read ({error.strerror}).") from None
    import pyarrow.parquet as pq  # only where a Parquet manifest is read: the tabs never need pyarrow for this

    try:
        table = pq.read_table(source)
    except Exception as error:  # pyarrow's own errors, named in the message for the person who wrote the file
        raise ManifestError(f"The manifest {source} could not be read ({str(error).splitlines()[0][:200]}).") from None
    _check_rows(table.num_rows, source, max_rows)
    columns = [table.column(index).to_pylist() for index in range(table.num_columns)]
    rows = ((number, [column[number - 1] for column in columns]) for number in range(1, table.num_rows + 1))
    return _rows(table.column_names, rows, source, "row")
