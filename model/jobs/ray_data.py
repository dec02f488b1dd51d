"""Ray Data wiring: files read as bytes, zip members expanded under the archive rules, `classify_sources` run in
actors that each load the model once; the same code on a laptop's local Ray or on a cluster."""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import math
import os
import socket
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import pyarrow as pa

from ..config import Settings, available_cores
from ..errors import (
    ClassifierError,
    ClusterAuthError,
    ClusterUnreachableError,
    ConfigurationError,
    InvalidImageError,
    log_file_failure,
)
from ..evaluation.reports import ModelRecord
from ..evaluation.results import rows_table
from ..inputs.archives import ArchiveLimits, folder_label, open_uploads
from ..inputs.images import ImageLimits, decode_image
from ..inputs.sources import Sources, normalize
from ..tasks.pipeline import FileResult

__all__ = [
    "CONNECT_SECONDS",
    "INPUT_SCHEMA",
    "PIXEL_SCHEMA",
    "READ_CPUS",
    "ClusterAuthError",
    "ClusterUnreachableError",
    "Node",
    "PixelScreener",
    "Plan",
    "Screener",
    "alive_nodes",
    "build_dataset",
    "pending_demands",
    "plan_actors",
    "ray_session",
]

logger = logging.getLogger(__name__)

#: What every read stage hands to the actors: a file's name, its bytes, an error found while reading (then the
#: bytes are empty) and its true label (1 NSFW, 0 SFW) when the archive's folders give one.
INPUT_SCHEMA = pa.schema([("path", pa.string()), ("bytes", pa.binary()), ("error", pa.string()), ("truth", pa.int8())])
#: What the separate decode stage hands to the actors: the model's input as uint8 pixels (height x width x 3, 4x
#: smaller than float32 in the object store), with what the results file records of the original image.
PIXEL_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("pixels", pa.binary()),
        ("error", pa.string()),
        ("truth", pa.int8()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("format", pa.string()),
    ]
)
#: Local object store: enough for a few hundred images in flight, small enough to leave the model its memory.
LOCAL_OBJECT_STORE_BYTES = 512 * 1024**2
#: Most files per actor call; `classify_sources` runs them in forward passes of `NSFW_BATCH_SIZE`. A small job
#: gets smaller calls (at least `MIN_ACTOR_BATCH` files), so that every actor has work.
ACTOR_BATCH = 64
MIN_ACTOR_BATCH = 8
#: CPU reserved by each read (and decode) task. Fractional, so that reads are scheduled beside the actors even on
#: a 1-CPU node, and every node keeps this much free of actors.
READ_CPUS = 0.25
#: A model's data config as a hashable value: what the decode tasks need to build its transform.
Recipe = tuple[tuple[str, Any], ...]
#: Seconds within which a cluster named by `--address` / `RAY_ADDRESS` must answer.
CONNECT_SECONDS = 30.0
#: The column in which actors say which node they ran on (read by the driver, not written to the results).
NODE_COLUMN = "_node"


@dataclass(frozen=True)
class Node:
    """One node of the cluster as the plan sees it: its id and its CPUs and GPUs."""

    node_id: str
    cpus: float
    gpus: float = 0.0

    @classmethod
    def from_resources(cls, resources: Mapping[str, float], node_id: str = "") -> Node:
        return cls(node_id=node_id, cpus=float(resources.get("CPU", 0)), gpus=float(resources.get("GPU", 0)))


@dataclass(frozen=True)
class Plan:
    """How many actors classify, what each one reserves, how many torch threads it runs, where files are decoded
    (in the actors, or in separate CPU tasks that hand uint8 pixels to them), and the node of each actor."""

    actors: int
    cpus: float
    gpus: float
    threads: int
    separate_decode: bool = False
    nodes: int = 1
    #: The node each actor is placed on, in order (soft: Ray moves an actor whose node is gone); empty: Ray's choice.
    placement: tuple[str, ...] = ()

    def describe(self) -> str:
        device = f"{self.cpus:g} CPU + {self.gpus:g} GPU" if self.gpus else f"{self.cpus:g} CPU"
        decode = "files decoded in separate CPU tasks" if self.separate_decode else "files decoded in the actors"
        return (
            f"{self.actors} actor(s) on {self.nodes} node(s), each {device} and {self.threads} torch thread(s); "
            f"{decode}"
        )


Resources = Mapping[str, float] | Sequence[Mapping[str, float] | Node]


def _as_nodes(resources: Resources) -> list[Node]:
    items = [resources] if isinstance(resources, Mapping) else list(resources)
    return [item if isinstance(item, Node) else Node.from_resources(item) for item in items]


def _largest_reservation(nodes: Sequence[tuple[float, int]]) -> float:
    """The CPU each actor reserves: 1, or less on small nodes, so that each node's actors and one read task fit
    (`nodes`: the CPUs and the actors of each)."""
    for cpus in (1.0, 0.5, 0.25):
        if all(count * cpus + READ_CPUS <= total for total, count in nodes):
            return cpus
    return 0.0


def _spread(count: int, nodes: Sequence[Node], wanted: Sequence[int], fits: Sequence[int]) -> list[int]:
    """`count` actors over `nodes`: one on each first, then up to what each wants, then up to what each holds."""
    placed = [0] * len(nodes)
    for limits in ([1] * len(nodes), wanted, fits):
        for index, limit in enumerate(limits):
            while sum(placed) < count and placed[index] < limit:
                placed[index] += 1
    return placed


def plan_actors(
    resources: Resources,
    actors: int | None = None,
    threads: int | None = None,
    decode_stage: str = "auto",
) -> Plan:
    """Actors for the cluster's nodes (or one machine's resources): one per GPU when there are GPUs, else about one
    per two CPUs of each node, and one on every node that can hold one.

    An actor never takes a node's last CPUs: read tasks (`READ_CPUS` each) need room beside it, or Ray Data waits
    forever. On a 1-CPU node the actor reserves half of it. Its torch threads may use the CPUs it did not reserve.

    Raises:
        ConfigurationError: `actors` is more than the nodes can hold beside the reads, or no node can hold one.
    """
    nodes = sorted(_as_nodes(resources), key=lambda node: (-node.gpus, -node.cpus, node.node_id))
    gpu_nodes = [node for node in nodes if node.gpus >= 1]
    if gpu_nodes:
        per_node = [int(node.gpus) for node in gpu_nodes]
        capacity = sum(per_node)
        _check_fits(actors, capacity, f"{len(gpu_nodes)} GPU node(s) with {capacity} GPU(s) in all: one actor per GPU")
        count = actors or capacity
        placed = _spread(count, gpu_nodes, per_node, per_node)
        used = [(node, number) for node, number in zip(gpu_nodes, placed, strict=True) if number]
        fewest = min(node.cpus / number for node, number in used)
        return Plan(
            actors=count,
            cpus=_largest_reservation([(node.cpus, number) for node, number in used]),
            gpus=1,
            threads=threads or max(1, min(4, int(fewest) - 1)),
            separate_decode=decode_stage != "fused",
            nodes=len(used),
            placement=_placement(used),
        )
    if not any(node.cpus > 0 for node in nodes):
        raise ConfigurationError("The Ray cluster has no CPU and no GPU to run the model on. Check `ray status`.")
    # Every node with room for half a CPU and a read task holds at least one actor.
    holders = [node for node in nodes if node.cpus >= 0.5 + READ_CPUS]
    if not holders:
        raise ConfigurationError(
            f"No node of the Ray cluster can hold a model actor: each needs at least {0.5 + READ_CPUS:g} CPU (half a "
            f"CPU for the model, {READ_CPUS:g} for reading files); the nodes have {_cpus(nodes)} CPU(s)."
        )
    wanted = [max(1, int(node.cpus // 2)) for node in holders]
    cpus = _largest_reservation([(node.cpus, number) for node, number in zip(holders, wanted, strict=True)])
    fits = [int((node.cpus - READ_CPUS) // cpus) for node in holders]
    reason = (
        f"{len(holders)} node(s) with {_cpus(holders)} CPU(s) hold at most {sum(fits)} actor(s) of {cpus:g} CPU "
        f"each while keeping {READ_CPUS:g} CPU per node for reading files"
    )
    _check_fits(actors, sum(fits), reason)
    count = actors or sum(wanted)
    placed = _spread(count, holders, wanted, fits)
    used = [(node, number) for node, number in zip(holders, placed, strict=True) if number]
    return Plan(
        actors=count,
        cpus=cpus,
        gpus=0,
        threads=threads or max(1, min(int(node.cpus // number) for node, number in used)),
        separate_decode=decode_stage == "separate",
        nodes=len(used),
        placement=_placement(used),
    )


def _placement(used: Sequence[tuple[Node, int]]) -> tuple[str, ...]:
    """Node ids, one per actor, taking the nodes in turn (so that the first actors started are on different
    nodes); empty when the nodes have no ids (a plan for a machine's resources)."""
    if not all(node.node_id for node, _number in used):
        return ()
    order: list[str] = []
    remaining = {node.node_id: number for node, number in used}
    while any(remaining.values()):
        for node_id, number in remaining.items():
            if number:
                order.append(node_id)
                remaining[node_id] = number - 1
    return tuple(order)


def _cpus(nodes: Sequence[Node]) -> str:
    return ", ".join(f"{node.cpus:g}" for node in nodes)


def _check_fits(asked: int | None, capacity: int, reason: str) -> None:
    if asked is not None and asked < 1:
        raise ConfigurationError(f"--actors {asked} is not a number of actors: give 1 or more.")
    if asked is not None and asked > capacity:
        raise ConfigurationError(
            f"--actors {asked} does not fit: {reason}. Give --actors {capacity} or fewer, or add nodes."
        )


def alive_nodes() -> list[Node]:
    """The nodes of the connected cluster that are alive now."""
    import ray

    return [Node.from_resources(node["Resources"], node_id=node["NodeID"]) for node in ray.nodes() if node.get("Alive")]


def pending_demands() -> str:
    """What the cluster cannot schedule now, as Ray's autoscaler sees it ('2 x {CPU: 0.5}'), or '' when nothing
    waits (or Ray cannot say)."""
    import ray

    try:
        from ray.autoscaler.v2.sdk import get_cluster_status

        status = get_cluster_status(ray.get_runtime_context().gcs_address)
        demands = [
            (request.count, request.bundle)
            for demand in status.resource_demands.ray_task_actor_demand
            for request in demand.bundles_by_count
        ]
    except Exception as error:  # the autoscaler's view is a diagnosis, never a reason to fail
        logger.info("Pending resource demands unavailable: %s", type(error).__name__)
        return ""
    shown = []
    for count, bundle in demands:
        resources = ", ".join(f"{name}: {amount:g}" for name, amount in sorted(bundle.items()))
        shown.append(f"{count} x {{{resources}}}")
    return "; ".join(shown)


def _probe(address: str) -> None:
    """Fail fast when nothing listens at a `host:port` address (Ray itself retries for minutes)."""
    if "://" in address or address in {"auto", "local"} or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            return
    except (OSError, ValueError) as error:
        raise ClusterUnreachableError(_unreachable(address, getattr(error, "strerror", None) or str(error))) from None


def _unreachable(address: str, why: str) -> str:
    return (
        f"no Ray cluster answers at {address} ({why}). Check that the head node runs (`ray status` on it), that the "
        "address is the head's GCS address host:port (6379 unless `ray start --port` said otherwise; not the "
        "dashboard's 8265, which is for `ray job submit`), and that no firewall is in the way."
    )


_REFUSED_TOKEN = ("Unauthenticated", "InvalidAuthToken", "AuthenticationError", "authentication token")


def _connect(ray: Any, address: str, common: Mapping[str, Any]) -> None:
    """`ray.init(address)` within `CONNECT_SECONDS`, with one-line errors for the failures a team meets first.

    Ray's C++ client reports a refused token, and each failed attempt, only in log lines on stderr: they are caught
    in a file while connecting, read for the reason, and not shown.
    """
    _probe(address)
    outcome: list[BaseException | None] = []

    def init() -> None:
        try:
            ray.init(address=address, **common)
            outcome.append(None)
        except BaseException as error:  # handed to the caller's thread
            outcome.append(error)

    with tempfile.TemporaryFile(mode="w+b") as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            thread = threading.Thread(target=init, name="ray-connect", daemon=True)
            thread.start()
            deadline = time.monotonic() + CONNECT_SECONDS
            said = ""
            while thread.is_alive() and time.monotonic() < deadline:
                thread.join(0.5)
                said = os.pread(captured.fileno(), 1 << 20, 0).decode("utf-8", "replace")
                if any(marker in said for marker in _REFUSED_TOKEN):
                    break  # Ray would retry a refused token until its own timeout
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        said = captured.read().decode("utf-8", "replace")
    error = outcome[0] if outcome else None
    if any(marker in said or marker in str(error or "") for marker in _REFUSED_TOKEN):
        with contextlib.suppress(Exception):
            ray.shutdown()
        raise ClusterAuthError(
            f"the Ray cluster at {address} refused our authentication token. It runs with token authentication (on "
            "by default for clusters started with Ray 2.60's `ray start`): set RAY_AUTH_MODE=token here too, and the "
            "cluster's token in RAY_AUTH_TOKEN, in the file RAY_AUTH_TOKEN_PATH names, or in ~/.ray/auth_token "
            "(`ray get-auth-token` on the head node prints it)."
        ) from None
    if not outcome:
        raise ClusterUnreachableError(_unreachable(address, f"no answer within {CONNECT_SECONDS:.0f} s"))
    if error is None:
        return
    if isinstance(error, ConnectionError):
        raise ClusterUnreachableError(_unreachable(address, str(error).splitlines()[0][:200])) from None
    raise error


@contextlib.contextmanager
def ray_session(address: str | None) -> Iterator[list[Node]]:
    """Connect to the Ray cluster at `address`, or start a local one sized to this machine and shut it down at the
    end (Ctrl-C included). Yields the nodes alive. Dashboard and usage statistics off, logs quiet.

    Raises:
        ClusterUnreachableError: nothing answers at `address` within `CONNECT_SECONDS`.
        ClusterAuthError: the cluster refused our token.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Once the job has ended (or stopped), nothing may silently start or join a Ray again.
    os.environ.setdefault("RAY_ENABLE_AUTO_CONNECT", "0")
    try:
        import ray
        import ray.data
    except ImportError:
        raise ConfigurationError(
            "screen and evaluate run on Ray Data, which is not installed: "
            "pip install -r requirements.txt -r requirements-ray.txt"
        ) from None

    started = False
    if not ray.is_initialized():
        common: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
        if address:
            _connect(ray, address, common)
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
    _quiet_ray_logs()
    try:
        # Ray prints its nodes' error messages to stdout, where `screen` writes only its JSON summary.
        with contextlib.redirect_stdout(sys.stderr):
            yield alive_nodes()
    finally:
        if started:
            ray.shutdown()


def _quiet_ray_logs() -> None:
    """Ray's own messages off the terminal (`screen` says what happened in one line); Ray Data still writes its
    log file in the session's log folder (/tmp/ray/session_latest/logs/ray-data/)."""
    logging.getLogger("ray").setLevel(logging.ERROR)
    for handler in logging.getLogger("ray.data").handlers:
        # Ray's console handler only: the file handler keeps its level, and Ray Data also hangs the root logger's
        # handlers here (a host program's own, which are not ours to quiet).
        is_rays = type(handler).__module__.split(".", 1)[0] == "ray"
        if is_rays and not hasattr(handler, "_try_create_handler"):
            handler.setLevel(logging.CRITICAL)


def wait_for_free_resources(seconds: float) -> bool:
    """Wait until the actors of a failed run are gone (every CPU and GPU of the nodes alive is free again), at most
    `seconds`; True when they are."""
    import ray

    deadline = time.monotonic() + seconds
    while True:
        nodes, free = alive_nodes(), ray.available_resources()
        total = {"CPU": sum(node.cpus for node in nodes), "GPU": sum(node.gpus for node in nodes)}
        if all(free.get(name, 0) >= total[name] - 1e-6 for name in total):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)


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


def _node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


def _with_node(table: pa.Table, node: str) -> pa.Table:
    return table.append_column(NODE_COLUMN, pa.array([node] * table.num_rows, pa.string()))


class Screener:
    """The Ray Data actor: loads the classifier once, then turns batches of file bytes into result rows."""

    def __init__(self, settings: Settings, threshold: float, threads: int) -> None:
        from ..runtime.classifier import Classifier

        # NSFW_DEVICE keeps its default ("auto": the GPU Ray gave this actor, if any); threads are per actor.
        self.classifier = Classifier.load(replace(settings, threads=threads, split_batches=threads >= 2))
        self.threshold = threshold
        self.model = ModelRecord.from_info(self.classifier.info)
        self.node = _node_id()

    def __call__(self, batch: pa.Table) -> pa.Table:
        from ..tasks.pipeline import classify_sources

        paths = batch.column("path").to_pylist()
        errors = batch.column("error").to_pylist()
        truths = {path: truth for path, truth in zip(paths, batch.column("truth").to_pylist(), strict=True)}
        data = batch.column("bytes")
        readable = [(path, data[index].as_py()) for index, path in enumerate(paths) if errors[index] is None]
        results = classify_sources(self.classifier, readable)
        results.extend(FileResult(file=path, error=error) for path, error in zip(paths, errors, strict=True) if error)
        return _with_node(rows_table(results, self.threshold, self.model, truths), self.node)


# --- the separate decode stage (GPU clusters): CPU tasks decode to uint8 pixels, actors normalise on the device ---


def model_data_config(settings: Settings) -> dict[str, Any]:
    """The model's preprocessing (timm's data config: input size, interpolation, crop, mean, std), read from the
    model as the actors load it. Run as a Ray task, so that the driver needs neither torch nor the weights."""
    from ..runtime.loading import load_model

    return dict(load_model(settings.model, timeout=settings.load_timeout).data_config)


@functools.lru_cache(maxsize=4)
def _pixel_transform(recipe: Recipe) -> Any:
    """The model card's transform up to the pixels (resize, centre crop), without the float conversion and the
    normalisation that `PixelScreener` does on its device; cached per worker process."""
    import timm.data
    import torchvision.transforms as transforms

    full = timm.data.create_transform(**dict(recipe), is_training=False)
    steps = list(full.transforms)
    if [type(step).__name__ for step in steps[-2:]] != ["MaybeToTensor", "Normalize"]:
        raise ConfigurationError(f"NSFW_SCREEN_DECODE=separate cannot split this model's transform: {full}.")
    return transforms.Compose(steps[:-2])


def _recipe_key(data_config: Mapping[str, Any]) -> Recipe:
    """The data config as a hashable value (the cache key of `_pixel_transform`)."""
    items = data_config.items()
    return tuple(sorted((key, tuple(value) if isinstance(value, list) else value) for key, value in items))


def decode_rows(batch: pa.Table, recipe: Recipe, limits: ImageLimits, draft: int | None) -> pa.Table:
    """Read rows (`INPUT_SCHEMA`) -> the model's input as uint8 pixels (`PIXEL_SCHEMA`), decoded by the same
    decoder and transform as the fused path; a file that cannot be decoded keeps its error."""
    import numpy as np

    transform = _pixel_transform(recipe)
    columns: dict[str, list[Any]] = {name: [] for name in PIXEL_SCHEMA.names}
    data = batch.column("bytes")
    for index, (path, error, truth) in enumerate(
        zip(*(batch.column(name).to_pylist() for name in ("path", "error", "truth")), strict=True)
    ):
        pixels, width, height, shape = b"", None, None, None
        if error is None:
            try:
                decoded = decode_image(data[index].as_py(), limits, draft_min_side=draft)
                pixels = np.asarray(transform(decoded.image), dtype=np.uint8).tobytes()
                width, height, shape = decoded.width, decoded.height, decoded.format
            except InvalidImageError as refused:
                error = str(refused)
            except Exception as failure:  # a decoder bug or an OS fault: logged without the file's name
                error = log_file_failure(logger, "Decoding a file", failure)
        for name, value in zip(PIXEL_SCHEMA.names, (path, pixels, error, truth, width, height, shape), strict=True):
            columns[name].append(value)
    return pa.table(columns, schema=PIXEL_SCHEMA)


class PixelScreener:
    """The Ray Data actor of the separate decode stage: uint8 pixels -> float, normalised on its device (the GPU
    Ray gave it) -> the model; the same numbers as the model card's transform."""

    def __init__(self, settings: Settings, threshold: float, threads: int) -> None:
        import torch

        from ..runtime.classifier import Classifier

        self.classifier = Classifier.load(replace(settings, threads=threads, split_batches=threads >= 2))
        self.threshold = threshold
        self.model = ModelRecord.from_info(self.classifier.info)
        config = self.classifier.data_config
        device = self.classifier.device
        self.size = tuple(config["input_size"])
        self.mean = torch.as_tensor(config["mean"], dtype=torch.float32, device=device).view(-1, 1, 1)
        self.std = torch.as_tensor(config["std"], dtype=torch.float32, device=device).view(-1, 1, 1)
        self.node = _node_id()

    def __call__(self, batch: pa.Table) -> pa.Table:
        import numpy as np
        import torch

        from ..runtime.classifier import Prediction

        rows = batch.to_pylist()
        good = [row for row in rows if row["error"] is None]
        predictions: list[Prediction] = []
        if good:
            channels, height, width = self.size
            pixels = np.frombuffer(b"".join(row["pixels"] for row in good), dtype=np.uint8)
            images = torch.from_numpy(pixels.copy()).view(len(good), height, width, channels)
            images = images.to(self.classifier.device, non_blocking=True).permute(0, 3, 1, 2).contiguous()
            # As torchvision's ToTensor and Normalize do it: /255, then (x - mean) / std, element by element.
            tensor = images.to(torch.float32).div(255).sub_(self.mean).div_(self.std)
            predictions = self.classifier.predict_tensor(tensor)
        outcomes = iter(predictions)
        results = [
            FileResult(file=row["path"], error=row["error"])
            if row["error"] is not None
            else FileResult(
                file=row["path"],
                prediction=next(outcomes),
                width=row["width"],
                height=row["height"],
                format=row["format"],
            )
            for row in rows
        ]
        truths = {row["path"]: row["truth"] for row in rows}
        return _with_node(rows_table(results, self.threshold, self.model, truths), self.node)


def build_dataset(
    sources: Sources,
    settings: Settings,
    threshold: float,
    plan: Plan,
    *,
    done: frozenset[str] = frozenset(),
) -> Any:
    """The screening pipeline: read (files as bytes, zips member by member) -> [decode to pixels in CPU tasks] ->
    classify in actors -> result rows (with the node of the actor in `NODE_COLUMN`).

    Args:
        sources: what to read; files and archives named in `done` (a resumed output) are left out.
        settings: the model and limits each actor loads.
        threshold: the verdict's threshold.
        plan: actors, what each reserves, and where files are decoded.
        done: names already classified.
    """
    import ray.data

    parts = []
    files = [path for path in sources.files if path not in done]
    batch = actor_batch(len(files) + sum(sources.members.get(archive, 1) for archive in sources.archives), plan)
    if files:
        blocks = math.ceil(len(files) / batch)
        parts.append(
            ray.data.read_binary_files(
                files, include_paths=True, num_cpus=READ_CPUS, override_num_blocks=blocks
            ).map_batches(_file_rows, batch_format="pyarrow", num_cpus=READ_CPUS)
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
            .flat_map(partial(_member_rows, limits=limits, done=skip), num_cpus=READ_CPUS)
            .map_batches(_as_input, batch_format="pyarrow", num_cpus=READ_CPUS)
        )
    if not parts:
        return None
    dataset = parts[0] if len(parts) == 1 else parts[0].union(*parts[1:])
    if plan.separate_decode:
        recipe = _recipe_key(ray.get(ray.remote(model_data_config).options(num_cpus=READ_CPUS).remote(settings)))
        limits = ImageLimits(settings.max_pixels, settings.max_side, settings.max_file_bytes)
        side = max(dict(recipe)["input_size"][1:])
        draft = 3 * side // 2 if settings.fast_decode else None
        dataset = dataset.map_batches(
            partial(decode_rows, recipe=recipe, limits=limits, draft=draft),
            batch_format="pyarrow",
            batch_size=batch,
            num_cpus=READ_CPUS,
        )
    with warnings.catch_warnings():
        # max_restarts has no named parameter yet (Ray 2.60): passing it through ray_remote_args prints a
        # deprecation warning on every run.
        # The same for ray_remote_args_fn, the only way to place each actor on its own node.
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated", category=DeprecationWarning)
        return _classify(dataset, settings, threshold, plan, batch)


def _bound(actor: type, **arguments: Any) -> type:
    """`actor` with its constructor's arguments inside the class: Ray ships such a class by value with the actor's
    creation, so that a restarted actor (after a lost node) needs nothing from the object store, and Ray does not
    warn that it might."""

    def __init__(self: Any) -> None:
        actor.__init__(self, **arguments)

    return type(actor.__name__, (actor,), {"__init__": __init__, "__module__": __name__})


def actor_batch(files: int, plan: Plan) -> int:
    """Files per actor call: `ACTOR_BATCH`, or fewer when there are too few files to give every actor two calls."""
    return max(MIN_ACTOR_BATCH, min(ACTOR_BATCH, math.ceil(files / (2 * plan.actors))))


def _classify(dataset: Any, settings: Settings, threshold: float, plan: Plan, batch: int) -> Any:
    import ray.data

    actor = PixelScreener if plan.separate_decode else Screener
    placement = _placements(plan.placement)
    return dataset.map_batches(
        _bound(actor, settings=settings, threshold=threshold, threads=plan.threads),
        compute=ray.data.ActorPoolStrategy(size=plan.actors),
        num_cpus=plan.cpus,
        num_gpus=plan.gpus,
        batch_size=batch,
        batch_format="pyarrow",
        # A dead actor is not restarted in place: its node may be gone, and a restarted actor squeezed beside
        # another would leave the reads no CPU. The run fails fast; `screen` runs the files left on the nodes alive.
        max_restarts=0,
        ray_remote_args_fn=placement,
    )


def _placements(nodes: Sequence[str]) -> Callable[[], dict[str, Any]] | None:
    """Each new actor's node, in the plan's order and round again (a replacement after a lost actor); soft, so that
    Ray places it elsewhere when that node is gone or full."""
    if not nodes:
        return None
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    turn = itertools.cycle(nodes)

    def next_node() -> dict[str, Any]:
        return {"scheduling_strategy": NodeAffinitySchedulingStrategy(next(turn), soft=True)}

    return next_node


def display_names(sources: Sources) -> dict[str, str]:
    """Ray's name -> ours, for the URIs whose scheme Ray drops (local paths keep theirs)."""
    return {normalize(path): path for path in sources.files if normalize(path) != path}


def describe_nodes(nodes: Sequence[Node]) -> str:
    """'2 node(s), 2 CPU(s)' (and GPUs when there are any)."""
    cpus = sum(node.cpus for node in nodes)
    gpus = sum(node.gpus for node in nodes)
    text = f"{len(nodes)} node(s), {cpus:g} CPU(s)"
    return text + (f", {gpus:g} GPU(s)" if gpus else "")
