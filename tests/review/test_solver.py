"""The assignment solver: properties on random instances, exact optimum, infeasibility, the draw."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from grants.review.solver import objective_of, solve

# --- instances ------------------------------------------------------------------------------


@st.composite
def instances(draw, max_apps=5, max_experts=5, max_k=3):
    """A random instance whose fixed pairs respect k and the caps (as accepted ones do)."""
    n_a = draw(st.integers(1, max_apps))
    n_e = draw(st.integers(1, max_experts))
    k = draw(st.integers(1, max_k))
    apps = list(range(100, 100 + n_a))
    exps = list(range(200, 200 + n_e))
    pairs = [(a, e) for a in apps for e in exps]
    suitability = draw(st.dictionaries(st.sampled_from(pairs), st.integers(0, 30)))
    forbidden = draw(st.sets(st.sampled_from(pairs), max_size=max(1, len(pairs) // 3)))
    per_expert = draw(st.booleans())
    cap = {e: draw(st.integers(0, 6)) for e in exps} if per_expert else draw(st.integers(0, 6))
    wanted = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=n_a))
    fixed, per_app, per_exp = set(), Counter(), Counter()
    for a, e in wanted:
        limit = cap[e] if per_expert else cap
        if (a, e) not in forbidden and per_app[a] < k and per_exp[e] < limit:
            fixed.add((a, e))
            per_app[a] += 1
            per_exp[e] += 1
    balance = draw(st.integers(0, 3))
    return {
        "applications": apps,
        "experts": exps,
        "k": k,
        "suitability": suitability,
        "forbidden": forbidden,
        "cap": cap,
        "fixed": fixed,
        "balance": balance,
    }


# --- the objective, written out here rather than imported ----------------------------------
# The solver's objective is − Σ suitability of the new pairs + balance · Σ_e C(L_e, 2), counted
# over each expert's load L_e including the fixed pairs, less what the fixed pairs alone cost.
# The oracles below use these two functions, never the solver's own ``load_penalty`` or
# ``objective_of``, so that a change to the solver's pricing cannot move the oracle with it.


def penalty(load: int, balance: int) -> int:
    """balance × the number of pairs among ``load`` reviews: 0, 0, 1, 3, 6, 10 … times balance."""
    return balance * sum(range(load))


def expected_objective(pairs, suitability, fixed, balance) -> int:
    before = Counter(e for _, e in fixed)
    after = before + Counter(e for _, e in pairs)
    gained = sum(suitability.get(p, 0) for p in pairs)
    return sum(penalty(after[e], balance) - penalty(before[e], balance) for e in after) - gained


def test_penalty_by_hand():
    assert [penalty(n, 1) for n in range(6)] == [0, 0, 1, 3, 6, 10]
    assert [penalty(n, 3) for n in range(5)] == [0, 0, 3, 9, 18]


def test_expected_objective_by_hand():
    # expert 10 goes from 1 fixed review to 3 (penalty 3 − 0), expert 11 from 0 to 1 (0)
    pairs = [(1, 10), (2, 10), (3, 11)]
    suitability = {(1, 10): 4, (3, 11): 7}
    assert expected_objective(pairs, suitability, {(9, 10)}, 1) == 3 - 11
    assert expected_objective(pairs, suitability, {(9, 10)}, 2) == 6 - 11


def test_solver_objective_of_agrees_with_the_written_out_objective():
    pairs = [(1, 10), (2, 10), (3, 11), (4, 10)]
    suitability = {(1, 10): 4, (3, 11): 7, (4, 10): 1}
    for balance in (0, 1, 2, 3):
        assert objective_of(pairs, suitability, {(9, 10)}, balance) == expected_objective(
            pairs, suitability, {(9, 10)}, balance
        )


def cap_of(instance, expert):
    cap = instance["cap"]
    return cap.get(expert, 0) if isinstance(cap, dict) else cap


def run(instance, **extra):
    return solve(
        instance["applications"],
        instance["experts"],
        instance["k"],
        instance["suitability"],
        instance["forbidden"],
        instance["cap"],
        fixed=instance["fixed"],
        balance=instance["balance"],
        **extra,
    )


def brute_force(instance) -> int | None:
    """The least objective over every assignment, or None when none exists."""
    fixed = instance["fixed"]
    choices = []
    for a in instance["applications"]:
        held = sum(1 for p in fixed if p[0] == a)
        free = [
            e
            for e in instance["experts"]
            if (a, e) not in instance["forbidden"] and (a, e) not in fixed
        ]
        need = max(0, instance["k"] - held)
        choices.append([[(a, e) for e in combo] for combo in itertools.combinations(free, need)])
    best = None
    for combo in itertools.product(*choices):
        pairs = [p for group in combo for p in group]
        load = Counter(e for _, e in list(fixed) + pairs)
        if any(load[e] > cap_of(instance, e) for e in instance["experts"]):
            continue
        cost = expected_objective(pairs, instance["suitability"], fixed, instance["balance"])
        best = cost if best is None else min(best, cost)
    return best


def milp_optimum(instance) -> int | None:
    """The optimum as an integer programme with the load penalty as the epigraph of its tangents."""
    apps, exps, fixed = instance["applications"], instance["experts"], instance["fixed"]
    balance = instance["balance"]
    pairs = [
        (a, e)
        for a in apps
        for e in exps
        if (a, e) not in instance["forbidden"] and (a, e) not in fixed
    ]
    n_x, n_z = len(pairs), len(exps)
    fixed_load = Counter(e for _, e in fixed)
    c = np.array([-instance["suitability"].get(p, 0) for p in pairs] + [1.0] * n_z)
    rows, lower, upper = [], [], []
    for a in apps:
        row = np.zeros(n_x + n_z)
        for n, p in enumerate(pairs):
            if p[0] == a:
                row[n] = 1
        need = max(0, instance["k"] - sum(1 for p in fixed if p[0] == a))
        rows.append(row)
        lower.append(need)
        upper.append(need)
    for j, e in enumerate(exps):
        row = np.zeros(n_x + n_z)
        for n, p in enumerate(pairs):
            if p[1] == e:
                row[n] = 1
        rows.append(row)
        lower.append(-np.inf)
        upper.append(cap_of(instance, e) - fixed_load[e])
        # z_e ≥ P(m) + (P(m+1) − P(m)) · (load_e − m) for every integer m: the convex penalty
        for m in range(len(apps) + len(fixed) + 2):
            slope = penalty(m + 1, balance) - penalty(m, balance)
            tangent = np.zeros(n_x + n_z)
            tangent[n_x + j] = 1
            for n, p in enumerate(pairs):
                if p[1] == e:
                    tangent[n] = -slope
            rows.append(tangent)
            lower.append(penalty(m, balance) + slope * (fixed_load[e] - m))
            upper.append(np.inf)
    integrality = np.array([1] * n_x + [0] * n_z)
    bounds = Bounds(np.zeros(n_x + n_z), np.array([1.0] * n_x + [np.inf] * n_z))
    found = milp(
        c,
        constraints=LinearConstraint(np.array(rows), lower, upper),
        integrality=integrality,
        bounds=bounds,
    )
    if found.status == 2:
        return None
    assert found.status == 0, found.message
    constant = sum(penalty(fixed_load[e], balance) for e in exps)
    return round(found.fun - constant)


def check_valid(instance, result):
    fixed = instance["fixed"]
    assert not set(result.pairs) & fixed
    assert not set(result.pairs) & instance["forbidden"]
    assert len(set(result.pairs)) == len(result.pairs)
    per_app = Counter(a for a, _ in list(fixed) + result.pairs)
    for a in instance["applications"]:
        assert per_app[a] == instance["k"]
    load = Counter(e for _, e in list(fixed) + result.pairs)
    for e in instance["experts"]:
        assert load[e] <= cap_of(instance, e)
        assert result.loads[e] == load[e]


SLOW = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# --- properties ------------------------------------------------------------------------------


@SLOW
@given(instances())
def test_solve_assignment_valid_when_feasible(instance):
    result = run(instance)
    assume(result.feasible)
    check_valid(instance, result)
    assert result.objective == expected_objective(
        result.pairs, instance["suitability"], instance["fixed"], instance["balance"]
    )


@SLOW
@given(instances(max_apps=4, max_experts=4, max_k=2))
def test_solve_objective_equals_brute_force_optimum_on_tiny_instances(instance):
    result = run(instance)
    best = brute_force(instance)
    assert result.feasible == (best is not None)
    if best is not None:
        assert result.objective == best


@SLOW
@given(instances(max_apps=7, max_experts=6))
def test_solve_objective_equals_milp_optimum_on_small_instances(instance):
    result = run(instance)
    best = milp_optimum(instance)
    assert result.feasible == (best is not None)
    if best is not None:
        assert result.objective == best
        check_valid(instance, result)


@SLOW
@given(instances(), st.integers(0, 10_000))
def test_solve_draw_keeps_the_optimum(instance, seed):
    plain = run(instance)
    drawn = run(instance, draw=True, seed=seed)
    assert drawn.feasible == plain.feasible
    if plain.feasible:
        assert drawn.objective == plain.objective
        check_valid(instance, drawn)


@SLOW
@given(instances())
def test_solve_infeasible_reports_short_applications_and_creates_nothing(instance):
    result = run(instance)
    assume(not result.feasible)
    assert result.pairs == []
    assert result.missing > 0
    assert result.short_applications
    assert set(result.short_applications) <= set(result.group)
    for s in result.shortages:
        assert s.allowed + s.forbidden + s.fixed == len(instance["experts"])
        assert s.reason in ("too_few_experts", "experts_at_cap")


# --- examples ---------------------------------------------------------------------------------


def test_solve_infeasible_names_application_with_too_few_allowed_experts():
    result = solve([1, 2], [10, 11, 12], 2, {}, {(1, 11), (1, 12)}, cap=3)
    assert not result.feasible
    assert result.short_applications == [1]
    (shortage,) = result.shortages
    assert (shortage.needed, shortage.allowed, shortage.forbidden, shortage.at_cap) == (2, 1, 2, 0)
    assert shortage.reason == "too_few_experts"


def test_solve_infeasible_names_applications_competing_for_capped_experts():
    forbidden = {(1, 12), (1, 13), (2, 12), (2, 13)}
    result = solve([1, 2, 3], [10, 11, 12, 13], 2, {}, forbidden, cap={10: 1, 11: 1, 12: 5, 13: 5})
    assert not result.feasible
    assert result.missing == 2
    assert set(result.group) == {1, 2}
    assert all(s.reason == "experts_at_cap" and s.at_cap == 2 for s in result.shortages)
    assert 3 not in result.group


def test_solve_cap_per_expert_missing_expert_takes_nothing():
    result = solve([1, 2], [10, 11, 12], 1, {(1, 12): 9, (2, 12): 9}, set(), cap={10: 2, 11: 2})
    assert result.feasible
    assert all(e != 12 for _, e in result.pairs)


def test_solve_prefers_the_better_suited_expert():
    result = solve([1], [10, 11, 12], 1, {(1, 11): 25, (1, 12): 20}, set(), cap=3)
    assert result.pairs == [(1, 11)]
    assert result.objective == -25


def test_solve_spreads_load_evenly_among_equally_suited_experts():
    result = solve(range(6), [10, 11, 12], 1, {}, set(), cap=6)
    assert sorted(result.loads.values()) == [2, 2, 2]
    assert result.objective == 3  # three experts with two reviews each: one pair each


def test_solve_balance_outweighs_small_suitability_gap_only():
    apps = range(8)
    suitability = {(a, 10): 5 for a in apps}
    small_gap = solve(apps, [10, 11], 1, suitability, set(), cap=8)
    assert small_gap.loads == {10: 6, 11: 2}  # five points are worth five steps of load
    big_gap = solve(apps, [10, 11], 1, {(a, 10): 20 for a in apps}, set(), cap=8)
    assert big_gap.loads == {10: 8, 11: 0}


def test_solve_keeps_fixed_pairs_counting_towards_k_and_load():
    fixed = {(1, 10), (2, 10)}
    result = solve([1, 2, 3], [10, 11, 12], 2, {(3, 10): 30}, set(), cap=2, fixed=fixed)
    assert result.feasible
    assert (3, 10) not in result.pairs  # expert 10 is full with the fixed pairs
    assert result.loads[10] == 2
    assert Counter(a for a, _ in result.pairs) == {1: 1, 2: 1, 3: 2}


def test_solve_fixed_beyond_k_needs_nothing_more():
    result = solve([1], [10, 11, 12], 2, {}, set(), cap=3, fixed={(1, 10), (1, 11), (1, 12)})
    assert result.feasible and result.pairs == [] and result.objective == 0


def test_solve_draw_reproducible_with_seed():
    apps, experts = range(20), range(30, 45)
    first = solve(apps, experts, 3, {}, set(), cap=4, draw=True, seed=7)
    again = solve(apps, experts, 3, {}, set(), cap=4, draw=True, seed=7)
    assert first.pairs == again.pairs
    others = {
        tuple(solve(apps, experts, 3, {}, set(), cap=4, draw=True, seed=s).pairs)
        for s in range(8, 13)
    }
    assert len(others | {tuple(first.pairs)}) > 1
    assert first.seed == 7 and first.draw


def test_solve_draw_only_reorders_equally_suited_experts():
    # two suitability levels: the draw picks within the better level and never reaches down
    suitability = {(a, e): (10 if e < 5 else 5) for a in range(4) for e in range(10)}
    for seed in range(20):
        result = solve(range(4), range(10), 2, suitability, set(), cap=2, draw=True, seed=seed)
        assert all(e < 5 for _, e in result.pairs)
        assert result.suitability == 80


def test_solve_draw_with_distinct_suitabilities_matches_plain_solve():
    suitability = {(a, e): 100 - 7 * a - e for a in range(3) for e in range(6)}
    plain = solve(range(3), range(6), 2, suitability, set(), cap=6, balance=0)
    for seed in range(10):
        drawn = solve(
            range(3), range(6), 2, suitability, set(), cap=6, balance=0, draw=True, seed=seed
        )
        assert drawn.pairs == plain.pairs


def test_solve_negative_k_refused():
    with pytest.raises(ValueError):
        solve([1], [2], -1, {}, set(), 1)


def test_solve_empty_instance_is_feasible():
    result = solve([], [], 3, {}, set(), 5)
    assert result.feasible and result.pairs == [] and result.objective == 0
