"""Optimal reviewer assignment as a min-cost flow (pure: no database, no Flask).

The network (HotCRP's idea, ``src/autoassigner.php``)::

    source ──(k − fixed_a)──▶ application a ──(1, −suitability(a, e))──▶ expert e ══▶ sink

and from every expert to the sink one unit arc per review it may still take; the arc of
its j-th review (counting the reviews it already holds) costs ``balance · (j − 1)``.
Because these costs rise, the flow fills an expert's cheap arcs first, so the total
load penalty of an expert with load L is ``balance · L(L − 1)/2``: a convex (quadratic)
price on load that spreads the reviews evenly among experts who suit equally well.

**The objective** (minimised, integers only) is therefore::

    Σ over new pairs (a, e)  −suitability(a, e)
  + Σ over experts e         balance · Σ_{j = fixed_e + 1}^{load_e} (j − 1)

One suitability point is worth one step of load difference times ``balance``: with the
default ``balance = 1``, an expert one point better suited takes the review unless it
already holds at least one review more than the other. Pairs absent from
``suitability`` score 0: not suited at all, yet allowed unless forbidden. Fixed pairs
(accepted or still open invitations) are kept: they count towards the application's
``k`` and the expert's load, and their own costs are constants left out of the
objective.

**The draw** (the Chinese rule of drawing experts from the pool by lot): with
``draw=True`` every allowed pair gets a random tie-break in ``[0, TIE_RANGE)`` drawn
from ``seed``. The real costs are multiplied by ``M = need · (TIE_RANGE − 1) + 1``,
more than the tie-breaks of all ``need`` new pairs together can add, so the draw only
chooses among assignments that are optimal without it: it reorders equally suited
(and equally loaded) experts and never trades suitability or balance for luck.

When the flow cannot give every application its ``k`` experts nothing is assigned;
:class:`Result` says which applications cannot all be served (the applications on the
source side of the minimum cut: together they need more reviews than their allowed
experts can still take) and, for each, how many experts are allowed, at their cap and
forbidden by conflicts.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from ortools.graph.python.min_cost_flow import SimpleMinCostFlow
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order

TIE_RANGE = 256
_COST_LIMIT = 2**62  # OR-Tools scales costs by the number of nodes: keep well inside int64

Id = Hashable
Pair = tuple[Id, Id]


@dataclass(frozen=True)
class Shortage:
    """An application of the group that cannot all be served, and why.

    ``reason`` is ``too_few_experts`` when fewer experts are allowed than it still needs
    (add experts to the pool or rule on conflict flags), else ``experts_at_cap``
    (raise the cap, or add experts).
    """

    application: Id
    needed: int
    placed: int
    allowed: int
    at_cap: int
    forbidden: int
    fixed: int
    reason: str

    @property
    def short(self) -> bool:
        return self.placed < self.needed


@dataclass
class Result:
    """The outcome of :func:`solve`; ``pairs`` holds only new pairs and is empty when infeasible."""

    feasible: bool
    pairs: list[Pair]
    objective: int
    suitability: int
    loads: dict[Id, int]
    caps: dict[Id, int]
    needed: int
    missing: int = 0
    shortages: list[Shortage] = field(default_factory=list)
    seed: int | None = None
    draw: bool = False

    @property
    def short_applications(self) -> list[Id]:
        """Applications left with fewer than k experts in the best partial assignment."""
        return [s.application for s in self.shortages if s.short]

    @property
    def group(self) -> list[Id]:
        """Every application of the group that competes for the same saturated experts."""
        return [s.application for s in self.shortages]


def load_penalty(load: int, balance: int = 1) -> int:
    """The objective's price of an expert holding ``load`` reviews: balance·L(L−1)/2."""
    return balance * load * (load - 1) // 2


def solve(
    applications: Iterable[Id],
    experts: Iterable[Id],
    k: int,
    suitability: Mapping[Pair, int],
    forbidden: Iterable[Pair],
    cap: int | Mapping[Id, int],
    fixed: Iterable[Pair] = (),
    seed: int | None = None,
    draw: bool = False,
    balance: int = 1,
    base_load: Mapping[Id, int] | None = None,
) -> Result:
    """Give each application ``k`` experts (counting ``fixed``) at minimum cost; see the module doc.

    ``cap`` is one maximum load for all experts or a per-expert mapping (experts missing
    from it take no review). ``base_load`` counts reviews the experts hold outside these
    applications (another purpose's panels): they weigh on the load and the cap like
    fixed pairs but serve no application here. Ids must be sortable (the draw walks the
    pairs in order).
    """
    apps = list(dict.fromkeys(applications))
    exps = list(dict.fromkeys(experts))
    if k < 0 or balance < 0:
        raise ValueError("k and balance cannot be negative")
    n_a, n_e = len(apps), len(exps)
    a_index = {a: i for i, a in enumerate(apps)}
    e_index = {e: j for j, e in enumerate(exps)}

    caps = np.array([_cap_of(cap, e) for e in exps], dtype=np.int64)
    fixed_pairs = set(fixed)
    fixed_mask = np.zeros((n_a, n_e), dtype=bool)
    fixed_per_app = np.zeros(n_a, dtype=np.int64)
    fixed_load = np.zeros(n_e, dtype=np.int64)
    for a, e in fixed_pairs:
        i, j = a_index.get(a), e_index.get(e)
        if i is not None:
            fixed_per_app[i] += 1
        if j is not None:
            fixed_load[j] += 1
        if i is not None and j is not None:
            fixed_mask[i, j] = True
    for e, extra in (base_load or {}).items():
        j = e_index.get(e)
        if j is not None:
            fixed_load[j] += max(0, int(extra))
    need = np.maximum(0, k - fixed_per_app)
    room = np.maximum(0, caps - fixed_load)

    score = np.zeros((n_a, n_e), dtype=np.int64)
    for (a, e), s in suitability.items():
        i, j = a_index.get(a), e_index.get(e)
        if i is not None and j is not None:
            score[i, j] = int(s)
    forbidden_mask = np.zeros((n_a, n_e), dtype=bool)
    for a, e in forbidden:
        i, j = a_index.get(a), e_index.get(e)
        if i is not None and j is not None:
            forbidden_mask[i, j] = True
    allowed = ~forbidden_mask & ~fixed_mask
    usable = allowed & (room > 0)[None, :] & (need > 0)[:, None]

    total_need = int(need.sum())
    scale, tie_range = _scales(score, usable, room, total_need, balance, n_a + n_e + 2, draw)

    src, sink = 0, n_a + n_e + 1
    rows, cols = np.nonzero(usable)
    pair_costs = -score[rows, cols] * scale
    if draw and rows.size:
        pair_costs = pair_costs + _ties(apps, exps, rows, cols, seed, tie_range)
    # experts → sink: one unit arc per further review, at a rising price
    steps = np.minimum(room, usable.sum(axis=0))
    sink_tails = np.repeat(np.arange(n_e, dtype=np.int64), steps)
    step_no = np.arange(sink_tails.size, dtype=np.int64) - np.repeat(
        np.cumsum(steps) - steps, steps
    )
    sink_costs = balance * (fixed_load[sink_tails] + step_no) * scale
    tails = np.concatenate([np.zeros(n_a, dtype=np.int64), rows + 1, sink_tails + n_a + 1])
    heads = np.concatenate(
        [
            np.arange(1, n_a + 1, dtype=np.int64),
            cols + n_a + 1,
            np.full(sink_tails.size, sink, dtype=np.int64),
        ]
    )
    capacities = np.concatenate([need, np.ones(rows.size + sink_tails.size, dtype=np.int64)])
    unit_costs = np.concatenate([np.zeros(n_a, dtype=np.int64), pair_costs, sink_costs]).astype(
        np.int64
    )

    flow = SimpleMinCostFlow()
    if tails.size:
        flow.add_arcs_with_capacity_and_unit_cost(
            tails.astype(np.int32), heads.astype(np.int32), capacities, unit_costs
        )
    flow.set_node_supply(src, total_need)
    flow.set_node_supply(sink, -total_need)
    status = flow.solve_max_flow_with_min_cost()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    placed_total = flow.maximum_flow()
    flows = (
        np.asarray(flow.flows(np.arange(tails.size, dtype=np.int32)), dtype=np.int64)
        if tails.size
        else np.zeros(0, dtype=np.int64)
    )
    used = flows[n_a : n_a + rows.size] > 0
    new_rows, new_cols = rows[used], cols[used]
    new_load = np.bincount(new_cols, minlength=n_e).astype(np.int64)
    loads = {e: int(fixed_load[j] + new_load[j]) for j, e in enumerate(exps)}
    for _a, e in fixed_pairs:
        if e not in e_index:
            loads[e] = loads.get(e, 0) + 1
    cap_map = {e: int(caps[j]) for j, e in enumerate(exps)}

    if placed_total < total_need:
        placed = np.bincount(new_rows, minlength=n_a)
        residual = (tails, heads, capacities, flows)
        shortages = _diagnose(
            residual,
            n_a,
            n_e,
            apps,
            need,
            placed,
            allowed,
            forbidden_mask,
            fixed_per_app,
            caps,
            fixed_load + new_load,
        )
        return Result(
            False,
            [],
            0,
            0,
            {e: int(fixed_load[j]) for j, e in enumerate(exps)},
            cap_map,
            total_need,
            total_need - placed_total,
            shortages,
            seed,
            draw,
        )

    pairs = sorted(
        (apps[i], exps[j]) for i, j in zip(new_rows.tolist(), new_cols.tolist(), strict=True)
    )
    suit = int(score[new_rows, new_cols].sum())
    objective = -suit + sum(
        load_penalty(int(fixed_load[j] + new_load[j]), balance)
        - load_penalty(int(fixed_load[j]), balance)
        for j in range(n_e)
    )
    return Result(True, pairs, objective, suit, loads, cap_map, total_need, 0, [], seed, draw)


def objective_of(
    pairs: Iterable[Pair],
    suitability: Mapping[Pair, int],
    fixed: Iterable[Pair] = (),
    balance: int = 1,
) -> int:
    """The objective of new ``pairs`` given ``fixed``: what :func:`solve` minimises."""
    fixed_load: dict[Id, int] = {}
    for _, e in fixed:
        fixed_load[e] = fixed_load.get(e, 0) + 1
    load = dict(fixed_load)
    total = 0
    for a, e in pairs:
        total -= int(suitability.get((a, e), 0))
        load[e] = load.get(e, 0) + 1
    for e, n in load.items():
        total += load_penalty(n, balance) - load_penalty(fixed_load.get(e, 0), balance)
    return total


def _cap_of(cap: int | Mapping[Id, int], expert: Id) -> int:
    value = cap.get(expert, 0) if isinstance(cap, Mapping) else cap
    return max(0, int(value or 0))


def _scales(
    score, usable, room, total_need: int, balance: int, nodes: int, draw: bool
) -> tuple[int, int]:
    """The cost multiplier M and the tie-break range, kept inside OR-Tools' cost range."""
    biggest = int(np.abs(score[usable]).max()) if usable.any() else 0
    biggest = max(biggest, balance * int(room.max() if room.size else 0), 1)
    limit = _COST_LIMIT // (nodes + 1)
    if biggest > limit:
        raise ValueError("suitability scores are too large for an exact integer solve")
    if not draw:
        return 1, 0
    tie_range = TIE_RANGE
    while tie_range > 1:
        scale = total_need * (tie_range - 1) + 1
        if biggest * scale + tie_range <= limit:
            return scale, tie_range
        tie_range //= 2
    return 1, 0


def _ties(apps, exps, rows, cols, seed, tie_range: int):
    """Reproducible random tie-breaks per pair: drawn in sorted pair order from ``seed``."""
    if tie_range <= 1:
        return np.zeros(rows.size, dtype=np.int64)
    app_rank = _ranks(apps)
    exp_rank = _ranks(exps)
    order = np.lexsort((exp_rank[cols], app_rank[rows]))
    drawn = np.random.default_rng(seed).integers(0, tie_range, size=rows.size, dtype=np.int64)
    ties = np.empty(rows.size, dtype=np.int64)
    ties[order] = drawn
    return ties


def _ranks(ids: list) -> np.ndarray:
    """The position of each id in sorted order."""
    ranks = np.empty(len(ids), dtype=np.int64)
    for rank, index in enumerate(sorted(range(len(ids)), key=ids.__getitem__)):
        ranks[index] = rank
    return ranks


def _diagnose(
    residual, n_a, n_e, apps, need, placed, allowed, forbidden_mask, fixed_per_app, caps, final_load
) -> list[Shortage]:
    """The applications reachable from the source in the residual network, with their reasons."""
    tails, heads, caps_arc, flows = residual
    forward = flows < caps_arc
    backward = flows > 0
    src_nodes = np.concatenate([tails[forward], heads[backward]])
    dst_nodes = np.concatenate([heads[forward], tails[backward]])
    size = n_a + n_e + 2
    graph = csr_matrix(
        (np.ones(src_nodes.size, dtype=np.int8), (src_nodes, dst_nodes)), shape=(size, size)
    )
    reached = breadth_first_order(graph, 0, directed=True, return_predecessors=False)
    group = sorted(int(n) - 1 for n in reached if 1 <= n <= n_a)
    full = final_load >= caps
    shortages = []
    for i in group:
        allowed_count = int(allowed[i].sum())
        shortages.append(
            Shortage(
                application=apps[i],
                needed=int(need[i]),
                placed=int(placed[i]),
                allowed=allowed_count,
                at_cap=int((allowed[i] & full).sum()),
                forbidden=int(forbidden_mask[i].sum()),
                fixed=int(fixed_per_app[i]),
                reason="too_few_experts" if allowed_count < need[i] else "experts_at_cap",
            )
        )
    shortages.sort(key=lambda s: (not s.short, s.application))
    return shortages
