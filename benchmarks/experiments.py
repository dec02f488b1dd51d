"""Model-level experiments from issue 5, each variant timed side by side in interleaved rounds (so a burst of load
from elsewhere hits every variant alike), with its effect on the score where it could change one."""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from model import Classifier, decode_image
from model.runtime.microbatch import MicroBatcher

from .timing import summarise
from .workload import BenchImage, Profile

__all__ = ["run_experiments"]

logger = logging.getLogger(__name__)

#: A fast variant must keep the NSFW score within this of the exact path (tests/unit/test_fidelity.py).
FIDELITY = 0.01


def _interleaved(variants: dict[str, Callable[[], object]], warmup: int, repeats: int) -> dict[str, dict[str, Any]]:
    """Each round calls every variant once; returns each variant's stats over the timed rounds."""
    durations: dict[str, list[float]] = {name: [] for name in variants}
    for round_index in range(warmup + repeats):
        for name, function in variants.items():
            started = time.perf_counter()
            function()
            if round_index >= warmup:
                durations[name].append(1000 * (time.perf_counter() - started))
    return {name: summarise(values).as_dict() for name, values in durations.items()}


def _forward(model: torch.nn.Module, batch: torch.Tensor, *, inference: bool = True) -> Callable[[], object]:
    def run() -> object:
        with torch.inference_mode() if inference else torch.no_grad():
            return model(batch)

    return run


def _threads(classifier: Classifier, sample: torch.Tensor, profile: Profile) -> dict[str, Any]:
    """Torch intra-op threads: 1 vs every core for one forward pass; and two single-threaded forward passes running
    at once in two Python threads (what two inference workers would do) vs one after the other with every core."""
    cores = torch.get_num_threads()
    model = classifier.model
    results: dict[str, Any] = {"cores": cores}
    single: dict[str, list[float]] = {"1 thread": [], f"{cores} threads": []}
    for round_index in range(profile.warmup + profile.repeats):
        for name, count in (("1 thread", 1), (f"{cores} threads", cores)):
            torch.set_num_threads(count)
            started = time.perf_counter()
            _forward(model, sample)()
            if round_index >= profile.warmup:
                single[name].append(1000 * (time.perf_counter() - started))
    results["forward_ms"] = {name: summarise(values).as_dict() for name, values in single.items()}

    images = max(2, profile.repeats) * 2
    torch.set_num_threads(cores)
    started = time.perf_counter()
    for _ in range(images):
        _forward(model, sample)()
    sequential = images / (time.perf_counter() - started)
    torch.set_num_threads(1)

    def worker(count: int) -> None:
        for _ in range(count):
            _forward(model, sample)()

    workers = [threading.Thread(target=worker, args=(images // 2,)) for _ in range(2)]
    started = time.perf_counter()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    parallel = images / (time.perf_counter() - started)
    torch.set_num_threads(cores)
    results["images_per_s"] = {
        f"one worker, {cores} threads": round(sequential, 2),
        "two workers, 1 thread each": round(parallel, 2),
    }
    return results


def _batch_sizes(classifier: Classifier, sample: torch.Tensor, profile: Profile) -> dict[str, Any]:
    """ms per image of one forward pass over a batch of N images."""
    variants = {
        f"batch {size}": _forward(classifier.model, sample.repeat(size, 1, 1, 1)) for size in profile.batch_sizes
    }
    stats = _interleaved(variants, profile.warmup, max(1, profile.repeats // 2))
    per_image = {}
    for size in profile.batch_sizes:
        per_image[f"batch {size}"] = round(stats[f"batch {size}"]["median_ms"] / size, 1)
    return {"ms_per_image": per_image, "forward_ms": stats}


def _compiled(
    model: torch.nn.Module, sample: torch.Tensor, variants: dict[str, Callable[[], object]]
) -> dict[str, Any]:
    """Add a torch.compile variant (compiled and called once here); returns how long that first call took."""
    try:
        started = time.perf_counter()
        compiled = torch.compile(copy.deepcopy(model))
        _forward(compiled, sample)()
    except Exception as error:  # a missing compiler or an unsupported op: reported, not fatal
        return {"torch.compile": f"failed: {type(error).__name__}: {str(error)[:200]}"}
    variants["torch.compile"] = _forward(compiled, sample)
    return {"torch.compile first call s": round(time.perf_counter() - started, 1)}


def _forward_variants(classifier: Classifier, sample: torch.Tensor, profile: Profile) -> dict[str, Any]:
    """inference_mode vs no_grad, channels_last, the non-fused attention, torch.compile: batch 1 forward ms."""
    model = classifier.model
    channels_last = copy.deepcopy(model).to(memory_format=torch.channels_last)
    unfused = copy.deepcopy(model)
    for module in unfused.modules():
        if hasattr(module, "fused_attn"):
            module.fused_attn = False
    variants: dict[str, Callable[[], object]] = {
        "inference_mode (as shipped)": _forward(model, sample),
        "no_grad": _forward(model, sample, inference=False),
        "channels_last": _forward(channels_last, sample.contiguous(memory_format=torch.channels_last)),
        "attention not fused (timm's manual path)": _forward(unfused, sample),
    }
    notes: dict[str, Any] = {}
    if not profile.try_compile:
        notes["torch.compile"] = f"not tried in the {profile.name} profile"
    else:
        notes.update(_compiled(model, sample, variants))
    stats = _interleaved(variants, profile.warmup, profile.repeats)
    baseline = stats["inference_mode (as shipped)"]["median_ms"]
    relative = {name: round(value["median_ms"] / baseline, 3) for name, value in stats.items()}
    return {"forward_ms": stats, "vs_shipped": relative, **notes}


def _reduced(image: Image.Image, min_side: int) -> Image.Image:
    """Image.reduce by the largest whole factor that keeps the short side at least `min_side`."""
    factor = min(image.size) // min_side
    return image.reduce(factor) if factor >= 2 else image


def _decoding(classifier: Classifier, images: list[BenchImage], profile: Profile) -> dict[str, Any]:
    """Per large JPEG: decode + preprocess time and NSFW score of the exact path, JPEG draft mode (as shipped, and
    allowed to go smaller), and Pillow's `reduce` / `reducing_gap` applied before the model card's bicubic resize."""
    side = max(classifier.data_config["input_size"][1:])
    results: dict[str, Any] = {}
    for image in images:
        path = image.path

        def exact(path: Path = path) -> torch.Tensor:
            return classifier.preprocess(decode_image(path, classifier.limits).image)

        def draft(path: Path = path) -> torch.Tensor:
            decoded = decode_image(path, classifier.limits, draft_min_side=classifier.draft_min_side)
            return classifier.preprocess(decoded.image)

        def draft_at(factor: float, path: Path = path) -> Callable[[], torch.Tensor]:
            def run() -> torch.Tensor:
                decoded = decode_image(path, classifier.limits, draft_min_side=round(factor * side))
                return classifier.preprocess(decoded.image)

            return run

        def reduce_2x(path: Path = path) -> torch.Tensor:
            return classifier.preprocess(_reduced(decode_image(path, classifier.limits).image, 2 * side))

        def draft_then_reduce(path: Path = path) -> torch.Tensor:
            decoded = decode_image(path, classifier.limits, draft_min_side=classifier.draft_min_side)
            return classifier.preprocess(_reduced(decoded.image, 2 * side))

        def reducing_gap(path: Path = path) -> torch.Tensor:
            decoded = decode_image(path, classifier.limits).image
            width, height = decoded.size
            scale = side / min(width, height)
            target = (max(side, round(width * scale)), max(side, round(height * scale)))
            return classifier.preprocess(decoded.resize(target, Image.Resampling.BICUBIC, reducing_gap=2.0))

        variants = {
            "exact decode": exact,
            "draft (as shipped)": draft,
            "draft, short side >= 2x input (before)": draft_at(2.0),
            "draft, short side >= 1x input": draft_at(1.0),
            "exact + reduce to >=2x input": reduce_2x,
            "draft + reduce to >=2x input": draft_then_reduce,
            "exact + resize reducing_gap=2": reducing_gap,
        }
        stats = _interleaved(variants, profile.warmup, max(1, profile.repeats // 2))
        with torch.inference_mode():
            scores = {
                name: classifier.predict_tensor(function().unsqueeze(0))[0].nsfw_score
                for name, function in variants.items()
            }
        differences = {name: round(abs(score - scores["exact decode"]), 5) for name, score in scores.items()}
        results[image.role] = {
            "label": image.label,
            "decode_and_preprocess_ms": stats,
            "nsfw_score_difference_vs_exact": differences,
            "within_fidelity_bound": {name: value <= FIDELITY for name, value in differences.items()},
        }
    return results


def _concurrent_requests(classifier: Classifier, paths: Sequence[Path], clients: int, profile: Profile) -> dict:
    """Distinct small JPEGs, each decoded, preprocessed and classified as /classify does: one request at a time
    (the app's former concurrency limit of 1), `clients` at once without merging (decoding overlaps, forward passes
    queue), `clients` at once merged into shared forward passes run whole on all torch threads (before), and merged
    then split into two halves run at once with half of the threads each (as shipped). Images per second; and a
    lone request's time, one after the other, with and without splitting."""

    def request(path: Path, forward: Callable[[torch.Tensor], object]) -> object:
        decoded = decode_image(path, classifier.limits, draft_min_side=classifier.draft_min_side)
        return forward(classifier.preprocess(decoded.image).unsqueeze(0))

    unmerged = MicroBatcher(classifier._forward, max_batch=1, name="inference (unmerged)")
    unsplit = MicroBatcher(classifier._forward, max_batch=classifier.settings.batch_size, name="inference (unsplit)")
    pool = ThreadPoolExecutor(clients)

    def at_once(forward: Callable[[torch.Tensor], object]) -> Callable[[], object]:
        return lambda: list(pool.map(lambda path: request(path, forward), paths))

    variants = {
        "one at a time": lambda: [request(path, classifier.predict_tensor) for path in paths],
        f"{clients} at once, not merged": at_once(unmerged.run),
        f"{clients} at once, merged, not split (before)": at_once(unsplit.run),
        f"{clients} at once, merged and split (as shipped)": at_once(classifier.predict_tensor),
    }
    lone = {
        "merged, not split (before)": lambda: request(paths[0], unsplit.run),
        "merged and split (as shipped)": lambda: request(paths[0], classifier.predict_tensor),
    }
    try:
        stats = _interleaved(variants, min(profile.warmup, 1), max(1, profile.repeats // 2))
        lone_stats = _interleaved(lone, profile.warmup, profile.repeats)
    finally:
        pool.shutdown()
    return {
        "requests": len(paths),
        "images_per_s": {name: round(1000 * len(paths) / value["median_ms"], 2) for name, value in stats.items()},
        "wall_ms": stats,
        "lone_request_ms": lone_stats,
    }


def run_experiments(
    classifier: Classifier, images: list[BenchImage], distinct: Sequence[Path], profile: Profile
) -> dict[str, Any]:
    """Every model-level experiment; returns their numbers (nothing here changes the shipped code). `distinct` are
    small images, all different, for the concurrent-requests experiment."""
    sample = torch.stack([classifier.preprocess(decode_image(images[0].path, classifier.limits).image)])
    experiments: dict[str, Any] = {}
    for name, run in (
        ("threads", lambda: _threads(classifier, sample, profile)),
        ("batch_sizes", lambda: _batch_sizes(classifier, sample, profile)),
        ("forward_variants", lambda: _forward_variants(classifier, sample, profile)),
        ("decoding", lambda: _decoding(classifier, [image for image in images if image.role != "small"], profile)),
        ("concurrent_requests", lambda: _concurrent_requests(classifier, distinct, min(8, len(distinct)), profile)),
    ):
        logger.info("Experiment: %s", name)
        experiments[name] = run()
    experiments["onnxruntime"] = "skipped: onnxruntime is not a dependency (issue 5 measured it ~5% faster in fp32)"
    return experiments
