"""No decision before release: the applicant's pages read the same for every internal outcome.

One application under expert review is built once. Each internal outcome (still under
review, review closed, approved, declined) is then recorded inside a savepoint, the
applicant's account walks every page it can reach from its dashboard (links followed
breadth-first, redirects followed, the application PDF compared as the HTML it is printed
from), and the savepoint is rolled back. The pages must be byte-for-byte identical once
CSRF tokens and printed times are taken out. After the release they must differ, each
saying its own outcome.
"""

from __future__ import annotations

import re
from collections import deque
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa

from grants.applications.models import FormalCheck
from grants.core.workflow import transition
from grants.extensions import db
from grants.review import decisions as ops
from grants.review.models import ExcludedExpert, Review
from tests.factories import ApplicationFactory, OrganisationFactory, fill_application, make_user
from tests.review.decision_helpers import add_review, bureau, small_call

CSRF = re.compile(r'(name="csrf[-_]token"\s+(?:value|content)=")[^"]*(")')
CSRF_META = re.compile(r'(<meta\s+name="csrf-token"\s+content=")[^"]*(")')
CSRF_HEADER = re.compile(r'("X-CSRFToken":\s*")[^"]*(")')
TIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?")
HREF = re.compile(r'href="([^"#]*)')
SKIPPED = ("/static/", "/logout", "/language")
MAX_PAGES = 120
PASSED_AT = datetime(2026, 1, 2, 1, 30, tzinfo=UTC)  # 09:30 on 2 January in Beijing


def normalised(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    text = CSRF.sub(r"\1\2", text)
    text = CSRF_META.sub(r"\1\2", text)
    text = CSRF_HEADER.sub(r"\1\2", text)
    return TIME.sub("<time>", text)


def walk(client) -> dict[str, str]:
    """Every page the signed-in user reaches by following links from the dashboard, normalised."""
    seen: dict[str, str] = {}
    todo = deque(["/", "/applications", "/notifications"])
    while todo and len(seen) < MAX_PAGES:
        url = todo.popleft()
        if url in seen:
            continue
        response = client.get(url, follow_redirects=True)
        seen[url] = f"{response.status_code} {response.mimetype}\n" + normalised(response.data)
        if response.mimetype != "text/html":
            continue
        for link in HREF.findall(response.get_data(as_text=True)):
            link = link.replace("&amp;", "&").removeprefix("http://grants.test")
            if link.startswith("/") and not link.startswith(SKIPPED) and link not in seen:
                todo.append(link)
    return seen


def world():
    """An application of organisation A under expert review, with its reviews, excluded expert and check."""
    organisation = OrganisationFactory()
    applicant = make_user("applicant", organisation=organisation)
    call = small_call()
    application = fill_application(
        ApplicationFactory(
            call=call,
            organisation=organisation,
            state="under_review",
            fiscal_total=Decimal("270000"),
            reference_no="LEAK-00001",
            submitted_at=PASSED_AT,
            title="中药提取自动化关键技术研究",
        )
    )
    for index in range(call.reviewers_per_application):
        add_review(application, total=str(70 + index))
    db.session.add(
        FormalCheck(application_id=application.id, decision="pass", reasons="", at=PASSED_AT)
    )
    db.session.add(
        ExcludedExpert(
            application_id=application.id, name="王某", employer_name="竞争单位", reason="竞争关系"
        )
    )
    db.session.commit()
    return applicant, application


def record(application, outcome: str, officer) -> None:
    """Record an internal outcome the way the bureau does, without releasing it."""
    if outcome == "under_review":
        return
    transition(application, "finish_review", officer)
    if outcome == "approve":
        ops.approve(application, Decimal("200000"), officer)
    elif outcome == "decline":
        ops.decline(application, "创新性不足，预期指标偏低。", officer)
    db.session.flush()


def release(application, officer) -> None:
    for review in db.session.scalars(sa.select(Review)).all():
        ops.approve_released_comment(review, review.comment, officer)
    ops.release_decisions(application.call, officer)
    db.session.flush()


@contextmanager
def undone(app):
    """Run the block on a savepoint of the test's connection (the requests share it), then undo it all."""
    db.session.commit()
    savepoint = db._app_engines[app][None].begin_nested()
    try:
        yield
    finally:
        db.session.rollback()
        if savepoint.is_active:
            savepoint.rollback()
        db.session.expire_all()


def pages_for(app, client, application, outcome, officer, *, released=False):
    with undone(app):
        record(application, outcome, officer)
        if released:
            release(application, officer)
        return walk(client)


def _pdf_as_html(monkeypatch):
    """Print the application "PDF" as the HTML it is rendered from: every word of it, no font work."""
    monkeypatch.setattr("grants.applications.pdf.render_pdf", lambda html: html.encode())


def test_applicant_pages_identical_for_every_unreleased_outcome(app, client, login, monkeypatch):
    _pdf_as_html(monkeypatch)
    applicant, application = world()
    officer = bureau()
    db.session.commit()
    login(applicant)
    seen = {
        outcome: pages_for(app, client, application, outcome, officer)
        for outcome in ("under_review", "reviewed", "approve", "decline")
    }
    reference = seen["under_review"]
    assert f"/applications/{application.id}" in reference
    assert f"/applications/{application.id}/excluded-experts" in reference
    assert f"/applications/{application.id}/pdf" in reference
    for outcome, pages in seen.items():
        assert pages.keys() == reference.keys(), f"{outcome}: other pages reachable"
        differing = [url for url in reference if pages[url] != reference[url]]
        assert not differing, f"{outcome}: pages differ from under_review: {differing}"


def test_applicant_pages_tell_the_outcome_once_released(app, client, login, monkeypatch):
    _pdf_as_html(monkeypatch)
    applicant, application = world()
    officer = bureau()
    db.session.commit()
    login(applicant)
    approved = pages_for(app, client, application, "approve", officer, released=True)
    declined = pages_for(app, client, application, "decline", officer, released=True)
    detail = f"/applications/{application.id}"
    assert approved[detail] != declined[detail]
    assert "已立项" in approved["/applications"] or "Approved" in approved["/applications"]
    assert "data-applicant-outcome" in approved[detail] and "创新性不足" in declined[detail]
    assert "创新性不足" not in approved[detail]


def test_applicant_list_last_change_is_the_formal_check_until_release(app, client, login):
    applicant, application = world()
    officer = bureau()
    record(application, "approve", officer)
    login(applicant)
    row = client.get("/applications").get_data(as_text=True)
    assert "2026-01-02 09:30" in row
    detail = client.get(f"/applications/{application.id}").get_data(as_text=True)
    assert "2026-01-02 09:30" in detail
