"""A small "world" for the permission and GET-safety tests: one object of each kind, owned by organisation A.

The world is built directly from the models (as the factories do) rather than through the
views, so that building it is fast and does not depend on the behaviour under test. It
holds the nine kinds of user of the permission matrix and maps every URL argument name of
``app.url_map`` to one of its objects (``url_values``).
"""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from werkzeug.datastructures import FileStorage

from grants.applications.models import Attachment
from grants.core import storage
from grants.core.models import Job
from grants.core.timeutil import local_today
from grants.core.types import utcnow
from grants.extensions import db
from grants.funding.models import Disbursement, Expenditure
from grants.notifications.models import Notification
from grants.projects.models import (
    ChangeRequest,
    FinalReport,
    MidtermCheck,
    Outcome,
    ProgressReport,
    ProjectFile,
)
from grants.reports.models import PortfolioReport
from grants.review.models import ExcludedExpert, ExpertRelation, Objection, PublicNotice, Review
from tests.factories import (
    ApplicationFactory,
    AssignmentFactory,
    CallFactory,
    ClusterFactory,
    ExpertFactory,
    InvitationFactory,
    OrganisationFactory,
    QualificationFactory,
    YearFigureFactory,
    fill_application,
    make_project,
    make_user,
)

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

USER_KINDS = (
    "anonymous",
    "applicant_a",
    "applicant_b",
    "assigned_expert",
    "unassigned_expert",
    "conflicted_expert",
    "finance",
    "bureau",
    "admin",
)


@dataclass
class World:
    """The users (by kind) and the ids the URL arguments are filled with."""

    users: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)
    overrides: dict = field(default_factory=dict)

    def url_values(self, rule) -> dict:
        """A value for each argument of ``rule``: the endpoint's override first, then the world's id by name."""
        special = self.overrides.get(rule.endpoint, {})
        values = {}
        for argument in rule.arguments:
            if argument in special:
                values[argument] = special[argument]
            else:
                values[argument] = self.ids[argument]
        return values


def _stored_pdf(name: str = "证明材料.pdf") -> storage.StoredFile:
    return storage.save_upload(
        FileStorage(stream=io.BytesIO(PDF_BYTES), filename=name, content_type="application/pdf")
    )


def _project_file(project, purpose: str, actor, **links) -> ProjectFile:
    stored = _stored_pdf()
    item = ProjectFile(
        project_id=project.id,
        purpose=purpose,
        original_name=stored.original_name,
        stored_name=stored.stored_name,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        uploaded_by_id=actor.id,
        **links,
    )
    db.session.add(item)
    db.session.flush()
    return item


def build_world() -> World:
    """Create and commit the world; every object below belongs to organisation A unless said otherwise."""
    now = utcnow()
    cluster = ClusterFactory()
    org_a = OrganisationFactory(cluster=cluster)
    org_b = OrganisationFactory(cluster=cluster)
    applicant_a = make_user("applicant", organisation=org_a)
    applicant_b = make_user("applicant", organisation=org_b)
    bureau = make_user("bureau")
    finance = make_user("finance")
    admin = make_user("admin")
    assigned = ExpertFactory()
    unassigned = ExpertFactory()
    conflicted = ExpertFactory(
        employer_id=org_a.id, employer_name=org_a.name, employer_uscc=org_a.uscc
    )

    call = CallFactory()
    draft = fill_application(ApplicationFactory(call=call, organisation=org_a, cluster=cluster))
    application = fill_application(
        ApplicationFactory(
            call=call,
            organisation=org_a,
            cluster=cluster,
            state="under_review",
            submitted_at=now - timedelta(days=5),
            reference_no="W-00001",
        )
    )
    attachments = {}
    for target in (draft, application):
        stored = _stored_pdf("营业执照.pdf")
        attachments[target] = Attachment(
            application_id=target.id,
            requirement_code="licence",
            original_name=stored.original_name,
            stored_name=stored.stored_name,
            content_type=stored.content_type,
            size=stored.size,
            sha256=stored.sha256,
            uploaded_by_id=applicant_a.id,
        )
        db.session.add(attachments[target])
    assignment = AssignmentFactory(
        application=application,
        expert=assigned,
        state="accepted",
        responded_at=now,
        no_conflict_declared_at=now,
    )
    AssignmentFactory(application=application, expert=conflicted, state="invited")
    review = Review(
        assignment=assignment,
        state="submitted",
        comment="技术路线清晰。",
        recommendation="fund",
        total=Decimal("80"),
        submitted_at=now,
    )
    db.session.add(review)
    excluded = ExcludedExpert(
        application_id=application.id, name="王某", employer_name="竞争单位", reason="竞争关系"
    )
    relation = ExpertRelation(
        expert_id=assigned.id, kind="collaboration", organisation_name="某研究院"
    )
    notice = PublicNotice(
        call_id=call.id,
        title="立项公示",
        body="公示内容",
        starts_on=local_today(),
        ends_on=local_today() + timedelta(days=7),
        state="published",
        published_at=now,
    )
    db.session.add_all([excluded, relation, notice])
    db.session.flush()
    objection = Objection(
        notice_id=notice.id,
        application_id=application.id,
        raised_by="张三",
        text="异议内容",
        received_on=local_today(),
    )
    db.session.add(objection)

    project = make_project(organisation=org_a, call=call)
    milestone = project.milestones[0]
    tranche = project.tranches[0]
    disbursement = Disbursement(
        project_id=project.id,
        tranche_id=tranche.id,
        amount=tranche.amount,
        state="requested",
        idempotency_key="world-disbursement",
        requested_by_id=bureau.id,
        payee_name=org_a.name,
        payee_bank="中国银行通化分行",
        payee_account="6216600000000000",
    )
    expenditure = Expenditure(
        project_id=project.id,
        category="equipment",
        period_start=date(project.year, 1, 1),
        period_end=date(project.year, 3, 31),
        amount=Decimal("10000.00"),
        note="设备采购",
        state="submitted",
        submitted_by_id=applicant_a.id,
    )
    progress = ProgressReport(
        milestone_id=milestone.id,
        project_id=project.id,
        text="阶段进展",
        state="submitted",
        submitted_by_id=applicant_a.id,
        submitted_at=now,
    )
    change = ChangeRequest(
        project_id=project.id,
        kind="extension",
        reason="实施需要调整",
        proposed={"end_date": date(project.year + 2, 6, 30).isoformat()},
        state="submitted",
        created_by_id=applicant_a.id,
        submitted_at=now,
    )
    final = FinalReport(project_id=project.id, summary="总结", state="draft")
    midterm = MidtermCheck(
        project_id=project.id,
        batch="2026",
        conclusion="conditional",
        comments="需整改",
        rectify_by=local_today() + timedelta(days=30),
        checked_by_id=bureau.id,
    )
    db.session.add_all([disbursement, expenditure, progress, change, final, midterm])
    db.session.flush()
    outcome = Outcome(
        project_id=project.id,
        final_report_id=final.id,
        kind="patent",
        title="一种提取装置",
        reference="ZL2026000001",
        achieved_on=local_today(),
    )
    db.session.add(outcome)
    db.session.flush()
    evidence = _project_file(
        project, "spending_evidence", applicant_a, expenditure_id=expenditure.id
    )
    progress_file = _project_file(
        project, "progress_evidence", applicant_a, progress_report_id=progress.id
    )
    change_file = _project_file(
        project, "change_evidence", applicant_a, change_request_id=change.id
    )
    signed = _project_file(project, "signed_task_book", bureau)
    document = _project_file(project, "final_report", applicant_a, final_report_id=final.id)

    from grants.core.storage import backend
    from grants.reports.operations import file_key

    report_name = f"{uuid.uuid4().hex}.pdf"
    backend().put(file_key(report_name), io.BytesIO(PDF_BYTES))
    job = Job(name="portfolio_report", args=[], status="finished", owner_id=bureau.id)
    db.session.add(job)
    db.session.flush()
    report = PortfolioReport(
        first_year=2021,
        last_year=2025,
        version=1,
        state="done",
        job_id=job.id,
        pdf_name=report_name,
        pdf_sha256=hashlib.sha256(PDF_BYTES).hexdigest(),
        pdf_size=len(PDF_BYTES),
        pages=1,
        requested_by_id=bureau.id,
        requested_at=now,
        finished_at=now,
    )
    notification = Notification(
        user_id=applicant_a.id,
        kind="application.returned",
        subject="通知",
        body="正文",
        link="/applications",
    )
    qualification = QualificationFactory(organisation=org_a)
    figure = YearFigureFactory(organisation=org_a)
    invitation = InvitationFactory(organisation=org_a)
    db.session.add_all([report, notification])
    db.session.flush()
    db.session.commit()

    world = World(
        users={
            "applicant_a": applicant_a,
            "applicant_b": applicant_b,
            "assigned_expert": assigned.user,
            "unassigned_expert": unassigned.user,
            "conflicted_expert": conflicted.user,
            "finance": finance,
            "bureau": bureau,
            "admin": admin,
        }
    )
    world.ids = {
        "application_id": application.id,
        "attachment_id": attachments[application].id,
        "assignment_id": assignment.id,
        "call_id": call.id,
        "change_id": change.id,
        "check_id": midterm.id,
        "cluster_id": cluster.id,
        "disbursement_id": disbursement.id,
        "expenditure_id": expenditure.id,
        "expert_id": conflicted.id,
        "figure_id": figure.id,
        "invitation_id": invitation.id,
        "job_id": job.id,
        "milestone_id": milestone.id,
        "notice_id": notice.id,
        "notification_id": notification.id,
        "objection_id": objection.id,
        "org_id": org_a.id,
        "outcome_id": outcome.id,
        "project_id": project.id,
        "qualification_id": qualification.id,
        "relation_id": relation.id,
        "report_id": progress.id,
        "review_id": review.id,
        "row_id": excluded.id,
        "tranche_id": tranche.id,
        "user_id": applicant_a.id,
        "token": "not-a-valid-token",
        "section": "basic",
        "event": "close",
        "kind": "extension",
        "fmt": "csv",
        "filename": "css/app.css",
        "file_id": evidence.id,
    }
    draft_values = {"application_id": draft.id, "attachment_id": attachments[draft].id}
    report_values = {"report_id": report.id, "kind": "pdf"}
    world.overrides = {
        **dict.fromkeys(
            (
                "applications.edit",
                "applications.save_section",
                "applications.submit",
                "applications.delete_draft",
                "applications.upload_attachment",
                "applications.delete_attachment",
                "applications.budget_preview",
            ),
            draft_values,
        ),
        "funding.evidence": {"file_id": evidence.id},
        "funding.signed_task_book": {"file_id": signed.id},
        "projects.evidence": {"file_id": progress_file.id},
        "projects.remove_evidence": {"file_id": progress_file.id},
        "projects.remove_change_evidence": {"file_id": change_file.id},
        "projects.acceptance_file": {"file_id": document.id},
        "projects.remove_document": {"file_id": document.id},
        "funding.new_contract": {"application_id": project.application_id},
        "bootstrap.static": {"filename": "css/bootstrap.min.css"},
        **dict.fromkeys(("reports.download", "reports.retry", "reports.status"), report_values),
    }
    return world
