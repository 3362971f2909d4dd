"""The arithmetic of expert review: pure functions on Decimals, no database, no Flask.

**Weighted total of one review.** Every criterion *i* has a weight *wᵢ* and a score range
[*minᵢ*, *maxᵢ*]; the expert gives a score *vᵢ* in that range. The total is

    total = 100 · Σ wᵢ · (vᵢ − minᵢ) / (maxᵢ − minᵢ)  /  Σ wᵢ

so each score is first normalised to 0–1 within its own range, the normalised scores are
averaged with the weights, and the result is put on a 0–100 scale whatever the ranges
and whether or not the weights add up to 100. It is computed with 40 significant digits
and rounded once, to 4 decimals, half up.

**Per application**, over its valid (submitted) review totals:

- *mean*: the arithmetic mean;
- *trimmed mean* (去掉最高最低分): exactly one highest and one lowest total are dropped
  and the rest averaged, but only when there are at least ``trimmed_min_reviews``
  totals (a call setting, never fewer than 3); below that it equals the mean, and
  :attr:`ReviewStats.trimmed` says which one was used;
- *median*: the middle total, or the mean of the two middle totals for an even count;
- *standard deviation*: the **sample** standard deviation (divisor *n* − 1), because the
  experts of a panel are a sample drawn from the pool; None for fewer than two totals;
- *spread*: highest minus lowest total;
- *disagreement*: the standard deviation exceeds ``stdev_threshold`` (default 10 points)
  or the spread exceeds ``spread_threshold`` (default 25 points).

Means, medians and deviations are rounded to 4 decimals, half up, after exact sums.

**Per expert calibration**: the z-score of each of an expert's totals against that
expert's own mean and (sample) standard deviation across all their valid reviews, in
every call: z = (total − mean) / stdev, rounded to 2 decimals. It is shown only when the
expert has at least :data:`CALIBRATION_MIN_REVIEWS` reviews and their totals vary.

**Ranking**: highest value first; equal values share a rank and the next rank skips
("1, 2, 2, 4", standard competition ranking); items without a value are not ranked.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from itertools import groupby
from typing import Any

FOUR_PLACES = Decimal("0.0001")
TWO_PLACES = Decimal("0.01")
HUNDRED = Decimal(100)
PRECISION = 40

#: Fewest reviews an expert needs before z-scores are shown beside their totals.
CALIBRATION_MIN_REVIEWS = 5
#: A standard deviation above this (points of 0–100) flags an application's reviews as disagreeing.
DISAGREEMENT_STDEV = Decimal("10")
#: A spread (highest minus lowest total) above this flags the reviews as disagreeing.
DISAGREEMENT_SPREAD = Decimal("25")
#: The trimmed mean never drops the extremes of fewer than three totals.
TRIMMED_MEAN_FLOOR = 3


def _round(value: Decimal, places: Decimal = FOUR_PLACES) -> Decimal:
    return value.quantize(places, rounding=ROUND_HALF_UP)


def _decimal(value) -> Decimal:
    if isinstance(value, float):
        raise TypeError("scores are Decimals, never floats")
    return value if isinstance(value, Decimal) else Decimal(value)


# --- one review ---------------------------------------------------------------------------


def normalised_score(value: Decimal, min_score: Decimal, max_score: Decimal) -> Decimal:
    """A score placed on 0–1 within its criterion's range (exact, not rounded)."""
    value, low, high = _decimal(value), _decimal(min_score), _decimal(max_score)
    if high <= low:
        raise ValueError("a criterion's maximum must exceed its minimum")
    if not low <= value <= high:
        raise ValueError(f"score {value} lies outside [{low}, {high}]")
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return (value - low) / (high - low)


def weighted_total(scores: Mapping[Any, Decimal], criteria: Iterable[Any]) -> Decimal:
    """The review's total on 0–100: Σ wᵢ·(vᵢ−minᵢ)/(maxᵢ−minᵢ) · 100 / Σ wᵢ, 4 decimals half up.

    ``scores`` maps a criterion's ``id`` to its score; each criterion has ``id``,
    ``weight``, ``min_score`` and ``max_score``. A missing or out-of-range score, an
    empty rubric or a non-positive weight sum raises ValueError.
    """
    criteria = list(criteria)
    if not criteria:
        raise ValueError("the rubric has no criteria")
    with localcontext() as ctx:
        ctx.prec = PRECISION
        weight_sum = sum((_decimal(c.weight) for c in criteria), Decimal(0))
        if weight_sum <= 0:
            raise ValueError("the weights must add up to more than zero")
        weighted = Decimal(0)
        for criterion in criteria:
            if scores.get(criterion.id) is None:
                raise ValueError(f"criterion {criterion.id} has no score")
            weighted += _decimal(criterion.weight) * normalised_score(
                scores[criterion.id], criterion.min_score, criterion.max_score
            )
        total = weighted * HUNDRED / weight_sum
    return _round(total)


# --- one application ----------------------------------------------------------------------


def mean(values: Sequence[Decimal]) -> Decimal | None:
    """The arithmetic mean, 4 decimals half up (None for no values)."""
    if not values:
        return None
    with localcontext() as ctx:
        ctx.prec = PRECISION
        exact = sum(values, Decimal(0)) / len(values)
    return _round(exact)


def median(values: Sequence[Decimal]) -> Decimal | None:
    """The middle value, or the mean of the two middle values for an even count."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return _round(ordered[middle])
    with localcontext() as ctx:
        ctx.prec = PRECISION
        exact = (ordered[middle - 1] + ordered[middle]) / 2
    return _round(exact)


def sample_stdev(values: Sequence[Decimal]) -> Decimal | None:
    """The sample standard deviation √(Σ(x−x̄)²/(n−1)), 4 decimals (None for fewer than two)."""
    exact = _exact_sample_stdev(values)
    return None if exact is None else _round(exact)


def _exact_sample_stdev(values: Sequence[Decimal]) -> Decimal | None:
    if len(values) < 2:
        return None
    with localcontext() as ctx:
        ctx.prec = PRECISION
        centre = sum(values, Decimal(0)) / len(values)
        squares = sum(((x - centre) ** 2 for x in values), Decimal(0))
        return (squares / (len(values) - 1)).sqrt()


def trimmed_mean(values: Sequence[Decimal], min_count: int) -> tuple[Decimal | None, bool]:
    """(value, trimmed): one highest and one lowest dropped when ``len(values) >= min_count``, else the mean."""
    if len(values) < max(min_count, TRIMMED_MEAN_FLOOR):
        return mean(values), False
    kept = sorted(values)[1:-1]
    return mean(kept), True


@dataclass(frozen=True)
class ReviewStats:
    """What the valid reviews of one application add up to."""

    count: int
    mean: Decimal | None
    trimmed_mean: Decimal | None
    trimmed: bool
    median: Decimal | None
    stdev: Decimal | None
    spread: Decimal | None
    lowest: Decimal | None
    highest: Decimal | None
    disagreement: bool

    @property
    def score(self) -> Decimal | None:
        """The value the application is ranked by: the trimmed mean (which is the mean below the minimum)."""
        return self.trimmed_mean

    @property
    def basis(self) -> str:
        """Which statistic :attr:`score` is: ``"trimmed_mean"`` or ``"mean"``."""
        return "trimmed_mean" if self.trimmed else "mean"


def review_stats(
    totals: Sequence[Decimal],
    trimmed_min_reviews: int,
    *,
    stdev_threshold: Decimal = DISAGREEMENT_STDEV,
    spread_threshold: Decimal = DISAGREEMENT_SPREAD,
) -> ReviewStats:
    """Count, mean, trimmed mean, median, sample stdev, spread and disagreement of ``totals``."""
    values = [_decimal(t) for t in totals]
    trimmed_value, trimmed = trimmed_mean(values, trimmed_min_reviews)
    stdev = sample_stdev(values)
    spread = (max(values) - min(values)) if values else None
    disagreement = len(values) >= 2 and (
        (stdev is not None and stdev > _decimal(stdev_threshold))
        or (spread is not None and spread > _decimal(spread_threshold))
    )
    return ReviewStats(
        count=len(values),
        mean=mean(values),
        trimmed_mean=trimmed_value,
        trimmed=trimmed,
        median=median(values),
        stdev=stdev,
        spread=spread,
        lowest=min(values) if values else None,
        highest=max(values) if values else None,
        disagreement=disagreement,
    )


# --- one expert ---------------------------------------------------------------------------


def z_scores(
    totals: Mapping[Hashable, Decimal],
    min_reviews: int = CALIBRATION_MIN_REVIEWS,
) -> dict[Hashable, Decimal]:
    """Each of an expert's totals as a z-score against their own mean and sample stdev, 2 decimals.

    ``totals`` maps a key (a review id) to the total of every valid review of one
    expert. Returns an empty dict when the expert has fewer than ``min_reviews``
    reviews or when all their totals are equal (no spread to calibrate against).
    """
    if len(totals) < max(min_reviews, 2):
        return {}
    values = [_decimal(v) for v in totals.values()]
    stdev = _exact_sample_stdev(values)
    if not stdev:
        return {}
    with localcontext() as ctx:
        ctx.prec = PRECISION
        centre = sum(values, Decimal(0)) / len(values)
        return {
            key: _round((_decimal(value) - centre) / stdev, TWO_PLACES)
            for key, value in totals.items()
        }


# --- a call -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ranked:
    """An item's place in a ranking; ``tied`` when another item shares its rank."""

    key: Any
    value: Decimal | None
    rank: int | None
    tied: bool


def rank(items: Iterable[tuple[Any, Decimal | None]]) -> list[Ranked]:
    """Rank ``(key, value)`` pairs highest value first; ties share a rank ("1, 2, 2, 4").

    Items of equal value keep their given order; items without a value come last,
    unranked. Values are compared as given (totals are already rounded to 4 decimals).
    """
    items = list(items)
    valued = sorted(((k, v) for k, v in items if v is not None), key=lambda kv: kv[1], reverse=True)
    ranked: list[Ranked] = []
    for _value, group in groupby(valued, key=lambda kv: kv[1]):
        members = list(group)
        shared = len(ranked) + 1  # the first position of this value
        ranked.extend(Ranked(key, value, shared, len(members) > 1) for key, value in members)
    ranked.extend(Ranked(k, None, None, False) for k, v in items if v is None)
    return ranked
