"""What the benchmark runs on: its settings (profiles), the stand-in checkpoint and the test images, made by code."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from PIL import Image

from model.files import write_atomically
from testbed.images import encode, large_jpeg, noise_photo
from testbed.standin import COMMIT, REPO_ID, build_standin, install_in_cache

__all__ = [
    "PROFILES",
    "BenchImage",
    "Profile",
    "Workload",
    "peer_images",
    "prepare",
    "requests_per_level",
    "with_comment",
]

logger = logging.getLogger(__name__)

#: The size of an ordinary web photo, and of the distinct images the throughput clients send.
SMALL_SIZE = (600, 400)
#: The images of the comparison with the peer (issue 14: distinct 640x480 JPEGs).
PEER_SIZE = (640, 480)
JPEG_QUALITY = 90
#: Files with distinct bytes per image and round: one per API client measured side by side.
COPIES_PER_ROUND = 4


@dataclass(frozen=True)
class Profile:
    """How much the benchmark measures: more repetitions give steadier medians on a busy machine."""

    name: str
    warmup: int
    repeats: int
    #: Megapixels of the "camera" and "large" JPEGs (12 and 24 in a real run; smaller for a smoke test).
    camera_megapixels: float
    large_megapixels: float
    gemm_sizes: tuple[int, ...]
    gemm_repeats: int
    #: FLOPs per timed GEMM sample (small shapes are repeated until they reach it).
    gemm_sample_flops: float
    #: Concurrent plain-HTTP clients per throughput level, and the levels repeated with gradio_client.
    clients: tuple[int, ...]
    gradio_client_levels: tuple[int, ...]
    #: Requests per throughput level: at least this many, and at least `rounds_per_client` per client.
    min_requests: int
    rounds_per_client: int
    #: A throughput level stops sending new requests after this many seconds.
    level_seconds: float
    cold_starts: int
    threshold_changes: int
    batch_sizes: tuple[int, ...]
    #: torch.compile's first call takes a minute or more on this CPU: not worth it in a smoke test.
    try_compile: bool = True
    #: Times each throughput level is run (the same images, new clients and sessions each time); the level reports
    #: its median round, with every round's images/s beside it (one level lasts only seconds).
    throughput_rounds: int = 5
    #: Seconds of the engine's bare batched forward pass measured, with the app paused, before each round of the
    #: 8-client levels: each round's ratio to the engine comes from the same minute of the host.
    engine_seconds: float = 2.0
    #: Rounds of the app-configuration comparison (each round measures every configuration once).
    configuration_rounds: int = 3
    #: Rounds of the app against the model card's snippet in a plain gr.Interface (benchmarks.peer), and the distinct
    #: 640x480 JPEGs each of them gets per round (8 clients).
    peer_rounds: int = 3
    peer_images_per_round: int = 32
    #: App configurations compared under concurrent load (keys of `benchmarks.api.APP_CONFIGURATIONS`).
    app_configurations: tuple[str, ...] = (
        "one request at a time",
        "8 at once, not merged",
        "8 at once, merged, not split",
        "8 at once, merged and split (as shipped)",
    )


FULL = Profile(
    name="full",
    warmup=2,
    repeats=7,
    camera_megapixels=12.0,
    large_megapixels=24.0,
    gemm_sizes=(256, 512, 1024, 2048),
    gemm_repeats=7,
    gemm_sample_flops=4e8,
    clients=(1, 4, 8, 16),
    gradio_client_levels=(8,),
    min_requests=16,
    # 16 requests per client: filling and draining the pipeline (the first decodes, the last partial batch) then
    # weigh little; at 4 per client the 8-client levels read about 5 % lower.
    rounds_per_client=16,
    level_seconds=120.0,
    cold_starts=3,
    threshold_changes=30,
    batch_sizes=(1, 2, 4, 8, 16),
)
#: The full run with fewer repetitions and shorter levels: the same sections and image sizes.
QUICK = replace(
    FULL,
    name="quick",
    warmup=1,
    repeats=3,
    gemm_sizes=(512, 1024, 2048),
    gemm_repeats=4,
    gemm_sample_flops=2e8,
    min_requests=8,
    rounds_per_client=2,
    level_seconds=45.0,
    cold_starts=1,
    threshold_changes=10,
    batch_sizes=(1, 4, 8),
    peer_rounds=2,
    peer_images_per_round=16,
    throughput_rounds=3,
)
#: A smoke test of every section (tests/benchmarks): the numbers mean nothing.
TINY = replace(
    QUICK,
    name="tiny",
    warmup=0,
    repeats=1,
    camera_megapixels=0.5,
    large_megapixels=1.0,
    gemm_sizes=(256,),
    gemm_repeats=2,
    gemm_sample_flops=2e7,
    clients=(1, 2),
    gradio_client_levels=(1,),
    min_requests=2,
    rounds_per_client=1,
    level_seconds=30.0,
    threshold_changes=2,
    batch_sizes=(1, 2),
    try_compile=False,
    app_configurations=("one request at a time",),
    configuration_rounds=1,
    peer_rounds=1,
    peer_images_per_round=4,
    throughput_rounds=2,
    engine_seconds=0.3,
)
PROFILES: dict[str, Profile] = {profile.name: profile for profile in (FULL, QUICK, TINY)}


@dataclass(frozen=True)
class BenchImage:
    """One test image on disk: `role` is small, camera or large.

    `copies` holds `COPIES_PER_ROUND` files per round with different bytes (a JPEG comment naming the round and
    slot) and the same pixels, so that a cache keyed by the upload's hash cannot answer one API client's request
    from an earlier round or from the other client.
    """

    role: str
    label: str
    path: Path
    width: int
    height: int
    copies: tuple[Path, ...] = ()

    def copy(self, round_index: int, slot: int = 0) -> Path:
        return self.copies[round_index * COPIES_PER_ROUND + slot]

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    def describe(self) -> dict[str, object]:
        return {
            "label": self.label,
            "width": self.width,
            "height": self.height,
            "megapixels": round(self.megapixels, 2),
            "bytes": self.path.stat().st_size,
        }


@dataclass(frozen=True)
class Workload:
    """The stand-in (as a folder and inside an HF_HOME), the three test images, and distinct throughput images."""

    standin_dir: Path
    hf_home: Path
    images: tuple[BenchImage, ...]
    #: One list of distinct images per throughput level ("http" or "gradio_client", clients), so no image is sent
    #: twice to one app.
    throughput_images: dict[tuple[str, int], tuple[Path, ...]] = field(default_factory=dict)


def _write_once(path: Path, make: Callable[[], bytes]) -> Path:
    """Images are made by code and kept between runs: a 24 MP JPEG takes seconds to make."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, make())
    return path


def with_comment(jpeg: bytes, comment: str) -> bytes:
    """The same JPEG with a comment (COM) segment right after its start marker: other bytes, the same pixels."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG: it does not start with the SOI marker")
    text = comment.encode("ascii")
    return jpeg[:2] + b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text + jpeg[2:]


def _bench_image(role: str, path: Path, rounds: int) -> BenchImage:
    """The image with `COPIES_PER_ROUND` distinct-bytes copies for each of `rounds` rounds."""
    with Image.open(path) as image:
        width, height = image.size
    megapixels = width * height / 1e6
    label = f"{width}x{height} JPEG" if megapixels < 1 else f"{megapixels:.0f} MP JPEG"
    copies = tuple(
        _write_once(
            path.parent / "copies" / f"{path.stem}-{index}.jpg",
            lambda index=index: with_comment(path.read_bytes(), f"benchmark copy {index}"),
        )
        for index in range(rounds * COPIES_PER_ROUND)
    )
    return BenchImage(role=role, label=label, path=path, width=width, height=height, copies=copies)


def peer_images(profile: Profile, folder: Path) -> list[list[Path]]:
    """Distinct 640x480 JPEGs for `benchmarks.peer`: per round, `peer_images_per_round` for the app and as many
    for the peer, none of them sent twice."""
    rounds = []
    for round_index in range(profile.peer_rounds):
        first = 10_000 + round_index * 2 * profile.peer_images_per_round
        rounds.append(
            [
                _write_once(
                    folder / "peer" / f"{seed}.jpg",
                    lambda seed=seed: encode(noise_photo(PEER_SIZE, seed=seed), "JPEG", quality=JPEG_QUALITY),
                )
                for seed in range(first, first + 2 * profile.peer_images_per_round)
            ]
        )
    return rounds


def requests_per_level(profile: Profile, clients: int) -> int:
    return max(profile.min_requests, clients * profile.rounds_per_client)


def prepare(profile: Profile, folder: Path) -> Workload:
    """Build (or reuse) everything in `folder`: the stand-in checkpoint, its HF cache entry and the images."""
    standin_dir = folder / "standin"
    if not (standin_dir / "model.safetensors").is_file():
        logger.info("Building the stand-in checkpoint in %s", standin_dir)
        build_standin(standin_dir)
    hf_home = folder / "hf_home"
    install_in_cache(standin_dir, hf_home / "hub", repo_id=REPO_ID, commit=COMMIT)
    images_dir = folder / "images"
    small = _write_once(
        images_dir / "small-600x400.jpg",
        lambda: encode(noise_photo(SMALL_SIZE, seed=1), "JPEG", quality=JPEG_QUALITY),
    )
    sizes = {"camera": profile.camera_megapixels, "large": profile.large_megapixels}
    paths = {"small": small}
    for role, megapixels in sizes.items():
        logger.info("Preparing the %g MP JPEG", megapixels)
        paths[role] = _write_once(
            images_dir / f"{role}-{megapixels:g}mp.jpg",
            lambda megapixels=megapixels: large_jpeg(megapixels, seed=2, quality=JPEG_QUALITY),
        )
    throughput: dict[tuple[str, int], tuple[Path, ...]] = {}
    seed = 100
    levels = [("http", clients) for clients in profile.clients]
    levels += [("gradio_client", clients) for clients in profile.gradio_client_levels]
    for level in levels:
        distinct = []
        for _ in range(requests_per_level(profile, level[1])):
            distinct.append(
                _write_once(
                    images_dir / "distinct" / f"{seed}.jpg",
                    lambda seed=seed: encode(noise_photo(SMALL_SIZE, seed=seed), "JPEG", quality=JPEG_QUALITY),
                )
            )
            seed += 1
        throughput[level] = tuple(distinct)
    return Workload(
        standin_dir=standin_dir,
        hf_home=hf_home,
        images=tuple(_bench_image(role, path, profile.warmup + profile.repeats) for role, path in paths.items()),
        throughput_images=throughput,
    )
