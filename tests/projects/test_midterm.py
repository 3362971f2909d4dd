"""Mid-term checks: a batch of running projects, pass / conditional pass / fail, audited and notified."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from grants.core.timeutil import local_today
from grants.extensions import db
from grants.projects import midterm as ops
from grants.projects.models import MidtermCheck, Project
from tests.projects.tracking_helpers import (
    audit_events,
    bureau_officer,
    notifications_of,
    outsiders,
    owner_of,
    reload,
    running_project,
)


def checks() -> list[MidtermCheck]:
    return db.session.scalars(sa.select(MidtermCheck).order_by(MidtermCheck.id)).all()


def test_batch_records_each_conclusion_audits_and_notifies(app):
    a, b, c = running_project(), running_project(), running_project()
    owner_a, owner_b = owner_of(a), owner_of(b)
    officer = bureau_officer()
    deadline = local_today() + timedelta(days=60)
    recorded = ops.record_midterm_checks(
        "2026年中期检查",
        [
            ops.MidtermEntry(a.id, "pass"),
            ops.MidtermEntry(b.id, "conditional", "经费执行偏慢，请整改。", deadline),
            ops.MidtermEntry(c.id, "fail", "未开展实质性研究。"),
        ],
        officer,
    )
    assert [(x.project_id, x.conclusion, x.rectify_by) for x in recorded] == [
        (a.id, "pass", None),
        (b.id, "conditional", deadline),
        (c.id, "fail", None),
    ]
    assert all(x.batch == "2026年中期检查" and x.checked_by_id == officer.id for x in recorded)
    assert len(audit_events("midterm.recorded")) == 3
    [passed] = notifications_of(owner_a, "midterm.pass")
    assert a.code in passed.subject
    [conditional] = notifications_of(owner_b, "midterm.conditional")
    assert deadline.isoformat() in conditional.body and "经费执行偏慢" in conditional.body
    assert [x.id for x in ops.open_conditions()] == [recorded[1].id]


@pytest.mark.parametrize(
    "entry,field",
    [
        ({"conclusion": "conditional", "comments": "整改"}, "rectify_by"),
        ({"conclusion": "conditional", "comments": "整改", "rectify_by": 0}, "rectify_by"),
        ({"conclusion": "fail"}, "comments"),
        ({"conclusion": "maybe"}, "conclusion"),
    ],
)
def test_invalid_entries_are_refused(app, entry, field):
    project = running_project()
    if entry.get("rectify_by") == 0:
        entry["rectify_by"] = local_today()
    with pytest.raises(ops.MidtermError) as refused:
        ops.record_midterm_checks("批次", [ops.MidtermEntry(project.id, **entry)], bureau_officer())
    assert refused.value.field == field and refused.value.index == 0
    assert checks() == []


def test_only_running_projects_once_each_with_a_batch_name(app):
    project = running_project()
    stopped = running_project()
    db.session.execute(
        sa.update(Project)
        .where(Project.id == stopped.id)
        .values(state="terminated", terminated_at=stopped.signed_at, termination_reason="停产")
    )
    db.session.expire_all()
    officer = bureau_officer()
    with pytest.raises(ops.MidtermError):
        ops.record_midterm_checks("批次", [ops.MidtermEntry(stopped.id, "pass")], officer)
    with pytest.raises(ops.MidtermError):
        ops.record_midterm_checks("批次", [ops.MidtermEntry(project.id, "pass")] * 2, officer)
    with pytest.raises(ops.MidtermError) as refused:
        ops.record_midterm_checks(" ", [ops.MidtermEntry(project.id, "pass")], officer)
    assert refused.value.field == "batch"
    assert checks() == []


def test_mark_rectified_once(app):
    project = running_project()
    officer = bureau_officer()
    [check] = ops.record_midterm_checks(
        "批次",
        [ops.MidtermEntry(project.id, "conditional", "整改", local_today() + timedelta(days=5))],
        officer,
    )
    ops.mark_rectified(check, officer)
    assert reload(check).rectified_at is not None and ops.open_conditions() == []
    assert audit_events("midterm.rectified", check)
    with pytest.raises(ops.MidtermError):
        ops.mark_rectified(check, officer)


def test_batch_through_the_pages(app, login, client):
    a, b = running_project(), running_project()
    login(bureau_officer())
    page = client.get("/projects/midterm")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'value="{a.id}"' in html and f'value="{b.id}"' in html
    chosen = client.get(
        "/projects/midterm/record",
        query_string={"batch": "2026年中期检查", "project": [str(a.id), str(b.id)]},
    )
    assert chosen.status_code == 200
    html = chosen.get_data(as_text=True)
    assert a.code in html and b.code in html and "2026年中期检查" in html
    deadline = (local_today() + timedelta(days=30)).isoformat()
    bad = client.post(
        "/projects/midterm/record",
        data={
            "batch": "2026年中期检查",
            "entries-0-project_id": a.id,
            "entries-0-conclusion": "pass",
            "entries-1-project_id": b.id,
            "entries-1-conclusion": "conditional",
            "entries-1-comments": "补充材料",
        },
    )
    assert bad.status_code == 422 and "补充材料" in bad.get_data(as_text=True)
    assert checks() == []
    good = client.post(
        "/projects/midterm/record",
        data={
            "batch": "2026年中期检查",
            "entries-0-project_id": a.id,
            "entries-0-conclusion": "pass",
            "entries-1-project_id": b.id,
            "entries-1-conclusion": "conditional",
            "entries-1-comments": "补充材料",
            "entries-1-rectify_by": deadline,
        },
    )
    assert good.status_code == 302
    assert [(c.project_id, c.conclusion) for c in checks()] == [
        (a.id, "pass"),
        (b.id, "conditional"),
    ]
    html = client.get("/projects/midterm").get_data(as_text=True)
    assert f'data-deadline="{deadline}"' in html
    overview = client.get(f"/projects/{b.id}").get_data(as_text=True)
    assert 'data-conclusion="conditional"' in overview and "补充材料" in overview
    check = checks()[1]
    assert client.post(f"/projects/midterm/{check.id}/rectified").status_code == 302
    assert reload(check).rectified_at is not None


def test_record_page_without_projects_goes_back(app, login, client):
    login(bureau_officer())
    response = client.get("/projects/midterm/record", query_string={"batch": "x"})
    assert response.status_code == 302 and response.location.endswith("/projects/midterm")


@pytest.mark.parametrize("who", ["owner", "other_owner", "finance", "expert"])
def test_midterm_pages_for_the_bureau_only(app, login, client, who):
    project = running_project()
    user = owner_of(project) if who == "owner" else outsiders()[who]
    login(user)
    assert client.get("/projects/midterm").status_code == 403
    response = client.post(
        "/projects/midterm/record",
        data={"batch": "x", "entries-0-project_id": project.id, "entries-0-conclusion": "pass"},
    )
    assert response.status_code == 403
    assert checks() == []


def test_midterm_anonymous_goes_to_login(app, client):
    response = client.get("/projects/midterm")
    assert response.status_code == 302 and "/login" in response.location
