"""Progress reports: writing, submitting, approving and returning; milestones and their tranche follow."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from grants.core.workflow import GuardFailed, InvalidTransition, TransitionForbidden, transition
from grants.extensions import db
from grants.projects import progress as ops
from grants.projects.models import ProjectFile
from tests.projects.tracking_helpers import (
    audit_events,
    bureau_officer,
    milestone_tranche,
    notifications_of,
    outsiders,
    owner_of,
    pdf_upload,
    reload,
    running_project,
)


def submitted_report(project=None):
    project = project or running_project()
    owner = owner_of(project)
    milestone = project.milestones[0]
    report = ops.save_report(
        milestone,
        "完成中试，产品收率提高12%。",
        {"patents_filed": Decimal("1")},
        [],
        owner,
        submit=True,
    )
    return project, owner, milestone, report


def test_save_report_creates_a_draft_with_kpi_progress_and_evidence(app):
    project = running_project()
    owner = owner_of(project)
    milestone = project.milestones[0]
    report = ops.save_report(
        milestone,
        "  中试进行中  ",
        {"patents_filed": Decimal("1.50"), "unknown": Decimal("3")},
        [pdf_upload()],
        owner,
    )
    assert report.state == "draft" and report.text == "中试进行中"
    assert report.kpi_progress == {"patents_filed": "1.50"}
    [item] = db.session.scalars(
        sa.select(ProjectFile).where(ProjectFile.progress_report_id == report.id)
    ).all()
    assert item.purpose == "progress_evidence" and item.project_id == project.id
    assert item.original_name == "中试报告.pdf" and item.uploaded_by_id == owner.id
    assert reload(milestone).state == "open"
    assert audit_events("progress_report.saved", report) and audit_events(
        "progress_report.evidence_added", report
    )
    again = ops.save_report(milestone, "中试完成", {}, [], owner)
    assert again.id == report.id and again.kpi_progress == {}


def test_save_report_refuses_a_wrong_file_type(app):
    project = running_project()
    bad = FileStorage(stream=io.BytesIO(b"MZ\x90\x00 not a pdf"), filename="virus.pdf")
    with pytest.raises(ops.ProgressError) as refused:
        ops.save_report(project.milestones[0], "text", {}, [bad], owner_of(project))
    assert refused.value.field == "evidence"


def test_submit_moves_report_and_milestone_and_tells_the_bureau(app):
    officer = bureau_officer()
    project, owner, milestone, report = submitted_report()
    report = reload(report)
    assert (
        report.state == "submitted" and report.submitted_by_id == owner.id and report.submitted_at
    )
    assert reload(milestone).state == "reported"
    [message] = notifications_of(officer, "progress_report.submitted")
    assert project.code in message.subject and milestone.title in message.body
    assert message.link == f"/projects/{project.id}/reports/{report.id}"
    assert [e.after["state"] for e in audit_events("milestone.report", milestone)] == ["reported"]


def test_submit_refused_without_text(app):
    project = running_project()
    owner = owner_of(project)
    with pytest.raises(ops.ProgressError) as refused:
        ops.save_report(project.milestones[0], "   ", {}, [], owner, submit=True)
    assert refused.value.field == "text"
    report = ops.save_report(project.milestones[0], "", {}, [], owner)
    with pytest.raises(GuardFailed):
        transition(report, "submit", owner)


def test_no_second_report_while_one_is_with_the_bureau(app):
    _project, owner, milestone, _report = submitted_report()
    with pytest.raises(ops.ProgressError):
        ops.save_report(reload(milestone), "another", {}, [], owner)


def test_approval_achieves_the_milestone_and_makes_its_tranche_due(app):
    project, owner, milestone, report = submitted_report()
    officer = bureau_officer()
    tranche = milestone_tranche(project)
    assert tranche.due_since is None
    ops.approve_report(reload(report), officer, "很好")
    report, milestone, tranche = reload(report), reload(milestone), reload(tranche)
    assert (
        report.state == "approved"
        and report.reviewed_by_id == officer.id
        and report.review_note == "很好"
    )
    assert milestone.state == "achieved" and milestone.achieved_at is not None
    assert tranche.due_since is not None
    assert audit_events("tranche.due", tranche)
    [message] = notifications_of(owner, "progress_report.approved")
    assert project.code in message.subject


def test_return_reopens_the_milestone_and_the_owner_resubmits(app):
    project, owner, milestone, report = submitted_report()
    officer = bureau_officer()
    with pytest.raises(GuardFailed):
        ops.return_report(reload(report), officer, "  ")
    ops.return_report(reload(report), officer, "请补充中试数据。")
    report = reload(report)
    assert report.state == "returned" and report.review_note == "请补充中试数据。"
    assert reload(milestone).state == "open"
    [message] = notifications_of(owner, "progress_report.returned")
    assert "请补充中试数据。" in message.body
    assert milestone_tranche(project).due_since is None
    again = ops.save_report(reload(milestone), "补充了中试数据。", {}, [], owner, submit=True)
    assert again.id == report.id
    again = reload(again)
    assert (
        again.state == "submitted"
        and again.review_note == ""
        and reload(milestone).state == "reported"
    )


@pytest.mark.parametrize("who", ["other_owner", "finance", "expert", "anonymous"])
def test_submit_forbidden_to_others(app, who):
    project = running_project()
    report = ops.save_report(project.milestones[0], "text", {}, [], owner_of(project))
    actor = outsiders().get(who)
    with pytest.raises(TransitionForbidden):
        transition(report, "submit", actor)
    assert reload(report).state == "draft"


@pytest.mark.parametrize("who", ["owner", "other_owner", "finance", "expert", "anonymous"])
@pytest.mark.parametrize("event", ["approve", "return"])
def test_review_forbidden_to_all_but_the_bureau(app, who, event):
    _project, owner, milestone, report = submitted_report()
    actor = owner if who == "owner" else outsiders().get(who)
    with pytest.raises(TransitionForbidden):
        transition(reload(report), event, actor, note="x")
    assert reload(report).state == "submitted" and reload(milestone).state == "reported"


def test_milestone_events_are_for_the_system_not_for_people(app):
    _project, owner, milestone, report = submitted_report()
    with pytest.raises(TransitionForbidden):
        transition(reload(milestone), "approve", outsiders()["finance"])
    with pytest.raises(InvalidTransition):
        transition(reload(report), "submit", owner)


def test_reports_refused_when_the_project_does_not_run(app):
    project = running_project()
    owner = owner_of(project)
    report = ops.save_report(project.milestones[0], "text", {}, [], owner)
    db.session.execute(
        sa.update(type(project))
        .where(type(project).id == project.id)
        .values(state="closed", closed_at=None)
    )
    db.session.expire_all()
    with pytest.raises(GuardFailed):
        transition(reload(report), "submit", owner)
    with pytest.raises(ops.ProgressError):
        ops.save_report(reload(project.milestones[0]), "text", {}, [], owner)


def test_remove_evidence_only_while_editable(app):
    project = running_project()
    owner = owner_of(project)
    report = ops.save_report(project.milestones[0], "text", {}, [pdf_upload()], owner)
    [item] = ops.evidence_of(report)
    ops.remove_evidence(item, owner)
    assert ops.evidence_of(report) == []
    report = ops.save_report(
        reload(project.milestones[0]), "text", {}, [pdf_upload("b.pdf")], owner, submit=True
    )
    [item] = ops.evidence_of(report)
    with pytest.raises(ops.ProgressError):
        ops.remove_evidence(item, owner)


def test_waiting_reports_lists_submitted_ones(app):
    _project, _owner, _milestone, report = submitted_report()
    other = running_project()
    ops.save_report(other.milestones[0], "draft only", {}, [], owner_of(other))
    assert [r.id for r in ops.waiting_reports()] == [report.id] and ops.waiting_count() == 1
