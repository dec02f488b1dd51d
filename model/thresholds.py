"""Pure decisions on scores: a verdict at one threshold, or allow / review / block with two. No model here."""

from __future__ import annotations

from typing import Literal

from .errors import ConfigurationError

__all__ = [
    "DEFAULT_ALLOW_BELOW",
    "DEFAULT_BLOCK_ABOVE",
    "DEFAULT_THRESHOLD",
    "NSFW",
    "SFW",
    "Decision",
    "Verdict",
    "check_band",
    "check_threshold",
    "decide",
    "verdict",
]

NSFW = "NSFW"
SFW = "SFW"
Verdict = Literal["NSFW", "SFW"]
Decision = Literal["allow", "review", "block"]

#: The defaults everywhere (tabs, API, CLI, reports): NSFW at a score of 0.5 or more ...
DEFAULT_THRESHOLD = 0.5
#: ... and the review band: allow below 0.3, block from 0.7, a person looks at everything in between.
DEFAULT_ALLOW_BELOW = 0.3
DEFAULT_BLOCK_ABOVE = 0.7


def check_threshold(value: float, name: str = "threshold") -> float:
    """Return `value` as a float in [0, 1], or raise a `ConfigurationError` that says so."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"The {name} must be a number between 0 and 1, not {value!r}.") from None
    if not 0.0 <= number <= 1.0:
        raise ConfigurationError(f"The {name} must be between 0 and 1, not {number:g}.")
    return number


def verdict(nsfw_score: float, threshold: float) -> Verdict:
    """NSFW when the score reaches the threshold (score >= threshold), SFW otherwise."""
    return NSFW if nsfw_score >= threshold else SFW


def check_band(allow_below: float, block_above: float) -> tuple[float, float]:
    """Validate a review band: both in [0, 1] and allow_below <= block_above."""
    low = check_threshold(allow_below, "allow threshold")
    high = check_threshold(block_above, "block threshold")
    if low > high:
        raise ConfigurationError(f"The allow threshold ({low:g}) must not be above the block threshold ({high:g}).")
    return low, high


def decide(nsfw_score: float, allow_below: float, block_above: float) -> Decision:
    """allow when score < allow_below, block when score >= block_above, review in between."""
    if nsfw_score >= block_above:
        return "block"
    if nsfw_score < allow_below:
        return "allow"
    return "review"
