"""Parallel release requests against real commits: exactly as many succeed as the award has
room for, the committed total never exceeds the award, and a replayed key makes one row.

The usual fixture runs each test inside one outer transaction on one connection, which
cannot show concurrency. These tests build an app of their own on a database of their
own — a fresh schema in the PostgreSQL test database, or a fresh SQLite file — migrate
it, commit the project and its tranches, and let 20 threads race, each with its own app
context, session and connection. The schema is dropped afterwards (the SQLite file lives
in pytest's temporary directory), so nothing is left behind: audit rows, which nobody
may delete, included.

On PostgreSQL the threads really overlap: the conditional UPDATE and the unique indexes
decide. On SQLite each thread's transaction takes the write lock at its start
(``immediate_writes``, as POST requests do), so the same race is serialised by the
database; the test shows that this gives the same outcome.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from grants.accounts.models import User
from grants.core.sqlite import immediate_writes
from grants.core.types import utcnow
from grants.core.workflow import WorkflowError, transition
from grants.extensions import db
from grants.funding.disbursements import DisbursementError, request_disbursement
from grants.funding.models import Disbursement, Tranche
from grants.projects.models import Project
from tests.conftest import EXERCISED, TEST_DATABASE_URL
from tests.factories import make_project, make_user
from tests.funding.finance_helpers import APPROVAL
from tests.racing import racing_database

ATTEMPTS = 20


@pytest.fixture
def racing_app(backend_app, tmp_path, monkeypatch):
    """An app on a database of its own, migrated; dropped afterwards.

    Background jobs (the e-mails of notifications) are not dispatched: they are not what
    these tests race, and on SQLite a job thread would be one more writer in the race.
    """
    monkeypatch.setattr("grants.core.jobs.dispatch", lambda app, job_id: None)
    backend = backend_app.config["BACKEND"]
    EXERCISED.add(backend)
    with racing_database(
        backend, tmp_path, pool_size=ATTEMPTS + 5, postgres_url=TEST_DATABASE_URL
    ) as app:
        yield app


def seed(app, *, award: str, amounts: list[str], committed: str = "0.00") -> dict:
    """Commit a running project whose tranches are all due, and a bureau officer."""
    with app.app_context(), immediate_writes():
        project = make_project(award=award, tranches=False, committed_total=Decimal(committed))
        for position, amount in enumerate(amounts, start=1):
            project.tranches.append(
                Tranche(
                    position=position,
                    amount=Decimal(amount),
                    trigger="contract",
                    due_since=utcnow(),
                )
            )
        bureau = make_user("bureau")
        db.session.commit()
        data = {
            "project": project.id,
            "tranches": [t.id for t in project.tranches],
            "bureau": bureau.id,
        }
        db.session.remove()
    return data


def attempt(
    app, barrier: threading.Barrier, tranche_id: int, user_id: int, key: str
) -> tuple[str, object]:
    """One release request in its own app context, session and connection; commits or rolls back."""
    with app.test_request_context("/"), immediate_writes():
        try:
            barrier.wait(timeout=30)
            tranche = db.session.get(Tranche, tranche_id)
            actor = db.session.get(User, user_id)
            disbursement = request_disbursement(tranche, actor, key)
            disbursement_id = disbursement.id
            db.session.commit()
            return "ok", disbursement_id
        except DisbursementError as exc:
            db.session.rollback()
            return "refused", exc.message
        finally:
            db.session.remove()


def sample_committed(app, project_id: int, stop: threading.Event, samples: list[Decimal]) -> None:
    """Read the committed total again and again while the race runs."""
    with app.app_context():
        while not stop.is_set():
            samples.append(
                db.session.scalar(
                    sa.select(Project.committed_total).where(Project.id == project_id)
                )
            )
            db.session.rollback()
        db.session.remove()


def race(
    app, jobs: list[tuple[int, str]], user_id: int, project_id: int
) -> tuple[list, list[Decimal]]:
    barrier = threading.Barrier(len(jobs))
    stop, samples = threading.Event(), []
    sampler = threading.Thread(target=sample_committed, args=(app, project_id, stop, samples))
    sampler.start()
    try:
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            futures = [
                pool.submit(attempt, app, barrier, tranche_id, user_id, key)
                for tranche_id, key in jobs
            ]
            results = [f.result(timeout=120) for f in futures]
    finally:
        stop.set()
        sampler.join(timeout=30)
    return results, samples


def stored(app, project_id: int) -> tuple[Project, list[Disbursement]]:
    with app.app_context():
        project = db.session.get(Project, project_id)
        rows = list(
            db.session.scalars(sa.select(Disbursement).where(Disbursement.project_id == project_id))
        )
        db.session.expunge_all()
        db.session.remove()
    return project, rows


def test_parallel_releases_succeed_exactly_as_often_as_the_award_has_room(racing_app):
    """Ten due tranches of 10,000 yuan, 70,000 of the 100,000 award already committed: room for three.

    Each tranche is attempted twice: tranches 1–5 by a replayed request (the same key),
    tranches 6–10 by two officers at once (different keys).
    """
    k = 3
    data = seed(racing_app, award="100000.00", amounts=["10000.00"] * 10, committed="70000.00")
    jobs, replayed = [], {}
    for position, tranche_id in enumerate(data["tranches"], start=1):
        if position <= 5:
            same = uuid.uuid4().hex
            replayed[tranche_id] = same
            jobs += [(tranche_id, same), (tranche_id, same)]
        else:
            jobs += [(tranche_id, uuid.uuid4().hex), (tranche_id, uuid.uuid4().hex)]
    assert len(jobs) == ATTEMPTS
    results, samples = race(racing_app, jobs, data["bureau"], data["project"])

    project, rows = stored(racing_app, data["project"])
    assert len(rows) == k
    assert project.committed_total == project.award == Decimal("100000.00")
    assert type(project.committed_total) is Decimal
    assert sum((r.amount for r in rows), Decimal("70000.00")) == project.committed_total
    assert len({r.tranche_id for r in rows}) == k  # one live release per tranche
    assert all(sample is not None and sample <= project.award for sample in samples)

    succeeded = {value for outcome, value in results if outcome == "ok"}
    assert succeeded == {r.id for r in rows}
    by_job = list(zip(jobs, results, strict=True))
    for tranche_id, key in replayed.items():
        pair = [result for (t, k_), result in by_job if t == tranche_id and k_ == key]
        assert len(pair) == 2
        assert pair[0] == pair[1] or {o for o, _ in pair} == {"refused"}, (
            pair
        )  # same row, or both refused
    assert sum(1 for outcome, _ in results if outcome == "refused") == ATTEMPTS - sum(
        1 for outcome, _ in results if outcome == "ok"
    )


def test_parallel_replays_of_one_key_make_one_row(racing_app):
    data = seed(racing_app, award="30000.00", amounts=["10000.00", "20000.00"])
    same = uuid.uuid4().hex
    jobs = [(data["tranches"][0], same)] * ATTEMPTS
    results, samples = race(racing_app, jobs, data["bureau"], data["project"])

    project, rows = stored(racing_app, data["project"])
    assert len(rows) == 1
    assert results == [("ok", rows[0].id)] * ATTEMPTS
    assert project.committed_total == Decimal("10000.00")
    assert all(sample <= project.award for sample in samples)


def decide(
    app, barrier: threading.Barrier, disbursement_id: int, user_id: int, event: str, data: dict
) -> str:
    """One finance decision in its own app context, session and connection."""
    with app.test_request_context("/"), immediate_writes():
        try:
            barrier.wait(timeout=30)
            disbursement = db.session.get(Disbursement, disbursement_id)
            transition(disbursement, event, db.session.get(User, user_id), **data)
            db.session.commit()
            return event
        except (WorkflowError, StaleDataError):
            db.session.rollback()
            return "lost"
        finally:
            db.session.remove()


def test_parallel_decisions_on_one_disbursement_move_money_once(racing_app):
    """Twenty officers pay the same approved release, twenty approve or reject the same request."""
    data = seed(racing_app, award="30000.00", amounts=["10000.00", "20000.00"])
    with racing_app.test_request_context("/"), immediate_writes():
        bureau = db.session.get(User, data["bureau"])
        first = request_disbursement(
            db.session.get(Tranche, data["tranches"][0]), bureau, uuid.uuid4().hex
        )
        second = request_disbursement(
            db.session.get(Tranche, data["tranches"][1]), bureau, uuid.uuid4().hex
        )
        officers = [make_user("finance") for _ in range(ATTEMPTS)]
        transition(first, "approve", officers[0], **APPROVAL)
        db.session.commit()
        ids = {"first": first.id, "second": second.id, "officers": [o.id for o in officers]}
        db.session.remove()

    barrier = threading.Barrier(ATTEMPTS)
    with ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
        paying = [
            pool.submit(decide, racing_app, barrier, ids["first"], officer, "pay", {})
            for officer in ids["officers"]
        ]
        pay_results = [f.result(timeout=120) for f in paying]
    barrier = threading.Barrier(ATTEMPTS)
    with ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
        deciding = [
            pool.submit(decide, racing_app, barrier, ids["second"], officer, event, data)
            for officer, (event, data) in zip(
                ids["officers"],
                [("approve", APPROVAL), ("reject", {"reason": "账户有误"})] * 10,
                strict=True,
            )
        ]
        decisions = [f.result(timeout=120) for f in deciding]

    assert pay_results.count("pay") == 1 and pay_results.count("lost") == ATTEMPTS - 1
    assert len([d for d in decisions if d != "lost"]) == 1
    project, rows = stored(racing_app, data["project"])
    assert project.disbursed_total == Decimal("10000.00")
    winner = next(d for d in decisions if d != "lost")
    second_row = next(r for r in rows if r.id == ids["second"])
    assert second_row.state == {"approve": "approved", "reject": "rejected"}[winner]
    assert project.committed_total == (
        Decimal("30000.00") if winner == "approve" else Decimal("10000.00")
    )
