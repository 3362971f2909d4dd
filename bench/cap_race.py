"""Race parallel submissions of one organisation against the concurrent-project cap (限项).

    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test_x .venv/bin/python bench/cap_race.py
    .venv/bin/python bench/cap_race.py --rounds 50 --parallel 3 --cap 1 --sqlite

Each round commits ``--parallel`` complete drafts of one organisation in calls of one year
whose cap is ``--cap``, then submits them from as many threads released together by a
barrier, each in its own transaction. It prints how many submissions won in each round
and a summary; every round must have exactly ``--cap`` winners (exit status 1 otherwise).
The PostgreSQL database is used through a schema of its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=3)
    parser.add_argument("--cap", type=int, default=1)
    parser.add_argument(
        "--sqlite", action="store_true", help="race on a SQLite file instead of PostgreSQL"
    )
    args = parser.parse_args()
    url = os.environ.get("TEST_DATABASE_URL")
    if not args.sqlite and not url:
        parser.error(
            "set TEST_DATABASE_URL (a PostgreSQL database the benchmark may use) or pass --sqlite"
        )

    import grants.core.jobs
    from tests.racing import racing_database
    from tests.security.test_cap_race import race, seed_drafts

    grants.core.jobs.dispatch = lambda app, job_id: None  # notifications' e-mails are not raced
    backend = "sqlite" if args.sqlite else "postgresql"
    winners: Counter[int] = Counter()
    with (
        tempfile.TemporaryDirectory() as folder,
        racing_database(
            backend, Path(folder), pool_size=args.parallel + 5, postgres_url=url
        ) as app,
    ):
        for number in range(1, args.rounds + 1):
            data = seed_drafts(app, parallel=args.parallel, cap=args.cap)
            won = [outcome for outcome, _ in race(app, data)].count("submitted")
            winners[won] += 1
            print(f"round {number:3d}: {won} of {args.parallel} submissions won")
    print(
        f"{backend}: {args.rounds} rounds, cap {args.cap}, {args.parallel} parallel submissions; "
        + ", ".join(
            f"{count} rounds with {won} winner(s)" for won, count in sorted(winners.items())
        )
    )
    return 0 if set(winners) == {args.cap} else 1


if __name__ == "__main__":
    sys.exit(main())
