"""`screen` and `evaluate`: sources -> results file (checkpointed, resumable) and labelled results -> JSON report."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.parquet as pq

from ..config import Settings
from ..errors import ConfigurationError
from ..evaluation.chain import evaluate_scores
from ..evaluation.html_report import evaluation_html
from ..evaluation.metrics import DEFAULT_TARGET_PRECISION, DEFAULT_TARGET_RECALL
from ..evaluation.reports import ModelRecord
from ..evaluation.results import (
    COLUMNS,
    SCHEMA,
    ResultsWriter,
    check_output,
    is_results_file,
    labelled_rows,
    model_of,
    read_previous,
    read_results,
    rows_table,
)
from ..files import atomic_file, write_atomically
from ..inputs.sources import Sources, collect_sources
from ..thresholds import DEFAULT_THRESHOLD, NSFW, SFW

__all__ = ["EvaluateOptions", "ScreenOptions", "run_evaluate", "run_screen"]

logger = logging.getLogger(__name__)

#: Rows between two checkpoints of a running job (and at least this often: `CHECKPOINT_SECONDS`).
CHECKPOINT_ROWS = 2000
CHECKPOINT_SECONDS = 60.0
PROGRESS_SECONDS = 5.0


@dataclass(frozen=True)
class ScreenOptions:
    """What `screen` was asked: sources, output, threshold, resume, and where and how wide to run."""

    sources: Sequence[str]
    out: Path
    threshold: float = DEFAULT_THRESHOLD
    resume: bool = False
    address: str | None = None
    actors: int | None = None
    threads: int | None = None


@dataclass(frozen=True)
class EvaluateOptions:
    """What `evaluate` was asked: sources (images or results files), report path (and the HTML page's, if any),
    threshold, targets, prevalence."""

    sources: Sequence[str]
    out: Path
    threshold: float = DEFAULT_THRESHOLD
    target_precision: float | None = DEFAULT_TARGET_PRECISION
    target_recall: float | None = DEFAULT_TARGET_RECALL
    prevalence: float | None = None
    scores_out: Path | None = None
    html_out: Path | None = None
    address: str | None = None
    actors: int | None = None
    threads: int | None = None


@dataclass
class _Progress:
    """Files done, images/s and the time left, on stderr every few seconds."""

    total: int
    stream: TextIO
    started: float = field(default_factory=time.perf_counter)
    done: int = 0
    _shown: float = 0.0

    def add(self, count: int, *, final: bool = False) -> None:
        self.done += count
        now = time.perf_counter()
        if not final and now - self._shown < PROGRESS_SECONDS:
            return
        self._shown = now
        rate = self.done / max(now - self.started, 1e-9)
        total = max(self.total, self.done)
        left = (total - self.done) / rate if rate > 0 else float("inf")
        eta = "" if final or left == float("inf") else f", about {_duration(left)} left"
        percent = f" ({100 * self.done / total:.0f} %)" if total else ""
        self.stream.write(f"screen: {self.done:,} / {total:,} files{percent}, {rate:.1f} images/s{eta}\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _parts_folder(out: Path) -> Path:
    """Where a running job checkpoints its rows (Parquet parts), next to the output."""
    return out.with_name(f".{out.name}.parts")


def _write_part(folder: Path, tables: list[pa.Table]) -> None:
    if not tables:
        return
    folder.mkdir(parents=True, exist_ok=True)
    number = len(list(folder.glob("part-*.parquet")))
    final = folder / f"part-{number:06d}.parquet"
    with atomic_file(final) as temporary:
        pq.write_table(pa.concat_tables(tables), temporary)


def _previous_rows(out: Path) -> pa.Table:
    """Rows of an earlier run: the output file and the checkpoints of an interrupted run."""
    tables = [read_previous(out)]
    folder = _parts_folder(out)
    if folder.is_dir():
        tables.extend(read_previous(part) for part in sorted(folder.glob("part-*.parquet")))
    return pa.concat_tables(tables)


def _refused_table(sources: Sources, settings: Settings, threshold: float, done: frozenset[str]) -> pa.Table:
    from ..tasks.pipeline import FileResult

    model = ModelRecord(id=settings.model.display_id, revision=settings.model.revision)
    results = [FileResult(file=item.file, error=item.reason) for item in sources.refused if item.file not in done]
    return rows_table(results, threshold, model, sources.truths)


def _finish(table: pa.Table, names: dict[str, str], truths: dict[str, int]) -> pa.Table:
    """Ray's names back to ours (URIs) and the true labels known on the driver (folders, manifests)."""
    if not names and not truths:
        return table
    files = [names.get(file, file) for file in table.column("file").to_pylist()]
    known = table.column("true_label").to_pylist()
    labels = [
        label if label is not None or file not in truths else (NSFW if truths[file] else SFW)
        for file, label in zip(files, known, strict=True)
    ]
    table = table.set_column(COLUMNS.index("file"), "file", pa.array(files, pa.string()))
    return table.set_column(COLUMNS.index("true_label"), "true_label", pa.array(labels, pa.string()))


def screen_rows(
    options: ScreenOptions | EvaluateOptions,
    settings: Settings,
    *,
    previous: pa.Table | None = None,
    parts: Path | None = None,
    stream: TextIO = sys.stderr,
) -> tuple[pa.Table, dict[str, Any]]:
    """Classify every source not already in `previous` on Ray; checkpoint into `parts` as rows arrive.

    Returns the new rows (in `SCHEMA`) and the run's figures (files, classified, seconds, images/s).
    """
    from .ray_data import build_dataset, display_names, plan_actors, ray_session

    started = time.perf_counter()
    sources = collect_sources(options.sources, max_file_bytes=settings.max_file_bytes)
    done = frozenset(previous.column("file").to_pylist()) if previous is not None else frozenset()
    threshold = options.threshold
    refused = _refused_table(sources, settings, threshold, done)
    new: list[pa.Table] = [refused]
    pending: list[pa.Table] = list(new)
    progress = _Progress(total=sum(1 for file in sources.files if file not in done) + refused.num_rows, stream=stream)
    progress.done = refused.num_rows
    names = display_names(sources)
    checkpoint_at = time.perf_counter()
    with ray_session(options.address or settings.ray_address) as resources:
        plan = plan_actors(resources, options.actors, options.threads)
        stream.write(f"screen: {progress.total:,} files and {len(sources.archives)} archive(s) on {plan.describe()}\n")
        dataset = build_dataset(sources, settings, threshold, plan, done=done)
        try:
            batches = () if dataset is None else dataset.iter_batches(batch_size=None, batch_format="pyarrow")
            for batch in batches:
                table = _finish(batch, names, sources.truths)
                new.append(table)
                pending.append(table)
                progress.add(table.num_rows)
                rows = sum(part.num_rows for part in pending)
                if parts is not None and (
                    rows >= CHECKPOINT_ROWS or time.perf_counter() - checkpoint_at > CHECKPOINT_SECONDS
                ):
                    _write_part(parts, pending)
                    pending, checkpoint_at = [], time.perf_counter()
        except KeyboardInterrupt:
            if parts is not None:
                _write_part(parts, pending)
                kept = sum(table.num_rows for table in new)
                stream.write(f"screen: interrupted; {kept:,} new rows kept. Run it again with --resume to finish.\n")
            raise
    rows = pa.concat_tables(new)
    seconds = time.perf_counter() - started
    classified = rows.num_rows - rows.column("nsfw_score").null_count
    figures = {
        "classified": classified,
        "errors": rows.column("nsfw_score").null_count,
        "seconds": round(seconds, 2),
        "images_per_second": round(classified / seconds, 2) if seconds > 0 else None,
        "actors": plan.actors,
    }
    return rows, figures


def _summary(table: pa.Table, figures: dict[str, Any], kept: int) -> dict[str, Any]:
    labels = Counter(table.column("label").to_pylist())
    return {
        "files": table.num_rows,
        "nsfw": labels.get(NSFW, 0),
        "sfw": labels.get(SFW, 0),
        "errors": table.column("nsfw_score").null_count,
        "kept_from_previous_output": kept,
        **figures,
    }


def run_screen(options: ScreenOptions, settings: Settings, stream: TextIO = sys.stderr) -> dict[str, Any]:
    """`python -m model screen`: classify, write `options.out` atomically, return the summary.

    With `resume`, rows already in the output (or checkpointed by an interrupted run) are kept, not classified.
    """
    out = check_output(options.out)
    parts = _parts_folder(out)
    previous = _previous_rows(out) if options.resume else SCHEMA.empty_table()
    if not options.resume and parts.exists():
        shutil.rmtree(parts)
    rows, figures = screen_rows(options, settings, previous=previous, parts=parts, stream=stream)
    with ResultsWriter(out) as writer:
        writer.write(previous)
        writer.write(rows)
        writer.commit()
    shutil.rmtree(parts, ignore_errors=True)
    summary = _summary(pa.concat_tables([previous, rows]), figures, previous.num_rows)
    summary["out"] = str(out)
    stream.write(
        f"screen: {summary['files']:,} files in {out.name}: {summary['nsfw']:,} NSFW, {summary['sfw']:,} SFW, "
        f"{summary['errors']:,} error(s); {figures['classified']:,} classified in {figures['seconds']:.1f} s "
        f"({figures['images_per_second'] or 0:.1f} images/s)"
        + (f", {previous.num_rows:,} kept from the previous output" if previous.num_rows else "")
        + "\n"
    )
    return summary


def run_evaluate(options: EvaluateOptions, settings: Settings, stream: TextIO = sys.stderr) -> dict[str, Any]:
    """`python -m model evaluate`: labelled images (classified on Ray) or results files -> the `/evaluate` report.

    Raises:
        EvaluationError: a subclass, when nothing is labelled, only one class is, or a results file is unusable.
        ConfigurationError: a threshold, target or prevalence out of range, or mixed sources.
    """
    started = time.perf_counter()
    results_files = [source for source in options.sources if is_results_file(source)]
    if results_files and len(results_files) != len(options.sources):
        raise ConfigurationError(
            "Give either results files (with an nsfw_score column) or labelled images, not both in one evaluation."
        )
    if results_files:
        table = pa.concat_tables(
            [_conform_loose(read_results(path)) for path in results_files], promote_options="permissive"
        )
    else:
        table, _figures = screen_rows(options, settings, stream=stream)
        if options.scores_out is not None:
            with ResultsWriter(options.scores_out) as writer:
                writer.write(table)
                writer.commit()
    labelled = labelled_rows(table, results_files[0] if len(results_files) == 1 else "the results")
    evaluated = evaluate_scores(
        labelled,
        model_of(table),
        options.threshold,
        target_precision=options.target_precision,
        target_recall=options.target_recall,
        prevalence=options.prevalence,
    )
    report, evaluation = evaluated.report, evaluated.evaluation
    out = Path(options.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, json.dumps(report, indent=2, allow_nan=False))
    if options.html_out is not None:
        html_out = Path(options.html_out)
        html_out.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(
            html_out, evaluation_html(evaluated, source=", ".join(Path(source).name for source in options.sources))
        )
    stream.write(
        f"evaluate: {evaluation.n:,} labelled images ({evaluation.n_nsfw:,} NSFW, {evaluation.n_sfw:,} SFW), "
        f"{len(labelled.skipped):,} skipped; at {evaluation.threshold:g}: precision {evaluation.precision:.3f}, "
        f"recall {evaluation.recall:.3f}, ROC AUC {evaluation.roc_auc:.3f}; {time.perf_counter() - started:.1f} s\n"
    )
    return report


def _conform_loose(table: pa.Table) -> pa.Table:
    """A hand-made results file's columns as strings and floats, so that several files concatenate."""
    return table.select([name for name in table.column_names if name in COLUMNS])
