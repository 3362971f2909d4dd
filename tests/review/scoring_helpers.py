"""Helpers for the scoring, aggregation and panel tests: applications under review, ready
assignments, reviews created directly in a state."""

from __future__ import annotations

import itertools
from decimal import Decimal

from grants.core.types import utcnow
from grants.extensions import db
from grants.review.aggregation import weighted_total
from grants.review.models import Review, Score
from tests.factories import (
    ApplicationFactory,
    AssignmentFactory,
    CallFactory,
    ExpertFactory,
    OrganisationFactory,
    fill_application,
    make_user,
)

LONG_COMMENT = (
    "技术路线清晰，创新点明确，团队具备实施能力；建议加强中试阶段的质量控制与风险评估，"
    "并细化经费预算中材料费的测算依据，进一步明确知识产权布局与成果转化路径。"
)
_serial = itertools.count(1)


def under_review(call=None, organisation=None, state: str = "under_review", **kwargs):
    """A filled application in expert review, or in a later ``state`` (reference and submission time set)."""
    n = next(_serial)
    kwargs.setdefault("reference_no", f"R-{n:05d}")
    kwargs.setdefault("submitted_at", utcnow())
    application = ApplicationFactory(
        call=call or CallFactory(),
        organisation=organisation or OrganisationFactory(),
        state=state,
        **kwargs,
    )
    return fill_application(application)


def ready_assignment(application=None, expert=None, **kwargs):
    """An accepted assignment whose expert declared no conflict: the proposal is open to them."""
    now = utcnow()
    kwargs.setdefault("state", "accepted")
    kwargs.setdefault("no_conflict_declared_at", now)
    kwargs.setdefault("responded_at", now)
    return AssignmentFactory(
        application=application or under_review(), expert=expert or ExpertFactory(), **kwargs
    )


def submitted_review(
    assignment, values, recommendation: str = "fund", comment: str = LONG_COMMENT
) -> Review:
    """A submitted review with one score per criterion (``values`` in rubric order) and its total."""
    criteria = assignment.application.call.criteria
    values = [Decimal(str(v)) for v in values]
    review = Review(
        assignment=assignment,
        state="submitted",
        comment=comment,
        recommendation=recommendation,
        submitted_at=utcnow(),
        total=weighted_total({c.id: v for c, v in zip(criteria, values, strict=True)}, criteria),
    )
    for criterion, value in zip(criteria, values, strict=True):
        review.scores.append(
            Score(
                criterion_id=criterion.id,
                value=value,
                min_score=criterion.min_score,
                max_score=criterion.max_score,
            )
        )
    db.session.add(review)
    db.session.flush()
    return review


def draft_review(assignment, values=(), comment: str = "", recommendation=None) -> Review:
    """A draft review with scores for the first criteria (``values`` in rubric order)."""
    criteria = assignment.application.call.criteria
    review = Review(
        assignment=assignment, state="draft", comment=comment, recommendation=recommendation
    )
    for criterion, value in zip(criteria, values, strict=False):
        review.scores.append(
            Score(
                criterion_id=criterion.id,
                value=Decimal(str(value)),
                min_score=criterion.min_score,
                max_score=criterion.max_score,
            )
        )
    db.session.add(review)
    db.session.flush()
    return review


def bureau_user():
    return make_user("bureau")


def form_data(
    assignment,
    values,
    *,
    comment: str = LONG_COMMENT,
    recommendation: str = "fund",
    action: str = "save",
) -> dict:
    """The posted review form: ``values`` in rubric order (strings as typed)."""
    data = {"comment": comment, "recommendation": recommendation, "action": action}
    for criterion, value in zip(assignment.application.call.criteria, values, strict=False):
        data[f"score_{criterion.id}"] = value
    return data


def as_rendered(message) -> str:
    """A (lazy) message as a page in the default language shows it, HTML-escaped."""
    from flask_babel import force_locale
    from markupsafe import escape

    with force_locale("zh_Hans_CN"):
        return str(escape(str(message)))


def reload(obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)
