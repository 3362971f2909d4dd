"""The review domain hears of organisation memberships (signals sent by accounts and orgs).

An expert whose account joins an applicant organisation is conflicted for it from that
moment: a relation of source ``membership`` is recorded on the expert (it cannot be
removed by the expert, and it still counts for three years after the account leaves),
the event is audited, and the expert's open assignments that the conflict now forbids
are withdrawn with the bureau told. Leaving the organisation dates the relation's end.
"""

from __future__ import annotations

import sqlalchemy as sa

from grants.core import audit
from grants.core.timeutil import local_today
from grants.extensions import db
from grants.orgs.models import Organisation
from grants.review.assignments import recheck_expert
from grants.review.models import Expert, ExpertRelation


def _expert_of(user) -> Expert | None:
    return db.session.scalar(sa.select(Expert).where(Expert.user_id == user.id))


def _open_memberships(expert: Expert, organisation_id: int) -> list[ExpertRelation]:
    return [
        r
        for r in expert.relations
        if r.source == "membership" and r.organisation_id == organisation_id and r.until is None
    ]


def expert_joined_organisation(user, *, organisation_id: int, actor, via: str, **_extra) -> None:
    """Record the membership as a conflict of the user's expert record, audit it, withdraw what it forbids."""
    expert = _expert_of(user)
    if expert is None:
        return
    organisation = db.session.get(Organisation, organisation_id)
    if not _open_memberships(expert, organisation_id):
        expert.relations.append(
            ExpertRelation(
                kind="employer",
                organisation_id=organisation_id,
                organisation_name=organisation.name if organisation else "",
                since=local_today(),
                source="membership",
            )
        )
        db.session.flush()
    withdrawn = recheck_expert(expert, actor)
    audit.record(
        "expert.joined_organisation",
        expert,
        actor=actor,
        after={
            "user_id": user.id,
            "organisation_id": organisation_id,
            "via": via,
            "withdrawn_assignments": [a.id for a in withdrawn],
        },
    )


def expert_left_organisation(user, *, organisation_id: int, actor, via: str, **_extra) -> None:
    """Date the end of the membership relation: it still counts for three years (past member)."""
    expert = _expert_of(user)
    if expert is None:
        return
    ended = _open_memberships(expert, organisation_id)
    for relation in ended:
        relation.until = local_today()
    db.session.flush()
    if ended:
        audit.record(
            "expert.left_organisation",
            expert,
            actor=actor,
            after={"user_id": user.id, "organisation_id": organisation_id, "via": via},
        )
