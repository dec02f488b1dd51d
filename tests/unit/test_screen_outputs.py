"""Results files: the same rows in Parquet, CSV and JSON lines, a fixed schema, atomic writes, bounded reads."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from model.errors import ResultsFileError, ResultsFileTooLargeError
from model.evaluation.reports import ModelRecord
from model.evaluation.results import (
    COLUMNS,
    SCHEMA,
    ResultsWriter,
    labelled_rows,
    model_of,
    read_previous,
    read_results,
    rows_table,
)
from model.runtime.classifier import Prediction
from model.tasks.pipeline import FileResult

MODEL = ModelRecord("Marqo/nsfw-image-detection-384", "0123abcd")


def scored(file: str, score: float) -> FileResult:
    prediction = Prediction(probabilities={"NSFW": score, "SFW": 1 - score}, nsfw_score=score)
    return FileResult(file, prediction, width=640, height=480, format="JPEG")


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_every_format_reads_back_the_rows_it_was_given(suffix: str, tmp_path: Path) -> None:
    results = [
        scored("a/nsfw/x.jpg", 0.9123456789012345),
        FileResult("=HYPERLINK(evil).png", error="Unsupported file: this is a text file."),
        scored("b.png", 0.25),
    ]
    table = rows_table(results, 0.5, MODEL, {"a/nsfw/x.jpg": 1})
    out = tmp_path / f"results{suffix}"
    with ResultsWriter(out) as writer:
        writer.write(table)
        writer.commit()
    assert read_previous(out).to_pylist() == table.to_pylist()  # every digit of every score, names unchanged
    if suffix == ".csv":
        assert "'=HYPERLINK" in out.read_text()  # a spreadsheet shows it as text, never runs it
    if suffix == ".jsonl":
        first = json.loads(out.read_text().splitlines()[0])
        assert list(first) == list(COLUMNS) and first["probabilities"] == {
            "NSFW": 0.9123456789012345,
            "SFW": 1 - first["nsfw_score"],
        }


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_a_file_of_errors_only_keeps_the_schema_and_stays_readable(suffix: str, tmp_path: Path) -> None:
    table = rows_table([FileResult("a.jpg", error="empty"), FileResult("b.jpg", error="empty")], 0.5, MODEL)
    out = tmp_path / f"errors{suffix}"
    with ResultsWriter(out) as writer:
        writer.write(table)
        writer.commit()
    again = read_previous(out)
    assert again.schema.equals(SCHEMA)
    assert again.column("nsfw_score").null_count == 2
    if suffix == ".parquet":
        assert pq.read_schema(out).equals(SCHEMA)  # all-null columns keep their types


def test_a_failed_write_leaves_the_previous_output_whole_and_no_temporary_file(tmp_path: Path) -> None:
    out = tmp_path / "results.parquet"
    with ResultsWriter(out) as writer:
        writer.write(rows_table([scored("kept.png", 0.3)], 0.5, MODEL))
        writer.commit()
    with pytest.raises(RuntimeError, match="stopped"), ResultsWriter(out) as writer:
        writer.write(rows_table([scored("new.png", 0.7)], 0.5, MODEL))
        raise RuntimeError("stopped before commit")
    assert read_results(out).column("file").to_pylist() == ["kept.png"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["results.parquet"]


def test_reading_is_bounded_by_rows_and_bytes_with_a_message_that_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    path.write_text("file,label,nsfw_score\n" + "".join(f"f{index}.jpg,sfw,0.1\n" for index in range(5)))
    with pytest.raises(ResultsFileTooLargeError, match="more than 3 rows"):
        read_results(path, max_rows=3)
    with pytest.raises(ResultsFileTooLargeError, match="evaluate a sample"):
        read_results(path, max_bytes=10)
    assert read_results(path, max_rows=5).num_rows == 5


def test_hand_made_results_files_need_file_label_and_score_with_known_labels(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    path.write_text("file,score\na.jpg,0.5\n")
    with pytest.raises(ResultsFileError, match="no nsfw_score or label column"):
        labelled_rows(read_results(path), "scores.csv")
    path.write_text("file,label,nsfw_score\na.jpg,maybe,0.5\n")
    with pytest.raises(ResultsFileError, match=r"Row 2 of scores\.csv has the label 'maybe'"):
        labelled_rows(read_results(path), "scores.csv")
    path.write_bytes(b"\x00\xff binary junk")
    path.rename(tmp_path / "junk.parquet")
    with pytest.raises(ResultsFileError, match="could not be read as PARQUET"):
        read_results(tmp_path / "junk.parquet")


def test_true_labels_come_from_true_label_when_screen_wrote_them(tmp_path: Path) -> None:
    results = [scored("n.jpg", 0.9), scored("s.jpg", 0.8), scored("unknown.jpg", 0.1), FileResult("bad.jpg", error="x")]
    table = rows_table(results, 0.5, MODEL, {"n.jpg": 1, "s.jpg": 0, "bad.jpg": 1})
    rows = labelled_rows(table)
    assert rows.files == ("n.jpg", "s.jpg") and rows.labels == (1, 0)  # "label" is the verdict, not the truth
    assert {item.file: item.reason for item in rows.skipped} == {"unknown.jpg": "no true_label", "bad.jpg": "x"}
    assert model_of(table) == MODEL
