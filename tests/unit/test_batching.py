"""The micro-batcher: concurrent requests share forward passes, each caller gets its own rows, errors reach all."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from model import Classifier
from model.batching import MicroBatcher
from tests.support.images import drawing, noise_photo, photo


class GatedForward:
    """A forward function that records batch sizes and holds its first call until released."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, batch: torch.Tensor) -> list[float]:
        self.sizes.append(batch.shape[0])
        self.entered.set()
        self.release.wait(timeout=30)
        return batch.flatten(1)[:, 0].tolist()


def run_concurrently(batcher: MicroBatcher, batches: list[torch.Tensor], forward: GatedForward) -> list[list[float]]:
    """Send the first batch, wait until the worker is busy with it, queue the rest, then let the worker go on."""
    with ThreadPoolExecutor(len(batches)) as pool:
        first = pool.submit(batcher.run, batches[0])
        assert forward.entered.wait(timeout=30)
        rest = [pool.submit(batcher.run, batch) for batch in batches[1:]]
        while batcher._jobs.qsize() < len(rest):
            threading.Event().wait(0.01)
        forward.release.set()
        return [first.result(), *(future.result() for future in rest)]


def test_requests_waiting_during_a_forward_pass_share_the_next_one() -> None:
    forward = GatedForward()
    batcher = MicroBatcher(forward, max_batch=8)
    batches = [torch.full((1, 3), float(index)) for index in range(6)]
    results = run_concurrently(batcher, batches, forward)
    assert results == [[float(index)] for index in range(6)]
    assert forward.sizes == [1, 5]


def test_a_merged_batch_never_exceeds_max_batch() -> None:
    forward = GatedForward()
    batcher = MicroBatcher(forward, max_batch=4)
    batches = [torch.full((count, 3), float(index)) for index, count in enumerate([1, 2, 1, 3, 2])]
    results = run_concurrently(batcher, batches, forward)
    assert results == [[float(index)] * batch.shape[0] for index, batch in enumerate(batches)]
    assert forward.sizes == [1, 3, 3, 2]  # 2+1 fit; the 3 is carried to the next pass, and so is the last 2


def test_an_error_in_the_forward_pass_reaches_every_caller_of_that_batch() -> None:
    def failing(batch: torch.Tensor) -> list[float]:
        raise RuntimeError(f"out of memory for {batch.shape[0]} images")

    batcher = MicroBatcher(failing, max_batch=8)
    with pytest.raises(RuntimeError, match="out of memory for 1 images"):
        batcher.run(torch.zeros(1, 3))
    with pytest.raises(RuntimeError, match="out of memory for 2 images"):
        batcher.run(torch.zeros(2, 3))


def test_an_empty_batch_needs_no_forward_pass() -> None:
    forward = GatedForward()
    assert MicroBatcher(forward, max_batch=2).run(torch.zeros(0, 3)) == []
    assert forward.sizes == []


def test_max_batch_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_batch must be at least 1, got 0"):
        MicroBatcher(lambda batch: [], max_batch=0)


def test_concurrent_predictions_equal_one_at_a_time_predictions(classifier: Classifier) -> None:
    images = [photo("astronaut.png"), photo("rocket.jpg"), drawing()] + [noise_photo((300, 200), s) for s in range(5)]
    alone = [classifier.predict([image])[0].nsfw_score for image in images]
    with ThreadPoolExecutor(len(images)) as pool:
        together = list(pool.map(lambda image: classifier.predict([image])[0].nsfw_score, images))
    assert together == pytest.approx(alone, abs=1e-5)
