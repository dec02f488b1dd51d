"""A review band over many scores: how many are allowed, reviewed or blocked, and how well the automatic part does.

Decisions follow `model.thresholds.decide` (allow below `allow_below`, block at or above `block_above`, review in
between). With labels (1 = NSFW), the images a person reviews are set aside and the rest are scored as the
automatic decisions they get: an NSFW image allowed is a missed one, a safe image blocked is a wrongly blocked one.
No torch here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ConfigurationError
from ..thresholds import check_band, decide

__all__ = ["ReviewOutcome", "count_decisions", "review_outcome"]


def count_decisions(scores: Sequence[float], allow_below: float, block_above: float) -> dict[str, int]:
    """{"allow", "review", "block"}: how many scores get each decision."""
    low, high = check_band(allow_below, block_above)
    counts = {"allow": 0, "review": 0, "block": 0}
    for score in scores:
        counts[decide(score, low, high)] += 1
    return counts


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class ReviewOutcome:
    """A labelled set under a band: the decision counts and the errors of the automatically decided images.

    Rates are None when their denominator is empty (e.g. no NSFW image was decided automatically).
    """

    allow_below: float
    block_above: float
    total: int
    allowed: int
    reviewed: int
    blocked: int
    missed_nsfw: int
    blocked_sfw: int
    auto_nsfw: int
    auto_sfw: int

    @property
    def auto_decided(self) -> int:
        return self.allowed + self.blocked

    @property
    def review_rate(self) -> float | None:
        return _rate(self.reviewed, self.total)

    @property
    def missed_nsfw_rate(self) -> float | None:
        """Share of the automatically decided NSFW images that were allowed (false negative rate)."""
        return _rate(self.missed_nsfw, self.auto_nsfw)

    @property
    def blocked_sfw_rate(self) -> float | None:
        """Share of the automatically decided safe images that were blocked (false positive rate)."""
        return _rate(self.blocked_sfw, self.auto_sfw)

    @property
    def auto_accuracy(self) -> float | None:
        return _rate(self.auto_decided - self.missed_nsfw - self.blocked_sfw, self.auto_decided)

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "allow_below": self.allow_below,
            "block_above": self.block_above,
            "total": self.total,
            "allow": self.allowed,
            "review": self.reviewed,
            "block": self.blocked,
            "review_rate": self.review_rate,
            "auto_decided": self.auto_decided,
            "missed_nsfw": self.missed_nsfw,
            "missed_nsfw_rate": self.missed_nsfw_rate,
            "blocked_sfw": self.blocked_sfw,
            "blocked_sfw_rate": self.blocked_sfw_rate,
            "auto_accuracy": self.auto_accuracy,
        }


def review_outcome(
    labels: Sequence[int | bool], scores: Sequence[float], allow_below: float, block_above: float
) -> ReviewOutcome:
    """Count decisions and automatic errors for labelled scores (label 1 = NSFW) under a band.

    Raises:
        ConfigurationError: the band is invalid, or labels and scores differ in length.
    """
    low, high = check_band(allow_below, block_above)
    if len(labels) != len(scores):
        raise ConfigurationError(f"Got {len(labels)} labels for {len(scores)} scores; they must line up.")
    counts = {"allow": 0, "review": 0, "block": 0}
    missed = wrongly_blocked = auto_nsfw = auto_sfw = 0
    for label, score in zip(labels, scores, strict=True):
        decision = decide(score, low, high)
        counts[decision] += 1
        if decision == "review":
            continue
        if label:
            auto_nsfw += 1
            missed += decision == "allow"
        else:
            auto_sfw += 1
            wrongly_blocked += decision == "block"
    return ReviewOutcome(
        allow_below=low,
        block_above=high,
        total=len(scores),
        allowed=counts["allow"],
        reviewed=counts["review"],
        blocked=counts["block"],
        missed_nsfw=missed,
        blocked_sfw=wrongly_blocked,
        auto_nsfw=auto_nsfw,
        auto_sfw=auto_sfw,
    )
