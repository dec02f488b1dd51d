"""The micro-batcher: concurrent requests share forward passes, each caller gets its own rows, errors reach all."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
import torch

from model import Classifier, Settings
from model.runtime.microbatch import MicroBatcher
from testbed.images import drawing, noise_photo, photo


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


class RecordingForward:
    """A forward function that records, for each call, its thread, that thread's torch thread count and the batch
    size; with `meet` set, two calls must be inside it at the same time to go on."""

    def __init__(self, meet: bool = False) -> None:
        self.calls: list[tuple[str, int, int]] = []
        self.lock = threading.Lock()
        self.barrier = threading.Barrier(2, timeout=30) if meet else None

    def __call__(self, batch: torch.Tensor) -> list[float]:
        with self.lock:
            self.calls.append((threading.current_thread().name, torch.get_num_threads(), batch.shape[0]))
        if self.barrier is not None:
            self.barrier.wait()
        return batch.flatten(1)[:, 0].tolist()


def test_a_merged_batch_runs_as_two_halves_at_once_each_on_half_the_threads() -> None:
    forward = RecordingForward(meet=True)  # the halves would time out at the barrier if they ran one after another
    batcher = MicroBatcher(forward, max_batch=8, name="split test", split_threads=2)
    rows = torch.arange(5.0).repeat_interleave(3).reshape(5, 3)
    assert batcher.run(rows) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert sorted(forward.calls) == [("split test (first half)", 1, 2), ("split test (second half)", 1, 3)]


def test_a_lone_image_gets_every_thread_on_the_worker() -> None:
    forward = RecordingForward()
    batcher = MicroBatcher(forward, max_batch=8, name="lone test", split_threads=2)
    assert batcher.run(torch.full((1, 3), 7.0)) == [7.0]
    assert forward.calls == [("lone test", 2, 1)]


def test_threads_started_after_the_helpers_still_get_every_thread() -> None:
    MicroBatcher(RecordingForward(), max_batch=8, split_threads=2).start()
    counts: list[int] = []
    later = threading.Thread(target=lambda: counts.append(torch.get_num_threads()))
    later.start()
    later.join()
    assert counts == [2]  # not the helpers' 1: a new thread takes the count set last, by any thread


def test_an_error_in_one_half_reaches_every_caller_of_that_batch() -> None:
    def failing(batch: torch.Tensor) -> list[float]:
        if batch[0, 0] == 0:
            raise RuntimeError("out of memory in the first half")
        return batch.flatten(1)[:, 0].tolist()

    forward = GatedForward()
    batcher = MicroBatcher(lambda batch: forward(batch) and failing(batch), max_batch=8, split_threads=2)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(batcher.run, torch.full((1, 3), 5.0))
        assert forward.entered.wait(timeout=30)
        waiting = [pool.submit(batcher.run, torch.full((1, 3), float(index))) for index in range(2)]
        while batcher._jobs.qsize() < 2:
            threading.Event().wait(0.01)
        forward.release.set()
        assert first.result() == [5.0]
        for future in waiting:
            with pytest.raises(RuntimeError, match="out of memory in the first half"):
                future.result()


def test_split_batches_give_the_scores_of_whole_ones(classifier: Classifier) -> None:
    images = [photo("astronaut.png"), photo("rocket.jpg"), drawing()] + [noise_photo((300, 200), s) for s in range(5)]
    batch = torch.stack([classifier.preprocess(image) for image in images])
    whole = [prediction.nsfw_score for prediction in classifier._forward(batch)]
    split = MicroBatcher(classifier._forward, max_batch=16, split_threads=2).run(batch)
    assert [prediction.nsfw_score for prediction in split] == pytest.approx(whole, abs=1e-5)


def test_concurrent_predictions_equal_one_at_a_time_predictions(classifier: Classifier) -> None:
    images = [photo("astronaut.png"), photo("rocket.jpg"), drawing()] + [noise_photo((300, 200), s) for s in range(5)]
    alone = [classifier.predict([image])[0].nsfw_score for image in images]
    with ThreadPoolExecutor(len(images)) as pool:
        together = list(pool.map(lambda image: classifier.predict([image])[0].nsfw_score, images))
    assert together == pytest.approx(alone, abs=1e-5)


def test_the_classifier_counts_its_forward_passes_and_the_images_it_scored(settings: Settings) -> None:
    counted = Classifier.load(replace(settings, batch_size=2, split_batches=False))
    assert (counted.forward_passes, counted.images_classified) == (0, 0)
    counted.predict([photo("astronaut.png"), photo("rocket.jpg"), drawing()])  # chunks of 2 and 1
    assert (counted.forward_passes, counted.images_classified) == (2, 3)
    counted.predict([])
    assert (counted.forward_passes, counted.images_classified) == (2, 3)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda seed: counted.predict([noise_photo((64, 64), seed)]), range(4)))
    assert counted.images_classified == 7
    assert 3 <= counted.forward_passes <= 6  # concurrent callers may share a pass
