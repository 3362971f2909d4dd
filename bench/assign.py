"""Benchmark the reviewer assignment solver on a random call.

    .venv/bin/python bench/assign.py                       # 1,000 × 300 × 3, 5 % conflicts
    .venv/bin/python bench/assign.py --applications 2000 --experts 500 --draw

Builds random clusters and keywords, scores each pair as grants.review.assignments does
(cluster match and keyword hits), forbids a random share of the pairs, sets the cap to
ceil(applications·k / experts) + slack, and prints the wall time of the solve (and of
building the instance), the objective and the spread of the loads.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grants.review.assignments import CLUSTER_POINTS, KEYWORD_POINTS, MAX_KEYWORD_HITS
from grants.review.solver import solve


def build_instance(
    applications: int,
    experts: int,
    clusters: int,
    keywords: int,
    conflicts: float,
    rng: random.Random,
):
    """Random applications and experts: clusters, keywords, suitability, forbidden pairs."""
    app_cluster = {a: rng.randrange(clusters) for a in range(applications)}
    app_words = {a: set(rng.sample(range(keywords), 4)) for a in range(applications)}
    exp_clusters = {e: set(rng.sample(range(clusters), rng.randint(1, 2))) for e in range(experts)}
    exp_words = {e: set(rng.sample(range(keywords), 6)) for e in range(experts)}
    suitability = {}
    forbidden = set()
    for a in range(applications):
        for e in range(experts):
            score = CLUSTER_POINTS if app_cluster[a] in exp_clusters[e] else 0
            score += KEYWORD_POINTS * min(MAX_KEYWORD_HITS, len(app_words[a] & exp_words[e]))
            if score:
                suitability[(a, e)] = score
            if rng.random() < conflicts:
                forbidden.add((a, e))
    return suitability, forbidden


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=1000)
    parser.add_argument("--experts", type=int, default=300)
    parser.add_argument("-k", "--reviewers", type=int, default=3)
    parser.add_argument("--conflicts", type=float, default=0.05, help="share of forbidden pairs")
    parser.add_argument("--clusters", type=int, default=7)
    parser.add_argument("--keywords", type=int, default=60)
    parser.add_argument(
        "--slack", type=int, default=2, help="cap = ceil(applications·k/experts) + slack"
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--draw", action="store_true", help="random draw among equally suited experts"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="solves to time (the best is reported)"
    )
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    started = time.perf_counter()
    suitability, forbidden = build_instance(
        args.applications, args.experts, args.clusters, args.keywords, args.conflicts, rng
    )
    built = time.perf_counter() - started
    cap = math.ceil(args.applications * args.reviewers / args.experts) + args.slack
    times = []
    for _ in range(max(1, args.repeat)):
        started = time.perf_counter()
        result = solve(
            range(args.applications),
            range(args.experts),
            args.reviewers,
            suitability,
            forbidden,
            cap,
            seed=args.seed,
            draw=args.draw,
        )
        times.append(time.perf_counter() - started)
    loads = list(result.loads.values())
    print(
        f"instance: {args.applications} applications × {args.experts} experts × k={args.reviewers}, "
        f"{len(forbidden)} forbidden pairs ({len(forbidden) / (args.applications * args.experts):.1%}), "
        f"cap {cap}, draw {'on' if args.draw else 'off'} (seed {args.seed}); built in {built:.2f} s"
    )
    print(
        f"solve wall time: {min(times):.3f} s (best of {len(times)}; all: "
        + ", ".join(f"{t:.3f}" for t in times)
        + ")"
    )
    if not result.feasible:
        print(
            f"infeasible: {result.missing} reviews cannot be placed; "
            f"{len(result.short_applications)} applications short"
        )
        return 1
    print(
        f"objective: {result.objective} (suitability {result.suitability}, "
        f"{len(result.pairs)} pairs)"
    )
    print(f"load: min {min(loads)}, max {max(loads)}, mean {sum(loads) / len(loads):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
