"""The arithmetic of review, on hand-computed examples: totals, trimmed mean, median, stdev,
disagreement, z-scores and ranking with ties."""

from dataclasses import dataclass
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grants.review.aggregation import (
    CALIBRATION_MIN_REVIEWS,
    DISAGREEMENT_SPREAD,
    DISAGREEMENT_STDEV,
    Ranked,
    ReviewStats,
    normalised_score,
    rank,
    review_stats,
    sample_stdev,
    trimmed_mean,
    weighted_total,
    z_scores,
)


@dataclass
class Criterion:
    id: int
    weight: D
    min_score: D
    max_score: D


RUBRIC_60_40 = [Criterion(1, D(60), D(0), D(10)), Criterion(2, D(40), D(0), D(10))]


def test_weighted_total_of_the_60_40_rubric():
    # 60·0.8 + 40·0.7 = 76 of 100
    assert weighted_total({1: D("8"), 2: D("7")}, RUBRIC_60_40) == D("76.0000")
    assert weighted_total({1: D("10"), 2: D("10")}, RUBRIC_60_40) == D("100.0000")
    assert weighted_total({1: D("0"), 2: D("0")}, RUBRIC_60_40) == D("0.0000")


def test_weighted_total_normalises_each_range_and_the_weight_sum():
    criteria = [Criterion(1, D(3), D(1), D(5)), Criterion(2, D(7), D(0), D(100))]
    # (4−1)/(5−1) = 0.75 and 55/100 = 0.55; 100·(3·0.75 + 7·0.55)/10 = 61
    assert weighted_total({1: D("4"), 2: D("55")}, criteria) == D("61.0000")


def test_weighted_total_rounds_half_up_to_four_decimals():
    criteria = [Criterion(1, D(1), D(0), D(16)), Criterion(2, D(1), D(0), D(16))]
    # 100·(0.01/16)/2 = 0.03125 exactly: half up gives 0.0313 (half even would give 0.0312)
    assert weighted_total({1: D("0.01"), 2: D("0")}, criteria) == D("0.0313")
    thirds = [Criterion(i, D(1), D(0), D(3)) for i in (1, 2, 3)]
    assert weighted_total({1: D(1), 2: D(0), 3: D(0)}, thirds) == D("11.1111")


def test_weighted_total_refuses_missing_and_out_of_range_scores():
    with pytest.raises(ValueError):
        weighted_total({1: D("8")}, RUBRIC_60_40)
    with pytest.raises(ValueError):
        weighted_total({1: D("10.5"), 2: D("7")}, RUBRIC_60_40)
    with pytest.raises(TypeError):
        weighted_total({1: 8.0, 2: D("7")}, RUBRIC_60_40)


def test_trimmed_mean_drops_exactly_one_highest_and_one_lowest():
    totals = [D(90), D(90), D(60), D(60), D(81)]
    # one 90 and one 60 dropped: (90 + 60 + 81)/3 = 77; dropping every 90 and 60 would give 81
    assert trimmed_mean(totals, 5) == (D("77.0000"), True)
    stats = review_stats(totals, 5)
    assert stats.trimmed and stats.basis == "trimmed_mean"
    assert stats.mean == D("76.2000") and stats.trimmed_mean == stats.score == D("77.0000")


def test_trimmed_mean_below_the_minimum_count_equals_the_mean():
    totals = [D(80), D(70), D(95), D(60)]
    stats = review_stats(totals, 5)
    assert not stats.trimmed and stats.basis == "mean"
    assert stats.trimmed_mean == stats.mean == D("76.2500")
    # at the minimum it trims: (70 + 80)/2
    assert review_stats(totals, 4).trimmed_mean == D("75.0000")


def test_trimmed_mean_never_trims_fewer_than_three():
    assert trimmed_mean([D(10), D(20)], 2) == (D("15.0000"), False)


def test_median_of_odd_and_even_counts():
    assert review_stats([D(3), D(1), D(2)], 5).median == D("2.0000")
    assert review_stats([D(1), D(2), D(3), D(10)], 5).median == D("2.5000")
    assert review_stats([D("70.1234")], 5).median == D("70.1234")


def test_stdev_is_the_sample_standard_deviation():
    values = [D(v) for v in (2, 4, 4, 4, 5, 5, 7, 9)]
    # mean 5, Σ(x−5)² = 32; 32/7 = 4.571428…; √ = 2.13809 (the population value would be 2)
    assert sample_stdev(values) == D("2.1381")
    assert sample_stdev([D(70)]) is None
    assert review_stats([D(70)], 5).stdev is None


def test_empty_reviews_give_no_statistics():
    stats = review_stats([], 5)
    assert stats.count == 0
    assert stats.mean is stats.trimmed_mean is stats.median is stats.stdev is None
    assert not stats.disagreement


def test_disagreement_flag_by_stdev_or_spread():
    assert review_stats([D(50), D(80)], 5).disagreement  # sd 21.2132 > 10
    calm = review_stats([D(70), D(72), D(74)], 5)
    assert calm.stdev == D("2.0000") and calm.spread == D(4) and not calm.disagreement
    spread_only = review_stats([D(70), D(76)], 5, stdev_threshold=D(100), spread_threshold=D(5))
    assert spread_only.disagreement


def test_z_scores_against_the_experts_own_mean_and_sample_stdev():
    totals = {1: D(60), 2: D(70), 3: D(80), 4: D(90), 5: D(100)}
    # mean 80; sample sd √((400+100+0+100+400)/4) = √250 = 15.8114; −20/15.8114 = −1.2649
    assert z_scores(totals, 5) == {
        1: D("-1.26"),
        2: D("-0.63"),
        3: D("0.00"),
        4: D("0.63"),
        5: D("1.26"),
    }


def test_z_scores_hidden_below_the_minimum_or_without_spread():
    four = {1: D(60), 2: D(70), 3: D(80), 4: D(90)}
    assert z_scores(four, 5) == {}
    assert z_scores(four, 4)[1] == D("-1.16")  # −15 / 12.9099
    assert z_scores({i: D(75) for i in range(6)}, 5) == {}


def test_ranking_ties_share_a_rank_and_skip_the_next():
    ranked = rank(
        [("a", D(90)), ("b", D("80.0000")), ("c", D(80)), ("d", D(70)), ("e", None), ("f", D(60))]
    )
    assert [(r.key, r.rank, r.tied) for r in ranked] == [
        ("a", 1, False),
        ("b", 2, True),
        ("c", 2, True),
        ("d", 4, False),
        ("f", 5, False),
        ("e", None, False),
    ]


def test_ranking_of_equal_values_keeps_the_given_order():
    ranked = rank([("x", D(50)), ("y", D(50)), ("z", D(50))])
    assert [r.key for r in ranked] == ["x", "y", "z"]
    assert {r.rank for r in ranked} == {1} and all(r.tied for r in ranked)


totals_strategy = st.lists(
    st.decimals(min_value=0, max_value=100, places=4), min_size=0, max_size=12
)


@given(totals_strategy, st.integers(min_value=3, max_value=8))
def test_statistics_lie_between_the_lowest_and_highest_total(totals, minimum):
    stats = review_stats(totals, minimum)
    assert stats.count == len(totals)
    if not totals:
        return
    low, high = min(totals), max(totals)
    for value in (stats.mean, stats.trimmed_mean, stats.median):
        assert low <= value <= high
    assert stats.trimmed == (len(totals) >= minimum)
    if stats.stdev is not None:
        assert stats.stdev >= 0


@given(
    st.lists(st.one_of(st.none(), st.decimals(min_value=0, max_value=100, places=1)), max_size=15)
)
def test_ranking_is_competition_ranking(values):
    ranked = rank(list(enumerate(values)))
    assert sorted(r.key for r in ranked) == list(range(len(values)))
    valued = [r for r in ranked if r.value is not None]
    for r in valued:
        # a rank is one more than the number of strictly higher values
        assert r.rank == 1 + sum(1 for v in values if v is not None and v > r.value)
        assert r.tied == (sum(1 for v in values if v == r.value) > 1)
    assert all(r.rank is None for r in ranked if r.value is None)


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=100), st.integers(min_value=0, max_value=1000)
        ),
        min_size=1,
        max_size=6,
    )
)
def test_weighted_total_stays_within_0_and_100(weights_and_values):
    criteria = [Criterion(i, D(w), D(0), D(10)) for i, (w, _v) in enumerate(weights_and_values)]
    scores = {i: D(v) / 100 for i, (_w, v) in enumerate(weights_and_values)}
    assert D(0) <= weighted_total(scores, criteria) <= D(100)


# --- the edges, written out (each kills a mutant that the cases above let through) ----------


def test_the_published_thresholds():
    # the call guide promises these: five reviews before calibration, sd 10 and spread 25
    assert (CALIBRATION_MIN_REVIEWS, DISAGREEMENT_STDEV, DISAGREEMENT_SPREAD) == (5, 10, 25)
    assert z_scores({i: D(60 + 10 * i) for i in range(4)}) == {}
    assert len(z_scores({i: D(60 + 10 * i) for i in range(5)})) == 5


def test_a_criterion_range_must_be_wider_than_a_point():
    with pytest.raises(ValueError):
        normalised_score(D(5), D(5), D(5))
    assert normalised_score(D(5), D(0), D(10)) == D("0.5")


def test_weights_adding_up_to_zero_are_refused():
    rubric = [Criterion(1, D(0), D(0), D(10)), Criterion(2, D(0), D(0), D(10))]
    with pytest.raises(ValueError):
        weighted_total({1: D(5), 2: D(5)}, rubric)


def test_two_totals_have_a_standard_deviation_one_has_none():
    assert sample_stdev([D(70)]) is None
    assert sample_stdev([D(70), D(80)]) == D("7.0711")  # √50


def test_disagreement_is_strictly_above_the_thresholds():
    # sd of 60 and 70 is 7.0711; spread 10: exactly at the thresholds is not disagreement
    at_spread = review_stats([D(60), D(70)], 5, stdev_threshold=D(100), spread_threshold=D(10))
    assert not at_spread.disagreement
    at_sd = review_stats([D(60), D(70)], 5, stdev_threshold=D("7.0711"), spread_threshold=D(99))
    assert not at_sd.disagreement
    just_over = review_stats([D(60), D(70)], 5, stdev_threshold=D("7.0710"), spread_threshold=D(99))
    assert just_over.disagreement


def test_z_scores_of_two_reviews_when_the_minimum_allows():
    assert z_scores({1: D(60), 2: D(80)}, 2) == {1: D("-0.71"), 2: D("0.71")}


def test_results_are_values_that_cannot_be_changed():
    stats = review_stats([D(70), D(80)], 5)
    with pytest.raises(AttributeError):
        stats.mean = D(0)  # type: ignore[misc]
    assert isinstance(stats, ReviewStats)
    with pytest.raises(AttributeError):
        rank([("a", D(1))])[0].rank = 2  # type: ignore[misc]


def test_the_first_ranked_item_is_first_even_with_a_zero_value():
    assert rank([("a", D(0)), ("b", D(0))]) == [
        Ranked("a", D(0), 1, True),
        Ranked("b", D(0), 1, True),
    ]
