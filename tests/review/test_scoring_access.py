"""Who sees what: blind proposal pages and PDFs, 404 for strangers, no proposal before
acceptance and the no-conflict declaration, no other expert's review."""

import subprocess
from pathlib import Path

from grants.applications.models import Attachment, TeamMember
from grants.extensions import db
from tests.factories import CallFactory, ExpertFactory, OrganisationFactory, make_user
from tests.review.scoring_helpers import (
    LONG_COMMENT,
    ready_assignment,
    submitted_review,
    under_review,
)

ORG_NAME = "通化金马药业集团股份有限公司"
ATTACHMENT_NAME = "通化金马营业执照扫描件.pdf"


def named_application(blind: bool = True):
    """An application whose organisation, people and attachment name could give the applicant away."""
    org = OrganisationFactory(
        name=ORG_NAME, address="吉林省通化市二道江区", legal_representative="王金马"
    )
    application = under_review(
        call=CallFactory(blind_review=blind), organisation=org, title="中药提取自动化关键技术研究"
    )
    application.team.append(
        TeamMember(
            position=2, name="李晓梅", role="core", title="高级工程师", organisation_name=ORG_NAME
        )
    )
    application.attachments.append(
        Attachment(
            requirement_code="licence",
            original_name=ATTACHMENT_NAME,
            stored_name=f"stored-{application.id}.pdf",
            content_type="application/pdf",
            size=2048,
            sha256="0" * 64,
        )
    )
    db.session.flush()
    return application


HIDDEN = (ORG_NAME, "严建国", "李晓梅", "王金马", ATTACHMENT_NAME, "通化金马")


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "proposal.pdf"
    path.write_bytes(data)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return "".join(text.split())


def test_blind_proposal_page_shows_no_organisation_people_or_file_names(client, login):
    assignment = ready_assignment(application=named_application(blind=True))
    login(assignment.expert.user)
    response = client.get(f"/expert/assignments/{assignment.id}/review")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "中药提取自动化关键技术研究" in html and "实现提取过程在线监测与自动控制。" in html
    for hidden in (*HIDDEN, assignment.application.organisation.uscc):
        assert hidden not in html, hidden


def test_blind_proposal_pdf_shows_no_organisation_or_people(client, login, tmp_path):
    assignment = ready_assignment(application=named_application(blind=True))
    login(assignment.expert.user)
    response = client.get(f"/expert/assignments/{assignment.id}/proposal.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "private, no-store"
    text = pdf_text(response.data, tmp_path)
    assert "中药提取自动化关键技术研究" in text
    for hidden in HIDDEN:
        assert hidden not in text, hidden


def test_open_call_proposal_page_names_the_applicant(client, login):
    assignment = ready_assignment(application=named_application(blind=False))
    login(assignment.expert.user)
    html = client.get(f"/expert/assignments/{assignment.id}/review").get_data(as_text=True)
    assert ORG_NAME in html and "李晓梅" in html


def test_bureau_review_page_shows_organisation_and_team(client, login):
    assignment = ready_assignment(application=named_application(blind=True))
    review = submitted_review(assignment, ["8", "7"])
    login(make_user("bureau"))
    response = client.get(f"/reviews/{review.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for shown in (
        ORG_NAME,
        "严建国",
        "李晓梅",
        assignment.expert.name,
        LONG_COMMENT,
        "data-total>76<",
    ):
        assert shown in html, shown


def test_expert_gets_404_for_an_assignment_of_another_expert(client, login):
    assignment = ready_assignment()
    other = ExpertFactory()
    login(other.user)
    assert client.get(f"/expert/assignments/{assignment.id}/review").status_code == 404
    assert client.get(f"/expert/assignments/{assignment.id}/proposal.pdf").status_code == 404
    response = client.post(f"/expert/assignments/{assignment.id}/review", data={"action": "save"})
    assert response.status_code == 404
    assert client.get("/expert/assignments/999999/review").status_code == 404


def test_expert_cannot_see_another_experts_review(client, login):
    application = under_review()
    mine = ready_assignment(application=application)
    theirs = ready_assignment(application=application)
    their_review = submitted_review(theirs, ["2", "3"], comment="另一位专家的意见：" + LONG_COMMENT)
    login(mine.expert.user)
    assert client.get(f"/reviews/{their_review.id}").status_code == 404
    html = client.get(f"/expert/assignments/{mine.id}/review").get_data(as_text=True)
    assert "另一位专家的意见" not in html and theirs.expert.name not in html
    assert client.get(f"/calls/{application.call_id}/panel").status_code == 403
    assert client.get(f"/calls/{application.call_id}/panel.xlsx").status_code == 403


def test_invited_expert_cannot_open_the_proposal(client, login):
    assignment = ready_assignment(state="invited", no_conflict_declared_at=None, responded_at=None)
    login(assignment.expert.user)
    response = client.get(f"/expert/assignments/{assignment.id}/review")
    assert response.status_code == 403
    assert assignment.application.title not in response.get_data(as_text=True)
    assert client.get(f"/expert/assignments/{assignment.id}/proposal.pdf").status_code == 403


def test_accepted_without_no_conflict_declaration_cannot_open_or_score(client, login):
    assignment = ready_assignment(no_conflict_declared_at=None)
    login(assignment.expert.user)
    assert client.get(f"/expert/assignments/{assignment.id}/review").status_code == 403
    response = client.post(
        f"/expert/assignments/{assignment.id}/review", data={"action": "save", "comment": "x"}
    )
    assert response.status_code == 403
    assert assignment.review is None


def test_bureau_and_applicant_cannot_use_the_expert_page(client, login):
    assignment = ready_assignment()
    login(make_user("bureau"))
    assert client.get(f"/expert/assignments/{assignment.id}/review").status_code == 403
    client.post("/logout")
    login(make_user("applicant", organisation=assignment.application.organisation))
    assert client.get(f"/expert/assignments/{assignment.id}/review").status_code == 404


def test_anonymous_is_sent_to_sign_in(client):
    assignment = ready_assignment()
    response = client.get(f"/expert/assignments/{assignment.id}/review")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
