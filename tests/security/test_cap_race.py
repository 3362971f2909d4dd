"""The concurrent-project cap (限项) holds when one organisation submits in parallel.

Three complete drafts of one organisation, in three calls of the same year whose cap is
one application at a time, are submitted by three threads at once (a barrier releases
them together), each in its own app context, session, connection and transaction that
commits for real. Exactly one submission wins; the others are refused with the cap's
reason and stay drafts. Before the organisation was locked, every one of them passed on
PostgreSQL: each counted the others' applications as drafts.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from grants.accounts.models import User
from grants.applications.models import Application
from grants.core.models import AuditEvent
from grants.core.sqlite import immediate_writes
from grants.core.workflow import GuardFailed, transition
from grants.extensions import db
from grants.programmes.models import Call
from tests.applications.helpers import with_licence
from tests.conftest import EXERCISED, PASSWORD, TEST_DATABASE_URL
from tests.factories import ApplicationFactory, CallFactory, fill_application, make_user
from tests.racing import racing_database

PARALLEL = 3
ROUNDS = 5


@pytest.fixture
def racing_app(backend_app, tmp_path, monkeypatch):
    monkeypatch.setattr("grants.core.jobs.dispatch", lambda app, job_id: None)
    backend = backend_app.config["BACKEND"]
    EXERCISED.add(backend)
    with racing_database(
        backend, tmp_path, pool_size=PARALLEL + 5, postgres_url=TEST_DATABASE_URL
    ) as app:
        yield app


def seed_drafts(app, parallel: int = PARALLEL, cap: int | None = 1) -> dict:
    """Commit an applicant and ``parallel`` complete drafts of their organisation, one per call of 2026."""
    with app.app_context(), immediate_writes():
        user = make_user("applicant")
        ids = []
        for _ in range(parallel):
            call = CallFactory(year=2026, concurrent_cap=cap)
            call.clusters.append(user.organisation.cluster)
            application = ApplicationFactory(
                call=call, organisation=user.organisation, cluster=user.organisation.cluster
            )
            with_licence(fill_application(application))
            ids.append(application.id)
        db.session.commit()
        data = {"user": user.id, "applications": ids, "organisation": user.organisation_id}
        db.session.remove()
    return data


def submit(app, barrier: threading.Barrier, application_id: int, user_id: int) -> tuple[str, str]:
    """One submission in its own app context, session and connection; commits or rolls back."""
    with app.test_request_context("/"), immediate_writes():
        try:
            barrier.wait(timeout=30)
            application = db.session.get(Application, application_id)
            transition(application, "submit", db.session.get(User, user_id))
            db.session.commit()
            return "submitted", ""
        except GuardFailed as exc:
            db.session.rollback()
            return "refused", exc.message
        finally:
            db.session.remove()


def race(app, data: dict) -> list[tuple[str, str]]:
    """Submit every draft of ``data`` at the same moment; the outcomes in order."""
    barrier = threading.Barrier(len(data["applications"]))
    with ThreadPoolExecutor(max_workers=len(data["applications"])) as pool:
        futures = [
            pool.submit(submit, app, barrier, application_id, data["user"])
            for application_id in data["applications"]
        ]
        return [f.result(timeout=120) for f in futures]


def states(app, data: dict) -> list[str]:
    with app.app_context():
        result = list(
            db.session.scalars(
                sa.select(Application.state)
                .where(Application.id.in_(data["applications"]))
                .order_by(Application.id)
            )
        )
        db.session.remove()
    return result


def test_parallel_submissions_against_a_cap_of_one_leave_exactly_one_winner(racing_app):
    for _round in range(ROUNDS):
        data = seed_drafts(racing_app)
        results = race(racing_app, data)

        assert [outcome for outcome, _ in results].count("submitted") == 1, results
        refusals = [message for outcome, message in results if outcome == "refused"]
        assert len(refusals) == PARALLEL - 1
        assert all("限项 1 项" in m or "the cap is 1 at a time" in m for m in refusals), refusals
        assert sorted(states(racing_app, data)) == ["draft"] * (PARALLEL - 1) + ["submitted"]


def test_parallel_submissions_against_a_cap_of_two_leave_exactly_two_winners(racing_app):
    data = seed_drafts(racing_app, parallel=4, cap=2)
    results = race(racing_app, data)

    assert [outcome for outcome, _ in results].count("submitted") == 2, results
    assert sorted(states(racing_app, data)) == ["draft", "draft", "submitted", "submitted"]
    with racing_app.app_context():
        calls = db.session.scalars(
            sa.select(Call)
            .join(Application, Application.call_id == Call.id)
            .where(Application.id.in_(data["applications"]), Application.state == "submitted")
        ).all()
        assert all(c.last_reference_no == 1 for c in calls)
        db.session.remove()


def submit_through_the_page(app, barrier: threading.Barrier, application_id: int, email: str):
    """Sign in, wait for the others, press 提交 once; the page the browser lands on."""
    client = app.test_client()
    signed_in = client.post("/login", data={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 302
    barrier.wait(timeout=30)
    response = client.post(f"/applications/{application_id}/submit", follow_redirects=True)
    return response.status_code, response.get_data(as_text=True)


def test_one_draft_submitted_twice_at_once_gets_one_reference(racing_app):
    """Two tabs (or a double click on a slow line) submit the same draft at the same moment.

    Nothing is stubbed: both requests run the real view, workflow engine and database. On
    PostgreSQL the loser's UPDATE finds the row version moved (a lost race); on SQLite the
    write lock serialises them and the second finds the draft already submitted. Either way
    both pages show the one reference number, and the counter and the audit log hold one
    submission.
    """
    racing_app.config["WTF_CSRF_ENABLED"] = False  # as in the other page tests
    data = seed_drafts(racing_app, parallel=1, cap=None)
    [application_id] = data["applications"]
    with racing_app.app_context():
        email = db.session.get(User, data["user"]).email
        db.session.remove()
    barrier = threading.Barrier(2)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(submit_through_the_page, racing_app, barrier, application_id, email)
            for _ in range(2)
        ]
        pages = [f.result(timeout=120) for f in futures]

    with racing_app.app_context():
        application = db.session.get(Application, application_id)
        reference = application.reference_no
        assert (application.state, application.call.last_reference_no) == ("submitted", 1)
        submissions = db.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(
                AuditEvent.object_type == "Application",
                AuditEvent.object_id == str(application_id),
                AuditEvent.action == "application.submit",
            )
        )
        db.session.remove()
    assert submissions == 1
    assert reference and reference.endswith("-001")
    told = sorted(
        "first"
        if f"您的申报已提交，申报编号为 {reference}。" in html
        else "again"
        if f"该申报已提交，申报编号为 {reference}。" in html
        else html
        for _status, html in pages
    )
    assert [status for status, _html in pages] == [200, 200]
    assert told == ["again", "first"]  # the loser is told the winner's reference, not to retry
