"""The review band: allow below one threshold, block from another, human review in between; edges included."""

from __future__ import annotations

import pytest

from model import ConfigurationError, check_band, decide, verdict
from ui.band import band_chart, band_counts_html, decision_card, score_series


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0.0, "allow"),
        (0.2999, "allow"),
        (0.3, "review"),  # score == allow_below is no longer clearly safe
        (0.5, "review"),
        (0.7999, "review"),
        (0.8, "block"),  # score == block_above blocks, as the single threshold does
        (1.0, "block"),
    ],
)
def test_the_band_allows_below_reviews_between_and_blocks_from_the_top(score: float, expected: str) -> None:
    assert decide(score, 0.3, 0.8) == expected


@pytest.mark.parametrize("score", [0.0, 0.49, 0.5, 0.51, 1.0])
def test_equal_thresholds_leave_no_review_and_match_the_single_threshold(score: float) -> None:
    decision = decide(score, 0.5, 0.5)
    assert decision != "review"
    assert (decision == "block") == (verdict(score, 0.5) == "NSFW")


def test_a_band_spanning_everything_sends_all_but_certain_scores_to_review() -> None:
    assert [decide(score, 0.0, 1.0) for score in (0.0, 0.5, 0.999, 1.0)] == ["review", "review", "review", "block"]


def test_a_valid_band_is_returned_as_floats() -> None:
    assert check_band("0.2", 0.9) == (0.2, 0.9)
    assert check_band(0.5, 0.5) == (0.5, 0.5)


def test_an_allow_threshold_above_the_block_threshold_is_refused_with_both_values() -> None:
    with pytest.raises(
        ConfigurationError, match=r"allow threshold \(0.9\) must not be above the block threshold \(0.2\)"
    ):
        check_band(0.9, 0.2)


@pytest.mark.parametrize(("allow", "block", "name"), [(-0.1, 0.5, "allow threshold"), (0.1, 1.5, "block threshold")])
def test_a_band_edge_outside_zero_to_one_is_refused_and_named(allow: float, block: float, name: str) -> None:
    with pytest.raises(ConfigurationError, match=f"The {name} must be between 0 and 1"):
        check_band(allow, block)


def test_the_decision_card_carries_the_decision_and_the_blur_for_the_stylesheet() -> None:
    card = decision_card("review", 0.5, 0.3, 0.7, blur=True)
    assert 'data-decision="review"' in card and 'data-blur="1"' in card and "band 0.30 – 0.70" in card
    single = decision_card("allow", 0.4, 0.5, 0.5, blur=False)
    assert "Allowed: below the threshold · score 0.400 · threshold 0.50" in single and 'data-blur="0"' in single


def test_the_band_chart_draws_three_zones_or_two_for_a_single_threshold() -> None:
    band = band_chart(0.5, 0.3, 0.7, "review")
    assert all(f"zone-{name}" in band for name in ("allow", "review", "block")) and "review band" in band
    single = band_chart(0.5, 0.5, 0.5, "block")
    assert "vs threshold" in single and "legend-review" not in single


def test_the_score_series_has_one_point_per_score_over_the_band() -> None:
    plot = score_series([(0, 0.1), (5, 0.9), (10, 0.4)], 0.3, 0.7, title="NSFW score per frame", x_label="frame")
    assert plot.count("<circle") == 3 and "max 0.900 at 5" in plot
    assert score_series([], 0.3, 0.7, title="t", x_label="x") == ""


def test_band_counts_show_each_decision_and_with_labels_the_automatic_errors() -> None:
    plain = band_counts_html([0.1, 0.5, 0.9, 0.95], None, 0.3, 0.7)
    assert 'data-allow="1" data-review="1" data-block="2"' in plain and "band-errors" not in plain
    labelled = band_counts_html([0.1, 0.5, 0.9, 0.2], [1, 0, 1, 0], 0.3, 0.7)
    assert "NSFW allowed: 1 of 2 (50.0%)" in labelled and "safe blocked: 0 of 1 (0.0%)" in labelled
