"""Helpers for the decision, notice, objection and release tests.

Reviewed applications are built the way the system builds them: an application under
review gets the call's number of submitted reviews, then the bureau fires
``finish_review`` through the workflow.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import render_template_string

from grants.applications.models import Application
from grants.core.models import AuditEvent
from grants.core.timeutil import local_today
from grants.core.types import utcnow
from grants.core.workflow import transition
from grants.extensions import db
from grants.review import decisions as ops
from grants.review.models import Decision, Review
from tests.factories import (
    ApplicationFactory,
    AssignmentFactory,
    CallFactory,
    ExpertFactory,
    make_user,
)

_serial = itertools.count(1)
COMMENT = "技术路线清晰，建议加强中试阶段的质量控制。"


def bureau():
    """A bureau officer who reads the pages in English (the source language of the messages)."""
    return make_user("bureau", locale="en")


def small_call(budget: str = "1000000", **kwargs):
    """A call with a budget in yuan (the per-project cap no higher than the budget)."""
    budget = Decimal(budget)
    return CallFactory(
        total_budget=budget, cap_per_project=min(budget, Decimal("500000")), **kwargs
    )


def add_review(application, comment: str = COMMENT, total: str = "80", expert=None) -> Review:
    """A submitted review by an expert who accepted and declared no conflict."""
    now = utcnow()
    assignment = AssignmentFactory(
        application=application,
        expert=expert or ExpertFactory(),
        state="accepted",
        responded_at=now,
        no_conflict_declared_at=now,
    )
    review = Review(
        assignment=assignment,
        state="submitted",
        comment=comment,
        recommendation="fund",
        total=Decimal(total),
        submitted_at=now,
    )
    db.session.add(review)
    db.session.flush()
    return review


def reviewed_application(
    call=None, fiscal: str = "270000", comments=None, actor=None, **kwargs
) -> Application:
    """An application whose expert review the bureau has closed (state ``reviewed``)."""
    call = call or small_call()
    n = next(_serial)
    kwargs.setdefault("reference_no", f"D-{n:05d}")
    kwargs.setdefault("submitted_at", utcnow())
    application = ApplicationFactory(
        call=call, state="under_review", fiscal_total=Decimal(fiscal), **kwargs
    )
    comments = (
        list(comments) if comments is not None else [COMMENT] * call.reviewers_per_application
    )
    while len(comments) < call.reviewers_per_application:
        comments.append(COMMENT)
    for index, comment in enumerate(comments):
        add_review(application, comment=comment, total=str(70 + index))
    transition(application, "finish_review", actor or bureau())
    return application


def approved_application(call=None, amount: str | None = None, actor=None, **kwargs) -> Application:
    """A reviewed application approved by the bureau (the whole request unless ``amount`` is given)."""
    actor = actor or bureau()
    application = reviewed_application(call=call, actor=actor, **kwargs)
    ops.approve(application, Decimal(amount) if amount else application.fiscal_total, actor)
    return application


def notice_for(
    call, starts_on: date | None = None, ends_on: date | None = None, actor=None, publish=True
):
    """A notice of the call (today plus five working days unless given), published by default."""
    actor = actor or bureau()
    starts_on = starts_on or local_today()
    notice = ops.create_notice(
        call,
        {
            "title": "立项公示",
            "body": "如有异议，请于公示期内书面反映。",
            "starts_on": starts_on,
            "ends_on": ends_on or ops.default_end(starts_on),
        },
        actor,
    )
    if publish:
        ops.publish_notice(notice, actor)
    return notice


def objection_data(**changes) -> dict:
    data = {
        "raised_by": "王某",
        "contact": "13900000000",
        "text": "该单位申报材料中的合作协议存疑。",
        "received_on": local_today(),
    }
    data.update(changes)
    return data


def decision_of(application) -> Decision | None:
    return db.session.scalar(sa.select(Decision).where(Decision.application_id == application.id))


def reload(obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def audit_actions(obj) -> list[str]:
    return db.session.scalars(
        sa.select(AuditEvent.action)
        .where(AuditEvent.object_type == type(obj).__name__, AuditEvent.object_id == str(obj.id))
        .order_by(AuditEvent.id)
    ).all()


def outcome_html(app, application, user=None) -> str:
    """The applicant's outcome partial as rendered for ``application``."""
    with app.test_request_context():
        if user is not None:
            from flask_login import login_user

            login_user(user)
        return render_template_string(
            '{% include "review/decisions/_applicant_outcome.html" %}', application=application
        )


def days(n: int) -> timedelta:
    return timedelta(days=n)


@pytest.fixture
def english(app):
    """Messages rendered outside requests in English, so tests can read them whatever is translated."""
    from flask_babel import force_locale

    with force_locale("en"):
        yield
