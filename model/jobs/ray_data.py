"""Ray Data wiring: files read as bytes, zip members expanded under the archive rules, `classify_sources` run in
actors that each load the model once; the same code on a laptop's local Ray or on a cluster."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import pyarrow as pa

from ..config import Settings, available_cores
from ..errors import ClassifierError, ConfigurationError, log_file_failure
from ..evaluation.reports import ModelRecord
from ..evaluation.results import rows_table
from ..inputs.archives import ArchiveLimits, folder_label, open_uploads
from ..inputs.sources import Sources, normalize
from ..tasks.pipeline import FileResult

__all__ = ["INPUT_SCHEMA", "Plan", "Screener", "build_dataset", "plan_actors", "ray_session"]

logger = logging.getLogger(__name__)

#: What every read stage hands to the actors: a file's name, its bytes, an error found while reading (then the
#: bytes are empty) and its true label (1 NSFW, 0 SFW) when the archive's folders give one.
INPUT_SCHEMA = pa.schema([("path", pa.string()), ("bytes", pa.binary()), ("error", pa.string()), ("truth", pa.int8())])
#: Local object store: enough for a few hundred images in flight, small enough to leave the model its memory.
LOCAL_OBJECT_STORE_BYTES = 512 * 1024**2
#: Files per actor call; `classify_sources` runs them in forward passes of `NSFW_BATCH_SIZE`.
ACTOR_BATCH = 64


@dataclass(frozen=True)
class Plan:
    """How many actors classify, what each one reserves, and how many torch threads it runs."""

    actors: int
    cpus: float
    gpus: float
    threads: int

    def describe(self) -> str:
        device = f"{self.gpus:g} GPU" if self.gpus else f"{self.threads} torch thread(s)"
        return f"{self.actors} actor(s), each {device}"


def plan_actors(resources: Mapping[str, float], actors: int | None = None, threads: int | None = None) -> Plan:
    """Actors for the cluster's resources: one per GPU when it has GPUs, else about one per two CPUs.

    A CPU actor reserves one CPU and never all of them: read tasks need a free CPU, and on a 2-core machine Ray
    Data waits forever when actors hold every CPU. Its torch threads may use the CPUs it did not reserve.
    """
    gpus = int(resources.get("GPU", 0))
    cpus = max(1, int(resources.get("CPU", 1)))
    if gpus:
        count = actors or gpus
        return Plan(actors=count, cpus=1, gpus=1, threads=threads or max(1, min(4, cpus // count - 1)))
    count = actors or max(1, (cpus - 1) // 2)
    if count >= cpus:
        count = max(1, cpus - 1)
    # On one CPU the actor reserves half of it, so that a read task can still be scheduled beside it.
    return Plan(actors=count, cpus=1 if cpus >= 2 else 0.5, gpus=0, threads=threads or max(1, cpus // count))


@contextlib.contextmanager
def ray_session(address: str | None) -> Iterator[dict[str, float]]:
    """Connect to the Ray cluster at `address`, or start a local one sized to this machine and shut it down at the
    end (Ctrl-C included). Yields the cluster's resources. Dashboard and usage statistics off, logs quiet."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
        import ray.data
    except ImportError:
        raise ConfigurationError(
            "screen and evaluate run on Ray Data, which is not installed: pip install -r requirements-ray.txt"
        ) from None

    started = False
    if not ray.is_initialized():
        common: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
        if address:
            ray.init(address=address, **common)
        else:
            ray.init(
                address="local",
                num_cpus=available_cores(),
                include_dashboard=False,
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                **common,
            )
        started = True
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield dict(ray.cluster_resources())
    finally:
        if started:
            ray.shutdown()


def _file_rows(batch: pa.Table) -> pa.Table:
    """`read_binary_files` output in `INPUT_SCHEMA` (no error, no label yet)."""
    rows = batch.num_rows
    return pa.Table.from_arrays(
        [
            batch.column("path").cast(pa.string()),
            batch.column("bytes").cast(pa.binary()),
            pa.nulls(rows, pa.string()),
            pa.nulls(rows, pa.int8()),
        ],
        schema=INPUT_SCHEMA,
    )


def _member_rows(row: dict[str, Any], limits: ArchiveLimits, done: Mapping[str, frozenset[str]]) -> list[dict]:
    """Every member of one zip, read under the Batch tab's archive rules; a refused member or archive is an error
    row. Members already in a resumed output are left out."""
    archive = str(row["archive"])
    truth = row.get("truth")
    skip = done.get(archive, frozenset())
    rows: list[dict[str, Any]] = []

    def add(member: str, data: bytes, error: str | None) -> None:
        name = f"{archive}/{member}"
        if name in skip:
            return
        try:
            label = folder_label(member)
        except ValueError:
            label = None
        rows.append({"path": name, "bytes": data, "error": error, "truth": truth if label is None else label})

    try:
        with open_uploads([archive], limits, names=[os.path.basename(archive)]) as uploads:
            for member, data in uploads.sources():
                add(member, data if isinstance(data, bytes) else b"", None)
            for item in uploads.skipped:
                add(item.file, b"", item.reason)
    except ClassifierError as error:
        if archive not in skip:
            rows.append({"path": archive, "bytes": b"", "error": str(error), "truth": truth})
    except Exception as error:  # one bad archive never stops the job; logged without its name
        message = log_file_failure(logger, "Opening an archive", error)
        if archive not in skip:
            rows.append({"path": archive, "bytes": b"", "error": message, "truth": truth})
    return rows


def _as_input(batch: pa.Table) -> pa.Table:
    """Zip rows in `INPUT_SCHEMA` (an all-null column would otherwise have no type)."""
    return pa.Table.from_arrays(
        [batch.column(name).cast(field.type) for name, field in zip(INPUT_SCHEMA.names, INPUT_SCHEMA, strict=True)],
        schema=INPUT_SCHEMA,
    )


class Screener:
    """The Ray Data actor: loads the classifier once, then turns batches of file bytes into result rows."""

    def __init__(self, settings: Settings, threshold: float, threads: int) -> None:
        from ..runtime.classifier import Classifier

        # NSFW_DEVICE keeps its default ("auto": the GPU Ray gave this actor, if any); threads are per actor.
        self.classifier = Classifier.load(replace(settings, threads=threads, split_batches=threads >= 2))
        self.threshold = threshold
        self.model = ModelRecord.from_info(self.classifier.info)

    def __call__(self, batch: pa.Table) -> pa.Table:
        from ..tasks.pipeline import classify_sources

        paths = batch.column("path").to_pylist()
        errors = batch.column("error").to_pylist()
        truths = {path: truth for path, truth in zip(paths, batch.column("truth").to_pylist(), strict=True)}
        data = batch.column("bytes")
        readable = [(path, data[index].as_py()) for index, path in enumerate(paths) if errors[index] is None]
        results = classify_sources(self.classifier, readable)
        results.extend(FileResult(file=path, error=error) for path, error in zip(paths, errors, strict=True) if error)
        return rows_table(results, self.threshold, self.model, truths)


def build_dataset(
    sources: Sources,
    settings: Settings,
    threshold: float,
    plan: Plan,
    *,
    done: frozenset[str] = frozenset(),
) -> Any:
    """The screening pipeline: read (files as bytes, zips member by member) -> classify in actors -> result rows.

    Args:
        sources: what to read; files and archives named in `done` (a resumed output) are left out.
        settings: the model and limits each actor loads.
        threshold: the verdict's threshold.
        plan: actors and what each reserves.
        done: names already classified.
    """
    import ray.data

    parts = []
    files = [path for path in sources.files if path not in done]
    if files:
        parts.append(
            ray.data.read_binary_files(files, include_paths=True).map_batches(_file_rows, batch_format="pyarrow")
        )
    if sources.archives:
        members_done: dict[str, set[str]] = {}
        for name in done:
            archive = next((archive for archive in sources.archives if name.startswith(archive + "/")), None)
            if archive is not None or name in sources.archives:
                members_done.setdefault(archive or name, set()).add(name)
        items = [{"archive": archive, "truth": sources.truths.get(archive)} for archive in sources.archives]
        limits = ArchiveLimits.from_settings(settings)
        skip = {archive: frozenset(names) for archive, names in members_done.items()}
        parts.append(
            ray.data.from_items(items)
            .flat_map(partial(_member_rows, limits=limits, done=skip))
            .map_batches(_as_input, batch_format="pyarrow")
        )
    if not parts:
        return None
    dataset = parts[0] if len(parts) == 1 else parts[0].union(*parts[1:])
    with warnings.catch_warnings():
        # max_restarts has no named parameter yet (Ray 2.60): passing it is the only way to keep Ray from restarting
        # a crashed actor, and from printing a warning about that on every run.
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated", category=DeprecationWarning)
        return _classify(dataset, settings, threshold, plan)


def _classify(dataset: Any, settings: Settings, threshold: float, plan: Plan) -> Any:
    import ray.data

    return dataset.map_batches(
        Screener,
        fn_constructor_kwargs={"settings": settings, "threshold": threshold, "threads": plan.threads},
        compute=ray.data.ActorPoolStrategy(size=plan.actors),
        num_cpus=plan.cpus,
        num_gpus=plan.gpus,
        batch_size=ACTOR_BATCH,
        batch_format="pyarrow",
        max_restarts=0,  # a crashed actor fails the job with its error (resume keeps what was done)
    )


def display_names(sources: Sources) -> dict[str, str]:
    """Ray's name -> ours, for the URIs whose scheme Ray drops (local paths keep theirs)."""
    return {normalize(path): path for path in sources.files if normalize(path) != path}
