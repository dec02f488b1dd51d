"""Results files: one row per file in a fixed schema, written atomically as Parquet, CSV or JSON lines, read back
within row and byte limits (for `--resume`, `evaluate` and the Evaluate tab)."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ..errors import ConfigurationError, MissingLabelsError, ResultsFileError, ResultsFileTooLargeError
from ..files import commit_file, temporary_path
from ..inputs.archives import LABEL_VALUES, Skipped
from ..tasks.pipeline import FileResult, LabelledScores
from ..thresholds import NSFW, SFW, verdict
from .reports import ModelRecord, safe_cell

__all__ = [
    "COLUMNS",
    "FORMATS",
    "MAX_BYTES",
    "MAX_ROWS",
    "SCHEMA",
    "UPLOAD_MAX_BYTES",
    "UPLOAD_MAX_ROWS",
    "ResultsWriter",
    "check_output",
    "is_results_file",
    "is_results_upload",
    "labelled_rows",
    "model_of",
    "read_labelled",
    "read_previous",
    "read_results",
    "rows_table",
]

logger = logging.getLogger(__name__)

#: One row per input file. `label` is the verdict at `threshold` (as `python -m model` prints it); `true_label`
#: is the known answer (nsfw/sfw folders or a manifest's label column), null when none was given.
SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("label", pa.string()),
        ("nsfw_score", pa.float64()),
        ("threshold", pa.float64()),
        ("probabilities", pa.map_(pa.string(), pa.float64())),
        ("error", pa.string()),
        ("model_id", pa.string()),
        ("revision", pa.string()),
        ("width", pa.int64()),
        ("height", pa.int64()),
        ("format", pa.string()),
        ("true_label", pa.string()),
    ]
)
COLUMNS = tuple(SCHEMA.names)
FORMATS = (".parquet", ".csv", ".jsonl")
#: Default reading limits: a results file of two million rows is about 200 MB as CSV.
MAX_ROWS = 5_000_000
MAX_BYTES = 1024 * 1024 * 1024
#: What the app reads from one uploaded results file: two million scored rows (about 200 MB of CSV, 40 MB of Parquet).
UPLOAD_MAX_ROWS = 2_000_000
UPLOAD_MAX_BYTES = 256 * 1024 * 1024
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Columns written as text in CSV: a formula-like file name gets a leading apostrophe there (see
#: model.evaluation.reports).
_TEXT_COLUMNS = ("file", "error", "true_label")


def check_output(path: str | os.PathLike[str]) -> Path:
    """The output path, if its extension names a format we write; `ConfigurationError` otherwise."""
    output = Path(path)
    if output.suffix.casefold() not in FORMATS:
        raise ConfigurationError(
            f"Cannot write results to {output.name}: use a .parquet (default), .csv or .jsonl file name."
        )
    if output.is_dir():
        raise ConfigurationError(f"{output} is a folder: give a file name such as results.parquet.")
    return output


def rows_table(
    results: Sequence[FileResult],
    threshold: float,
    model: ModelRecord,
    truths: Mapping[str, int | None] | None = None,
) -> pa.Table:
    """`results` as a table in `SCHEMA`: scores and verdicts, or the error; `truths` maps file -> 1 (NSFW) / 0."""
    truths = truths or {}
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for result in results:
        prediction = result.prediction
        truth = truths.get(result.file)
        row = {
            "file": result.file,
            "label": None if prediction is None else verdict(prediction.nsfw_score, threshold),
            "nsfw_score": None if prediction is None else float(prediction.nsfw_score),
            "threshold": threshold,
            "probabilities": None if prediction is None else list(prediction.probabilities.items()),
            "error": result.error if prediction is None else None,
            "model_id": model.id,
            "revision": model.revision,
            "width": result.width,
            "height": result.height,
            "format": result.format,
            "true_label": None if truth is None else (NSFW if truth else SFW),
        }
        for name, value in row.items():
            columns[name].append(value)
    return pa.Table.from_pydict(columns, schema=SCHEMA)


def _conform(table: pa.Table) -> pa.Table:
    """`table` with every column of `SCHEMA`, in order and type (missing ones null)."""
    arrays = []
    for field in SCHEMA:
        if field.name in table.column_names:
            column = table.column(field.name)
            if field.name == "probabilities" and not pa.types.is_map(column.type):
                column = pa.array(
                    [None if text is None else list(json.loads(text).items()) for text in column.to_pylist()],
                    type=field.type,
                )
            arrays.append(column.cast(field.type))
        else:
            arrays.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


class ResultsWriter:
    """Writes tables in `SCHEMA` to a temporary file next to `path`; `commit()` moves it into place in one step, so
    a crash or Ctrl-C leaves the previous file whole (never half a file). Use it as a context manager."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = check_output(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.temporary = temporary_path(self.path)
        self.rows = 0
        self._kind = self.path.suffix.casefold()
        self._parquet: pq.ParquetWriter | None = None
        self._text: io.TextIOWrapper | None = None
        if self._kind == ".parquet":
            self._parquet = pq.ParquetWriter(self.temporary, SCHEMA)
        else:
            self._text = open(self.temporary, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed in close())
            if self._kind == ".csv":
                csv.writer(self._text, lineterminator="\n").writerow(COLUMNS)

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
        self.temporary.unlink(missing_ok=True)  # nothing left behind unless commit() moved it

    def write(self, table: pa.Table) -> None:
        table = _conform(table)
        self.rows += table.num_rows
        if self._parquet is not None:
            self._parquet.write_table(table)
            return
        if self._text is None:
            raise ValueError("write() after close()")
        records = table.to_pylist()
        if self._kind == ".jsonl":
            for record in records:
                record["probabilities"] = None if record["probabilities"] is None else dict(record["probabilities"])
                self._text.write(json.dumps(record, allow_nan=False) + "\n")
            return
        writer = csv.writer(self._text, lineterminator="\n")
        for record in records:
            probabilities = record["probabilities"]
            record["probabilities"] = None if probabilities is None else json.dumps(dict(probabilities))
            if record["nsfw_score"] is not None:
                record["nsfw_score"] = repr(record["nsfw_score"])  # every digit: a resumed file keeps its scores
            writer.writerow(
                [
                    "" if record[name] is None else (safe_cell(record[name]) if name in _TEXT_COLUMNS else record[name])
                    for name in COLUMNS
                ]
            )

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        if self._text is not None:
            self._text.close()
            self._text = None

    def commit(self) -> None:
        """Close the temporary file, flush it to disk and move it over `path` atomically."""
        self.close()
        commit_file(self.temporary, self.path)


def _unsafe_cell(value: str | None) -> str | None:
    """Undo `safe_cell`: the apostrophe it put before a formula-like CSV cell."""
    if value and value.startswith("'") and value[1:].startswith(_FORMULA_START):
        return value[1:]
    return value


def _too_many(name: str, max_rows: int) -> ResultsFileTooLargeError:
    return ResultsFileTooLargeError(
        f"{name} has more than {max_rows:,} rows, the most read here. Evaluate a sample, or use "
        "`python -m model evaluate` on a machine with more memory."
    )


def _read_csv(path: Path, name: str, max_rows: int) -> pa.Table:
    types = {column: SCHEMA.field(column).type for column in COLUMNS if column != "probabilities"}
    types["probabilities"] = pa.string()
    types["label"] = pa.string()
    options = pa_csv.ConvertOptions(column_types=types, strings_can_be_null=True)
    batches, rows = [], 0
    with pa_csv.open_csv(path, convert_options=options) as reader:
        for batch in reader:
            rows += batch.num_rows
            if rows > max_rows:
                raise _too_many(name, max_rows)
            batches.append(batch)
        schema = reader.schema
    table = pa.Table.from_batches(batches, schema=schema)
    for column in _TEXT_COLUMNS:
        if column in table.column_names:
            values = [_unsafe_cell(value) for value in table.column(column).to_pylist()]
            table = table.set_column(table.column_names.index(column), column, pa.array(values, pa.string()))
    return table


def _read_jsonl(path: Path, name: str, max_rows: int) -> pa.Table:
    records: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            if len(records) >= max_rows:
                raise _too_many(name, max_rows)
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ResultsFileError(f"Line {number} of {name} is not a JSON object.")
            if isinstance(record.get("probabilities"), dict):
                record["probabilities"] = json.dumps(record["probabilities"])
            records.append(record)
    present = [column for column in COLUMNS if any(column in record for record in records)]
    types = {column: (pa.string() if column == "probabilities" else SCHEMA.field(column).type) for column in present}
    if "label" in types:
        for record in records:
            if record.get("label") is not None:
                record["label"] = str(record["label"])
    return pa.Table.from_pydict(
        {column: [record.get(column) for record in records] for column in present},
        schema=pa.schema([(column, types[column]) for column in present]),
    )


def read_results(
    path: str | os.PathLike[str], *, max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES, name: str | None = None
) -> pa.Table:
    """Read a results file (.parquet, .csv or .jsonl) whole, refusing it past `max_rows` rows or `max_bytes` bytes.

    Columns of `SCHEMA` that the file holds keep their types; a hand-made file may hold only `file`, `label` and
    `nsfw_score`. `name` is how messages call the file (default: its file name).

    Raises:
        ResultsFileTooLargeError: past a limit.
        ResultsFileError: unreadable, or not one of the three formats.
    """
    source = Path(path)
    name = name or source.name
    kind = Path(name).suffix.casefold() if Path(name).suffix else source.suffix.casefold()
    if kind not in FORMATS:
        raise ResultsFileError(f"{name} is not a results file: give a .parquet, .csv or .jsonl file.")
    size = source.stat().st_size
    if size > max_bytes:
        raise ResultsFileTooLargeError(
            f"{name} is {size / 1024**2:,.0f} MB; the most read here is {max_bytes / 1024**2:,.0f} MB. Keep only the "
            "file, label and nsfw_score columns (Parquet is about five times smaller than CSV), or evaluate a sample."
        )
    try:
        if kind == ".parquet":
            parquet = pq.ParquetFile(source)
            if parquet.metadata.num_rows > max_rows:
                raise _too_many(name, max_rows)
            wanted = [column for column in COLUMNS if column in parquet.schema_arrow.names]
            return parquet.read(columns=wanted)
        if kind == ".csv":
            return _read_csv(source, name, max_rows)
        return _read_jsonl(source, name, max_rows)
    except (pa.ArrowException, OSError, ValueError, UnicodeDecodeError) as error:
        if isinstance(error, ResultsFileError):
            raise
        logger.info("Unreadable results file: %s", type(error).__name__)
        raise ResultsFileError(
            f"{name} could not be read as {kind[1:].upper()} ({str(error).splitlines()[0][:200]}). "
            "Check that the file is complete and of the type its extension says."
        ) from None


def read_previous(path: Path, *, max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES) -> pa.Table:
    """An earlier output of `screen`, in `SCHEMA` (for `--resume`); an empty table when there is none."""
    if not path.exists():
        return SCHEMA.empty_table()
    return _conform(read_results(path, max_rows=max_rows, max_bytes=max_bytes))


def _label_value(value: object) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return LABEL_VALUES.get(str(value).strip().casefold())


def labelled_rows(table: pa.Table, name: str = "the results file") -> LabelledScores:
    """Files, true labels (1 = NSFW) and scores of a results table; unscored or unlabelled rows are skipped.

    The true label is the `true_label` column when the file has one (what `screen` writes), else `label` (a
    hand-made file of file, label, nsfw_score).

    Raises:
        ResultsFileError: the file lacks the file or nsfw_score column, or a label is not nsfw/sfw/1/0/true/false.
        MissingLabelsError: no row has a label.
    """
    missing = [column for column in ("file", "nsfw_score") if column not in table.column_names]
    label_column = "true_label" if "true_label" in table.column_names else "label"
    if label_column not in table.column_names:
        missing.append("label")
    if missing:
        raise ResultsFileError(
            f"{name} has no {' or '.join(missing)} column. A results file needs file, label (nsfw or sfw) and "
            f"nsfw_score columns; found {', '.join(table.column_names[:12]) or 'none'}."
        )
    try:
        scores_column = table.column("nsfw_score").cast(pa.float64()).to_pylist()
    except pa.ArrowInvalid:
        raise ResultsFileError(f"The nsfw_score column of {name} holds values that are not numbers.") from None
    files_column = [str(file) for file in table.column("file").to_pylist()]
    labels_column = table.column(label_column).to_pylist()
    errors = table.column("error").to_pylist() if "error" in table.column_names else [None] * table.num_rows
    files: list[str] = []
    labels: list[int] = []
    scores: list[float] = []
    skipped: list[Skipped] = []
    for row, (file, raw_label, score, error) in enumerate(
        zip(files_column, labels_column, scores_column, errors, strict=True), start=2
    ):
        if score is None or (isinstance(score, float) and math.isnan(score)):
            skipped.append(Skipped(file, error or "no score"))
            continue
        label = _label_value(raw_label)
        if label is None:
            if raw_label is None or str(raw_label).strip() == "":
                skipped.append(Skipped(file, f"no {label_column}"))
                continue
            raise ResultsFileError(
                f"Row {row} of {name} has the {label_column} {str(raw_label)[:40]!r}; use nsfw, sfw, 1, 0, true or "
                "false."
            )
        files.append(file)
        labels.append(label)
        scores.append(float(score))
    if not files:
        raise MissingLabelsError(
            f"No scored row of {name} has a {label_column}. `screen` fills true_label when its source has labels "
            "(nsfw/sfw folders, or a manifest's label column); a hand-made file needs file, label and nsfw_score."
        )
    return LabelledScores(files=tuple(files), labels=tuple(labels), scores=tuple(scores), skipped=tuple(skipped))


def model_of(table: pa.Table) -> ModelRecord:
    """The model named in the file (the first row's model_id and revision), or a placeholder."""

    def first(column: str) -> str | None:
        if column not in table.column_names:
            return None
        values = table.column(column).drop_null()
        return str(values[0].as_py()) if len(values) else None

    return ModelRecord(id=first("model_id") or "(named in the results file: unknown)", revision=first("revision"))


def is_results_file(path: str) -> bool:
    """A file of scores (has an `nsfw_score` column), as opposed to images or a manifest of paths."""
    suffix = Path(path).suffix.casefold()
    if suffix not in FORMATS or not os.path.isfile(path):
        return False
    try:
        if suffix == ".parquet":
            return "nsfw_score" in pq.read_schema(path).names
        with open(path, encoding="utf-8", errors="replace") as text:
            head = text.readline()
    except (OSError, pa.ArrowException):
        return False
    return "nsfw_score" in (head if suffix == ".jsonl" else [name.strip().strip('"') for name in head.split(",")])


def is_results_upload(files: Sequence[str] | None) -> bool:
    """One uploaded .parquet or .jsonl file (never images, zips or a manifest, so a broken one gets the results file's
    own message), or one .csv file that holds scores (an `nsfw_score` column) rather than a manifest of paths."""
    if not files or len(files) != 1:
        return False
    suffix = Path(files[0]).suffix.casefold()
    return suffix in FORMATS and (suffix != ".csv" or is_results_file(files[0]))


def read_labelled(
    path: str | os.PathLike[str],
    name: str | None = None,
    *,
    max_rows: int = UPLOAD_MAX_ROWS,
    max_bytes: int = UPLOAD_MAX_BYTES,
) -> tuple[LabelledScores, ModelRecord]:
    """The labelled scores of one results file (labels from `name`) and the model that produced them.

    Raises:
        ResultsFileError: a subclass, when the file is past the limits, unreadable, or lacks its columns.
        EvaluationError: a subclass, when no row is labelled.
    """
    name = name or Path(path).name
    table = read_results(path, max_rows=max_rows, max_bytes=max_bytes, name=name)
    return replace(labelled_rows(table, name), manifest=name), model_of(table)
