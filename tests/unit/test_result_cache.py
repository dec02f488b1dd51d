"""Re-submitting the same bytes in the same session reuses the stored result; the key is the content, never the file
name, and no session ever sees another's results."""

from __future__ import annotations

from pathlib import Path

import pytest

from model import Classifier
from model.runtime.cache import ResultCache, SessionCaches, content_key
from testbed.images import encode, noise_photo
from ui.upload_classification import classify_upload


def test_the_least_recently_used_entry_is_dropped_first() -> None:
    cache: ResultCache[int] = ResultCache(size=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    assert (cache.hits, cache.misses) == (3, 1)


def test_a_cache_of_size_zero_keeps_nothing() -> None:
    cache: ResultCache[int] = ResultCache(size=0)
    cache.put("a", 1)
    assert cache.get("a") is None and len(cache) == 0


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="size must be 0 or more, got -1"):
        ResultCache(size=-1)


def test_the_key_is_the_sha256_of_the_bytes() -> None:
    assert content_key(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_the_same_bytes_under_another_name_reuse_the_result(classifier: Classifier, tmp_path: Path) -> None:
    data = encode(noise_photo((320, 240), seed=7), "JPEG", quality=85)
    first, second = tmp_path / "first.jpg", tmp_path / "renamed.jpg"
    first.write_bytes(data)
    second.write_bytes(data)
    computed = classify_upload(classifier, str(first), "session-a")
    reused = classify_upload(classifier, str(second), "session-a")
    assert reused.prediction == computed.prediction
    assert (reused.width, reused.height, reused.format) == (320, 240, "JPEG")
    assert reused.timings.inference_ms == 0.0
    assert computed.timings.inference_ms > 0.0


def test_other_bytes_under_the_same_name_are_classified_again(classifier: Classifier, tmp_path: Path) -> None:
    path = tmp_path / "upload.jpg"
    path.write_bytes(encode(noise_photo((320, 240), seed=8), "JPEG", quality=85))
    classify_upload(classifier, str(path), "session-a")
    path.write_bytes(encode(noise_photo((240, 320), seed=9), "JPEG", quality=85))
    result = classify_upload(classifier, str(path), "session-a")
    assert (result.width, result.height) == (240, 320)
    assert result.timings.inference_ms > 0.0


def test_another_session_sending_the_same_bytes_gets_a_fresh_run(classifier: Classifier, tmp_path: Path) -> None:
    path = tmp_path / "shared.jpg"
    path.write_bytes(encode(noise_photo((320, 240), seed=10), "JPEG", quality=85))
    classify_upload(classifier, str(path), "session-a")
    passes = classifier.forward_passes
    other = classify_upload(classifier, str(path), "session-b")
    assert other.original_timings is None and other.timings.inference_ms > 0.0
    assert classifier.forward_passes == passes + 1


def test_a_call_without_a_session_neither_reuses_nor_keeps_a_result(classifier: Classifier, tmp_path: Path) -> None:
    path = tmp_path / "anonymous.jpg"
    path.write_bytes(encode(noise_photo((320, 240), seed=11), "JPEG", quality=85))
    classify_upload(classifier, str(path), "session-a")
    sessions = len(classifier.recent)
    first = classify_upload(classifier, str(path))
    second = classify_upload(classifier, str(path))
    assert first.original_timings is None and second.original_timings is None
    assert len(classifier.recent) == sessions


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_session_sees_only_its_own_results() -> None:
    caches: SessionCaches[int] = SessionCaches()
    caches.put("a", "key", 1)
    assert (caches.get("a", "key"), caches.get("b", "key"), caches.get(None, "key")) == (1, None, None)


def test_an_idle_session_is_forgotten_after_the_idle_time() -> None:
    clock = Clock()
    caches: SessionCaches[int] = SessionCaches(idle_seconds=60, clock=clock)
    caches.put("a", "key", 1)
    clock.now = 59
    assert caches.get("a", "key") == 1  # a use keeps the session alive
    clock.now = 59 + 60
    assert caches.get("a", "key") is None and len(caches) == 0


def test_past_the_session_limit_the_session_idle_longest_is_dropped() -> None:
    clock = Clock()
    caches: SessionCaches[int] = SessionCaches(max_sessions=2, clock=clock)
    for second, session in enumerate(("a", "b", "c")):
        clock.now = second
        caches.put(session, "key", second)
    assert (caches.get("a", "key"), caches.get("b", "key"), caches.get("c", "key")) == (None, 1, 2)


def test_each_session_keeps_at_most_its_entry_limit() -> None:
    caches: SessionCaches[int] = SessionCaches(entries_per_session=2)
    for number in range(3):
        caches.put("a", f"key{number}", number)
    assert [caches.get("a", f"key{number}") for number in range(3)] == [None, 1, 2]


def test_a_closed_session_is_dropped_at_once() -> None:
    caches: SessionCaches[int] = SessionCaches()
    caches.put("a", "key", 1)
    caches.drop("a")
    assert caches.get("a", "key") is None and len(caches) == 0


def test_negative_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="max_sessions must be 0 or more, got -1"):
        SessionCaches(max_sessions=-1)
    with pytest.raises(ValueError, match="size must be 0 or more, got -2"):
        SessionCaches(entries_per_session=-2)
