"""Thresholding is a pure function of the score: no model involved."""

from __future__ import annotations

import pytest

from model import ConfigurationError, check_threshold, verdict


@pytest.mark.parametrize(
    ("score", "threshold", "expected"),
    [(0.5, 0.5, "NSFW"), (0.4999, 0.5, "SFW"), (0.0, 0.0, "NSFW"), (1.0, 1.0, "NSFW"), (0.99, 1.0, "SFW")],
)
def test_nsfw_when_the_score_reaches_the_threshold(score: float, threshold: float, expected: str) -> None:
    assert verdict(score, threshold) == expected


@pytest.mark.parametrize("bad", [-0.1, 1.5, "high", None, float("nan")])
def test_a_threshold_outside_zero_to_one_is_refused_with_a_message(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="between 0 and 1"):
        check_threshold(bad)  # type: ignore[arg-type]
