"""The decoder under a seeded mutation fuzzer: whatever the bytes, only our InvalidImageError family escapes, no
case is slow and memory stays bounded. `make fuzz` runs the long version (docs/RELIABILITY.md has its figures)."""

from __future__ import annotations

import random

import pytest

from model import decode_image
from model.inputs.images import ALLOWED_FORMATS
from tests.support.fuzz import mutate, run, seeds

#: Enough cases for every seed file to meet every mutation kind several times, in a few seconds.
SHORT_RUN = 3000
#: Above the baseline the process already holds: one image at the 40 MP limit, decoded and converted, fits.
MEMORY_BOUND_MB = 1024


def test_every_accepted_format_has_a_valid_seed_file() -> None:
    formats = {decode_image(data).format for data in seeds().values()}
    assert formats == set(ALLOWED_FORMATS)


def test_the_same_seed_mutates_into_the_same_bytes() -> None:
    data = seeds()["png"]
    assert mutate(data, random.Random("7:1")) == mutate(data, random.Random("7:1"))
    assert mutate(data, random.Random("7:1")) != mutate(data, random.Random("7:2"))


@pytest.mark.timeout(300)
def test_mutated_files_only_ever_raise_our_errors_and_memory_stays_bounded() -> None:
    report = run(SHORT_RUN, seed=1)
    assert report.escaped == [] and report.slow == []
    assert report.outcomes["decoded"] > 0 and report.outcomes["CorruptImageError"] > 0
    assert report.outcomes["ImageTooLargeError"] > 0  # rewritten sizes were refused from the header
    assert report.growth_mb < MEMORY_BOUND_MB, report.largest_growth
