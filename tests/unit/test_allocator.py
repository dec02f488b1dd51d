"""The app's process limits glibc's malloc arenas (a lower peak under concurrent requests), unless the operator has
already chosen with MALLOC_ARENA_MAX."""

from __future__ import annotations

import ctypes.util
import platform

import pytest

from model.runtime.allocator import limit_malloc_arenas


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc" or not ctypes.util.find_library("c"), reason="glibc only")
def test_on_glibc_the_arena_limit_is_set() -> None:
    assert limit_malloc_arenas({}) is True


def test_an_operators_malloc_arena_max_is_left_alone() -> None:
    assert limit_malloc_arenas({"MALLOC_ARENA_MAX": "8"}) is False
