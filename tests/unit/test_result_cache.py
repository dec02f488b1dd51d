"""Re-submitting the same bytes reuses the stored result; the key is the content, never the file name."""

from __future__ import annotations

from pathlib import Path

import pytest

from model import Classifier
from model.runtime.cache import ResultCache, content_key
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
    computed = classify_upload(classifier, str(first))
    reused = classify_upload(classifier, str(second))
    assert reused.prediction == computed.prediction
    assert (reused.width, reused.height, reused.format) == (320, 240, "JPEG")
    assert reused.timings.inference_ms == 0.0
    assert computed.timings.inference_ms > 0.0


def test_other_bytes_under_the_same_name_are_classified_again(classifier: Classifier, tmp_path: Path) -> None:
    path = tmp_path / "upload.jpg"
    path.write_bytes(encode(noise_photo((320, 240), seed=8), "JPEG", quality=85))
    classify_upload(classifier, str(path))
    path.write_bytes(encode(noise_photo((240, 320), seed=9), "JPEG", quality=85))
    result = classify_upload(classifier, str(path))
    assert (result.width, result.height) == (240, 320)
    assert result.timings.inference_ms > 0.0
