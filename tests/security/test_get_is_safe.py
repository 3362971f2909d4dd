"""No GET route changes data: the row count of every table is the same before and after each GET.

Every GET route of ``app.url_map`` is requested with the world's ids (tests/security/world.py)
by bureau, admin, finance, organisation A's applicant and the assigned expert. Two tables
are left out on purpose: ``audit_events`` (a denied request is audited, by design, and some
GETs are denials for some users) and ``user_sessions`` (a signed-in request touches its
session row, and the login of each user adds one).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from grants.extensions import db
from tests.security.matrix import routes, send, url_for_rule
from tests.security.world import build_world

EXCLUDED_TABLES = {"audit_events", "user_sessions"}


def _row_counts() -> dict[str, int]:
    tables = [table for table in db.metadata.sorted_tables if table.name not in EXCLUDED_TABLES]
    query = sa.union_all(
        *(
            sa.select(sa.literal(table.name).label("name"), sa.func.count().label("n")).select_from(
                table
            )
            for table in tables
        )
    )
    counts = dict(db.session.execute(query).all())
    db.session.commit()  # end the test session's savepoint: rolling it back would undo the request too
    return counts


@pytest.mark.parametrize("kind", ["bureau", "admin", "finance", "applicant_a", "assigned_expert"])
def test_get_routes_change_no_row_counts(app, client, login, kind):
    world = build_world()
    login(world.users[kind])
    changed = []
    for endpoint, method, rule in routes(app):
        if method != "GET":
            continue
        url = url_for_rule(app, rule, world)
        before = _row_counts()
        response = send(client, "GET", url)
        after = _row_counts()
        if isinstance(response, Exception):
            changed.append(f"{endpoint} {url}: {type(response).__name__}: {response}")
        difference = {
            name: (before[name], after[name]) for name in before if before[name] != after[name]
        }
        if difference:
            changed.append(f"{endpoint} {url}: {difference}")
    assert not changed, f"{kind}: GET requests that changed row counts:\n" + "\n".join(changed)
