"""`screen` and `evaluate`: sources -> results file (checkpointed, resumable) and labelled results -> JSON report."""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import re
import shutil
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.parquet as pq

from ..config import Settings
from ..errors import ClassifierError, ConfigurationError, JobFailedError, JobStalledError
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

__all__ = [
    "EvaluateOptions",
    "JobFailedError",
    "JobStalledError",
    "ScreenOptions",
    "Terminated",
    "output_path",
    "run_evaluate",
    "run_screen",
]

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


class Terminated(KeyboardInterrupt):
    """SIGTERM (Kubernetes, `ray job stop`, a scheduler), handled like Ctrl-C: checkpoint, then stop."""


@dataclass
class _Progress:
    """Files done, images/s and the time left, on stderr every few seconds. The rate (and so the estimate) is
    measured from the first classified rows on, so the model's loading does not make the first estimate wild."""

    total: int
    stream: TextIO
    started: float = field(default_factory=time.perf_counter)
    done: int = 0
    _first_at: float | None = None
    _first_done: int = 0
    _shown: float = 0.0

    def add(self, count: int, *, final: bool = False) -> None:
        now = time.perf_counter()
        self.done += count
        if self._first_at is None:
            self._first_at, self._first_done = now, self.done
        if not final and now - self._shown < PROGRESS_SECONDS:
            return
        self._shown = now
        total = max(self.total, self.done)
        elapsed = now - self._first_at
        measured = self.done - self._first_done
        rate = measured / elapsed if measured > 0 and elapsed > 0 else None
        speed = f", {rate:.1f} images/s" if rate is not None else ""
        eta = ""
        if rate is not None and not final and elapsed >= PROGRESS_SECONDS:
            eta = f", about {_duration((total - self.done) / rate)} left"
        percent = f" ({100 * self.done / total:.0f} %)" if total else ""
        self.say(f"{self.done:,} / {total:,} files{percent}{speed}{eta}")

    def say(self, text: str) -> None:
        self.stream.write(f"screen: {text}\n")
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


#: Runs over the files still missing after Ray lost a node or an actor; each must bring new rows.
MAX_PASSES = 3
#: Seconds a new run waits for the actors of a failed one to go.
RELEASE_SECONDS = 30.0
#: Seconds between two "waiting for the first rows" lines while the actors load the model.
WAITING_SECONDS = 10.0


class _Feed:
    """A dataset's batches, pulled on a background thread so that the driver keeps its clock (the watchdog) and
    takes signals (Ctrl-C, SIGTERM) while Ray waits."""

    def __init__(self, dataset: Any) -> None:
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=16)
        self._dataset = dataset
        threading.Thread(target=self._pull, name="screen-feed", daemon=True).start()

    def _pull(self) -> None:
        try:
            for batch in self._dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
                self._queue.put(("batch", batch))
            self._queue.put(("end", None))
        except BaseException as error:  # handed to the driver's thread, which decides
            self._queue.put(("error", error))

    def get(self, timeout: float) -> tuple[str, Any]:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return "idle", None


@dataclass
class _Collected:
    """The rows of a run as they arrive: kept, checkpointed into `parts`, each file once."""

    parts: Path | None
    progress: _Progress
    finish: Callable[[pa.Table], pa.Table]
    tables: list[pa.Table] = field(default_factory=list)
    pending: list[pa.Table] = field(default_factory=list)
    files: set[str] = field(default_factory=set)
    nodes: set[str] = field(default_factory=set)
    checkpoint_at: float = field(default_factory=time.perf_counter)

    def add(self, table: pa.Table, *, count: bool = True) -> int:
        from .ray_data import NODE_COLUMN

        if NODE_COLUMN in table.column_names:
            self.nodes.update(table.column(NODE_COLUMN).unique().to_pylist())
            table = table.drop_columns([NODE_COLUMN])
        table = self.finish(table)
        names = table.column("file").to_pylist()
        fresh = [index for index, name in enumerate(names) if name not in self.files]
        if len(fresh) < len(names):  # a block Ray ran twice (a retry after a lost node): each file once
            table = table.take(pa.array(fresh, pa.int64()))
        self.files.update(table.column("file").to_pylist())
        self.tables.append(table)
        self.pending.append(table)
        if count:
            self.progress.add(table.num_rows)
        rows = sum(part.num_rows for part in self.pending)
        if self.parts is not None and (
            rows >= CHECKPOINT_ROWS or time.perf_counter() - self.checkpoint_at > CHECKPOINT_SECONDS
        ):
            self.checkpoint()
        return table.num_rows

    def checkpoint(self) -> int:
        """Write the rows not yet checkpointed; returns every row of this run kept so far."""
        if self.parts is not None:
            _write_part(self.parts, self.pending)
        self.pending, self.checkpoint_at = [], time.perf_counter()
        return sum(table.num_rows for table in self.tables)


def _left(sources: Sources, done: set[str]) -> int:
    """Files (and zip members, as counted on the driver) not classified yet."""
    files = sum(1 for file in sources.files if file not in done)
    members = 0
    for archive in sources.archives:
        found = sum(1 for name in done if name == archive or name.startswith(archive + "/"))
        members += max(0, sources.members.get(archive, 1) - found)
    return files + members


def _why_waiting(nodes_at_start: int) -> str:
    """What Ray waits for, in one line: its pending resource demands and the nodes alive."""
    from .ray_data import alive_nodes, pending_demands

    alive = len(alive_nodes())
    demands = pending_demands()
    lost = f"; {nodes_at_start - alive} of {nodes_at_start} node(s) lost" if alive < nodes_at_start else ""
    if demands:
        return f"Ray waits for resources that no node has free: {demands}{lost}"
    return f"nothing is waiting for resources: the actors are loading the model or working on a batch{lost}"


def _watch(feed: _Feed, collected: _Collected, settings: Settings, nodes_at_start: int) -> None:
    """Take batches until the dataset ends; say why when none comes, stop past `stall_limit_seconds`."""
    last_row = last_note = time.perf_counter()
    rows_in_pass = 0
    while True:
        kind, item = feed.get(timeout=1.0)
        now = time.perf_counter()
        if kind == "batch":
            rows_in_pass += collected.add(item)
            last_row = last_note = now
            continue
        if kind == "end":
            return
        if kind == "error":
            raise item
        idle = now - last_row
        if idle >= settings.stall_limit_seconds:
            raise JobStalledError(
                f"no new row for {_duration(idle)} (NSFW_SCREEN_STALL_LIMIT): {_why_waiting(nodes_at_start)}."
            )
        if idle >= settings.stall_warn_seconds and now - last_note >= settings.stall_warn_seconds:
            collected.progress.say(f"no new row for {_duration(idle)}: {_why_waiting(nodes_at_start)}")
            last_note = now
        elif rows_in_pass == 0 and now - last_note >= WAITING_SECONDS:
            collected.progress.say(f"waiting for the first rows ({_duration(idle)}): the actors load the model")
            last_note = now


#: One of our own errors as a traceback prints it: its message already says what to do.
_OUR_ERROR = re.compile(r"^model\.errors\.(\w+): (.+)$", re.MULTILINE)


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else (current.__cause__ or current.__context__)
    return seen


def _one_line(error: BaseException) -> str:
    """The root cause of a Ray error, in one line (Ray wraps it in tracebacks of its own): our own error's message
    when one of ours is inside, else the last line of the innermost error."""
    chain = _chain(error)
    for item in chain:
        found = _OUR_ERROR.findall(str(item))
        if found:
            return found[-1][1].strip()[:600]
    cause = chain[-1]
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    text = lines[-1] if lines else type(cause).__name__
    return f"{type(cause).__name__}: {text}"[:400]


def _actor_failed_to_start(error: BaseException) -> bool:
    """Whether a model actor died in its constructor (the model could not load): the same on every node."""
    return any(getattr(item, "actor_init_failed", False) for item in _chain(error))


def _node_lost(error: BaseException) -> bool:
    """Whether Ray failed because a node, a worker or an actor went away (worth a run on the nodes left)."""
    from ray import exceptions

    kinds = (
        exceptions.ActorDiedError,
        exceptions.ActorUnavailableError,
        exceptions.NodeDiedError,
        exceptions.ObjectLostError,
        exceptions.OwnerDiedError,
        exceptions.WorkerCrashedError,
    )
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kinds) or any(isinstance(getattr(seen, "cause", None), kind) for kind in kinds):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[Callable[[], None]]:
    """SIGTERM raises `Terminated` in the driver's thread, so that it checkpoints like Ctrl-C.

    Yields the function that installs the handler: call it once Ray is up, since a local Ray's start installs its
    own (which exits with status 1). The handler before this block is restored only at its end, after Ray's
    shutdown, so a SIGTERM during the shutdown is still a `Terminated` (exit 143), never Ray's exit 1."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    def install() -> None:
        signal.signal(signal.SIGTERM, handler)

    previous = signal.getsignal(signal.SIGTERM)
    try:
        yield install
    finally:
        signal.signal(signal.SIGTERM, previous)


def screen_rows(
    options: ScreenOptions | EvaluateOptions,
    settings: Settings,
    *,
    previous: pa.Table | None = None,
    parts: Path | None = None,
    stream: TextIO = sys.stderr,
) -> tuple[pa.Table, dict[str, Any]]:
    """Classify every source not already in `previous` on Ray; checkpoint into `parts` as rows arrive.

    A lost node or actor is survived: Ray stops that run with the actor's error, and the files still missing run
    again on the nodes alive (up to `MAX_PASSES` runs, each bringing new rows; a file is kept once). A job that
    gets no row for `settings.stall_limit_seconds` checkpoints and stops, naming what Ray waited for.

    Returns the new rows (in `SCHEMA`) and the run's figures (files, classified, seconds, images/s, actors, nodes).

    Raises:
        JobStalledError: no row for `stall_limit_seconds`.
        JobFailedError: Ray failed, and another run on the nodes left could not finish the job.
        Terminated, KeyboardInterrupt: SIGTERM or Ctrl-C; the rows done are checkpointed first.
    """
    from .ray_data import (
        alive_nodes,
        build_dataset,
        describe_nodes,
        display_names,
        plan_actors,
        ray_session,
        wait_for_free_resources,
    )

    started = time.perf_counter()
    sources = collect_sources(options.sources, max_file_bytes=settings.max_file_bytes)
    done: set[str] = set(previous.column("file").to_pylist()) if previous is not None else set()
    threshold = options.threshold
    refused = _refused_table(sources, settings, threshold, frozenset(done))
    progress = _Progress(total=_left(sources, done) + refused.num_rows, stream=stream)
    names = display_names(sources)
    collected = _Collected(parts=parts, progress=progress, finish=partial(_finish, names=names, truths=sources.truths))
    collected.add(refused, count=False)
    progress.done = refused.num_rows
    archives = f" and {len(sources.archives)} archive(s)" if sources.archives else ""
    found = f"{len(sources.files) + len(sources.refused):,} file(s){archives}"
    with _sigterm_as_interrupt() as catch_sigterm, ray_session(options.address or settings.ray_address) as nodes:
        catch_sigterm()
        plan = plan_actors(nodes, options.actors, options.threads, settings.decode_stage)
        progress.say(f"{progress.total:,} files to classify ({found}) on {describe_nodes(nodes)}: {plan.describe()}")
        try:
            for attempt in range(MAX_PASSES):
                if attempt:  # on the nodes left, as many actors as they hold, once the failed run's are gone
                    wait_for_free_resources(RELEASE_SECONDS)
                    nodes = alive_nodes()
                    plan = plan_actors(nodes, None, options.threads, settings.decode_stage)
                dataset = build_dataset(sources, settings, threshold, plan, done=frozenset(done | collected.files))
                if dataset is None:
                    break
                if attempt == 0:
                    progress.say(f"loading the model in {plan.actors} actor(s); rows follow once one has it")
                before = len(collected.files)
                try:
                    _watch(_Feed(dataset), collected, settings, len(nodes))
                    break
                except Exception as error:
                    if _actor_failed_to_start(error):
                        raise JobFailedError(f"the actors could not load the model: {_one_line(error)}") from None
                    if isinstance(error, ClassifierError) or not _node_lost(error) or attempt == MAX_PASSES - 1:
                        raise
                    if len(collected.files) == before and attempt:
                        raise
                    left = _left(sources, done | collected.files)
                    progress.say(
                        f"Ray lost a node or an actor ({_one_line(error)}); {left:,} file(s) left run again on the "
                        f"nodes alive"
                    )
        except KeyboardInterrupt as interrupt:
            kept = collected.checkpoint()
            signal_name = "SIGTERM" if isinstance(interrupt, Terminated) else "interrupted"
            progress.say(f"{signal_name}; {kept:,} new rows kept. Run it again with --resume to finish.")
            raise
        except ClassifierError:
            kept = collected.checkpoint()
            if kept:
                progress.say(f"stopping; {kept:,} new rows checkpointed. Run it again with --resume to finish.")
            raise
        except Exception as error:
            kept = collected.checkpoint()
            resume = f" {kept:,} new rows are checkpointed: fix the cause, then --resume." if kept else ""
            raise JobFailedError(f"Ray could not finish the job: {_one_line(error)}.{resume}") from None
    rows = pa.concat_tables(collected.tables)
    seconds = time.perf_counter() - started
    classified = rows.num_rows - rows.column("nsfw_score").null_count
    figures = {
        "classified": classified,
        "errors": rows.column("nsfw_score").null_count,
        "seconds": round(seconds, 2),
        "images_per_second": round(classified / seconds, 2) if seconds > 0 else None,
        "actors": plan.actors,
        "nodes": len(collected.nodes),
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


def output_path(out: str | Path, settings: Settings, flag: str = "--out") -> Path:
    """`out` (given as `flag`) as an absolute path; a relative one is refused inside a Ray job, whose working
    directory is a copy that Ray deletes when the job ends."""
    if settings.ray_job and not Path(out).expanduser().is_absolute():
        raise ConfigurationError(
            f"{flag} {out} is a relative path, and this runs as Ray job {settings.ray_job}, whose working directory "
            f"Ray deletes when the job ends. Give {flag} a path on shared storage (or on the head node), e.g. "
            f"{flag} /mnt/shared/{Path(out).name}."
        )
    return Path(out).expanduser().resolve()


def run_screen(options: ScreenOptions, settings: Settings, stream: TextIO = sys.stderr) -> dict[str, Any]:
    """`python -m model screen`: classify, write `options.out` atomically, return the summary.

    With `resume`, rows already in the output (or checkpointed by an interrupted run) are kept, not classified.
    `options.out` is resolved to an absolute path, the one printed and returned.

    Raises:
        ConfigurationError: the output cannot be written, or is relative in a Ray job (whose working directory Ray
            deletes at the end).
    """
    out = check_output(output_path(options.out, settings))
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
        f"screen: {summary['files']:,} files in {out}: {summary['nsfw']:,} NSFW, {summary['sfw']:,} SFW, "
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
    output_path(options.out, settings)  # refused before any work when it cannot be used
    scores_out = output_path(options.scores_out, settings, "--scores") if options.scores_out is not None else None
    html_out = output_path(options.html_out, settings, "--html") if options.html_out is not None else None
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
        if scores_out is not None:
            with ResultsWriter(scores_out) as writer:
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
    out = output_path(options.out, settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, json.dumps(report, indent=2, allow_nan=False))
    if html_out is not None:
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
