"""Review-band counts over many scores, and the errors of the automatically decided rest of a labelled set."""

from __future__ import annotations

import pytest
from sklearn.metrics import confusion_matrix

from model import ConfigurationError
from model.evaluation.review import count_decisions, review_outcome

LABELS = [0, 0, 0, 0, 1, 1, 1, 1]
SCORES = [0.05, 0.2, 0.5, 0.8, 0.1, 0.45, 0.7, 0.95]


def test_counts_put_each_edge_on_the_documented_side() -> None:
    assert count_decisions([0.29, 0.3, 0.69, 0.7], 0.3, 0.7) == {"allow": 1, "review": 2, "block": 1}


def test_the_reviewed_images_are_set_aside_and_the_rest_scored_as_decided() -> None:
    outcome = review_outcome(LABELS, SCORES, 0.3, 0.7)
    assert (outcome.allowed, outcome.reviewed, outcome.blocked) == (3, 2, 3)
    # Allowed: 0.05, 0.2 (safe) and 0.1 (NSFW, missed). Blocked: 0.8 (safe, wrongly) and 0.7, 0.95 (NSFW).
    assert (outcome.missed_nsfw, outcome.auto_nsfw, outcome.blocked_sfw, outcome.auto_sfw) == (1, 3, 1, 3)
    assert outcome.review_rate == 0.25 and outcome.auto_accuracy == pytest.approx(4 / 6)
    assert outcome.missed_nsfw_rate == pytest.approx(1 / 3) and outcome.blocked_sfw_rate == pytest.approx(1 / 3)
    assert outcome.as_dict()["review"] == 2


def test_equal_thresholds_match_the_confusion_matrix_at_that_threshold() -> None:
    outcome = review_outcome(LABELS, SCORES, 0.5, 0.5)
    predicted = [int(score >= 0.5) for score in SCORES]
    tn, fp, fn, tp = confusion_matrix(LABELS, predicted, labels=[0, 1]).ravel()
    assert outcome.reviewed == 0
    assert (outcome.missed_nsfw, outcome.blocked_sfw, outcome.blocked, outcome.allowed) == (fn, fp, tp + fp, tn + fn)


def test_a_band_that_reviews_everything_has_no_automatic_error_rates() -> None:
    outcome = review_outcome(LABELS, SCORES, 0.0, 1.0)
    assert outcome.reviewed == 8 and outcome.auto_decided == 0
    assert (outcome.missed_nsfw_rate, outcome.blocked_sfw_rate, outcome.auto_accuracy) == (None, None, None)


def test_mismatched_labels_and_an_inverted_band_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="Got 2 labels for 3 scores"):
        review_outcome([0, 1], [0.1, 0.2, 0.3], 0.3, 0.7)
    with pytest.raises(ConfigurationError, match="must not be above the block threshold"):
        count_decisions([0.5], 0.8, 0.2)
