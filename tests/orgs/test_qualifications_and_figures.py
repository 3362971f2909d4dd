from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from grants.core.models import AuditEvent
from grants.extensions import db
from grants.orgs.models import Qualification, YearFigure
from tests.factories import OrganisationFactory, QualificationFactory, YearFigureFactory, make_user


def qualification_data(**overrides) -> dict:
    data = {
        "qual-kind": "national_high_tech",
        "qual-granted_on": "2024-11-01",
        "qual-expires_on": "2027-10-31",
        "qual-certificate_no": "GR202422001234",
    }
    data.update(overrides)
    return data


def figure_data(**overrides) -> dict:
    data = {
        "fig-year": "2024",
        "fig-revenue": "123.4567",
        "fig-rd_spending": "5.2",
        "fig-staff": "85",
        "fig-rd_staff": "12",
    }
    data.update(overrides)
    return data


def figures_of(org) -> list[YearFigure]:
    return db.session.scalars(
        sa.select(YearFigure).where(YearFigure.organisation_id == org.id).order_by(YearFigure.year)
    ).all()


def test_qualification_add_by_member_creates_row(client, login):
    user = make_user("applicant")
    login(user)
    response = client.post(
        f"/organisations/{user.organisation_id}/qualifications", data=qualification_data()
    )
    assert response.status_code == 302
    q = db.session.scalars(
        sa.select(Qualification).where(Qualification.organisation_id == user.organisation_id)
    ).one()
    assert (q.kind, q.granted_on, q.expires_on, q.certificate_no) == (
        "national_high_tech",
        date(2024, 11, 1),
        date(2027, 10, 31),
        "GR202422001234",
    )
    assert (
        db.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(
                AuditEvent.action == "organisation.qualification_added"
            )
        )
        == 1
    )


def test_qualification_add_without_expiry_is_accepted(client, login):
    user = make_user("applicant")
    login(user)
    client.post(
        f"/organisations/{user.organisation_id}/qualifications",
        data=qualification_data(**{"qual-kind": "provincial_key_lab", "qual-expires_on": ""}),
    )
    q = db.session.scalars(
        sa.select(Qualification).where(Qualification.organisation_id == user.organisation_id)
    ).one()
    assert q.kind == "provincial_key_lab" and q.expires_on is None


def test_qualification_add_with_expiry_before_grant_is_refused_on_field(client, login):
    user = make_user("applicant")
    login(user)
    response = client.post(
        f"/organisations/{user.organisation_id}/qualifications",
        data=qualification_data(**{"qual-expires_on": "2020-01-01"}),
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="qual-expires_on-error"' in html
    assert 'value="GR202422001234"' in html
    assert db.session.scalar(sa.select(sa.func.count(Qualification.id))) == 0


def test_qualification_add_with_unknown_kind_is_refused(client, login):
    user = make_user("applicant")
    login(user)
    response = client.post(
        f"/organisations/{user.organisation_id}/qualifications",
        data=qualification_data(**{"qual-kind": "made_up"}),
    )
    assert response.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(Qualification.id))) == 0


def test_qualification_remove_by_bureau_deletes_row(client, login):
    q = QualificationFactory()
    org_id, q_id = q.organisation_id, q.id
    login(make_user("bureau"))
    response = client.post(f"/organisations/{org_id}/qualifications/{q_id}/remove")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/organisations/{org_id}#qualifications")
    assert db.session.get(Qualification, q_id) is None
    assert (
        db.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(
                AuditEvent.action == "organisation.qualification_removed"
            )
        )
        == 1
    )


def test_qualification_urls_for_other_applicant_are_404(client, login):
    q = QualificationFactory()
    login(make_user("applicant"))
    assert (
        client.post(
            f"/organisations/{q.organisation_id}/qualifications", data=qualification_data()
        ).status_code
        == 404
    )
    assert (
        client.post(f"/organisations/{q.organisation_id}/qualifications/{q.id}/remove").status_code
        == 404
    )
    assert db.session.scalar(sa.select(sa.func.count(Qualification.id))) == 1


def test_qualification_remove_through_another_organisation_is_404(client, login):
    user = make_user("applicant")
    foreign = QualificationFactory()
    login(user)
    response = client.post(
        f"/organisations/{user.organisation_id}/qualifications/{foreign.id}/remove"
    )
    assert response.status_code == 404
    assert db.session.get(Qualification, foreign.id) is not None


def test_qualification_add_by_finance_is_403(client, login):
    org = OrganisationFactory()
    login(make_user("finance"))
    assert (
        client.post(
            f"/organisations/{org.id}/qualifications", data=qualification_data()
        ).status_code
        == 403
    )


def test_figures_in_wan_convert_exactly_to_yuan(client, login):
    user = make_user("applicant")
    login(user)
    response = client.post(f"/organisations/{user.organisation_id}/figures", data=figure_data())
    assert response.status_code == 302
    [figure] = figures_of(user.organisation)
    assert figure.revenue == Decimal("1234567.00")
    assert figure.rd_spending == Decimal("52000.00")
    assert (figure.year, figure.staff, figure.rd_staff) == (2024, 85, 12)
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "organisation.figures_set")
    ).one()
    assert event.after["revenue"] == "1234567.00"


def test_figures_accept_thousands_separators_and_tiny_amounts(client, login):
    user = make_user("applicant")
    login(user)
    client.post(
        f"/organisations/{user.organisation_id}/figures",
        data=figure_data(**{"fig-revenue": "12,345.0001", "fig-rd_spending": "0.0001"}),
    )
    [figure] = figures_of(user.organisation)
    assert figure.revenue == Decimal("123450001.00")
    assert figure.rd_spending == Decimal("1.00")


def test_figures_for_the_same_year_replace_the_old_ones(client, login):
    user = make_user("applicant")
    YearFigureFactory(
        organisation=user.organisation, year=2024, revenue=Decimal("1"), rd_spending=Decimal("0")
    )
    login(user)
    client.post(
        f"/organisations/{user.organisation_id}/figures", data=figure_data(**{"fig-revenue": "2"})
    )
    [figure] = figures_of(user.organisation)
    assert figure.revenue == Decimal("20000.00")


def test_figures_negative_amount_is_refused(client, login):
    user = make_user("applicant")
    login(user)
    response = client.post(
        f"/organisations/{user.organisation_id}/figures", data=figure_data(**{"fig-revenue": "-5"})
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="fig-revenue-error"' in html
    assert 'value="-5"' in html
    assert figures_of(user.organisation) == []


def test_figures_with_more_than_four_decimals_are_refused(client, login):
    user = make_user("applicant")
    login(user)
    response = client.post(
        f"/organisations/{user.organisation_id}/figures",
        data=figure_data(**{"fig-rd_spending": "1.23456"}),
    )
    assert response.status_code == 200
    assert 'id="fig-rd_spending-error"' in response.get_data(as_text=True)
    assert figures_of(user.organisation) == []


def test_figures_with_text_or_huge_amount_are_refused(client, login):
    user = make_user("applicant")
    login(user)
    for bad in ("abc", "NaN", "1e20", "100000000"):
        response = client.post(
            f"/organisations/{user.organisation_id}/figures",
            data=figure_data(**{"fig-revenue": bad}),
        )
        assert response.status_code == 200, bad
        assert 'id="fig-revenue-error"' in response.get_data(as_text=True), bad
    assert figures_of(user.organisation) == []


def test_figures_with_more_rd_staff_than_staff_are_refused_on_field(client, login):
    user = make_user("applicant")
    login(user)
    response = client.post(
        f"/organisations/{user.organisation_id}/figures",
        data=figure_data(**{"fig-staff": "5", "fig-rd_staff": "6"}),
    )
    assert response.status_code == 200
    assert 'id="fig-rd_staff-error"' in response.get_data(as_text=True)
    assert figures_of(user.organisation) == []


def test_figures_zero_staff_is_accepted(client, login):
    user = make_user("applicant")
    login(user)
    response = client.post(
        f"/organisations/{user.organisation_id}/figures",
        data=figure_data(**{"fig-staff": "0", "fig-rd_staff": "0", "fig-revenue": "0"}),
    )
    assert response.status_code == 302
    [figure] = figures_of(user.organisation)
    assert figure.staff == 0 and figure.revenue == Decimal("0")


def test_figures_remove_deletes_the_year(client, login):
    user = make_user("applicant")
    keep = YearFigureFactory(organisation=user.organisation, year=2023)
    drop = YearFigureFactory(organisation=user.organisation, year=2024)
    login(user)
    response = client.post(f"/organisations/{user.organisation_id}/figures/{drop.id}/remove")
    assert response.status_code == 302
    assert [f.year for f in figures_of(user.organisation)] == [keep.year]


def test_figures_urls_for_other_applicant_are_404(client, login):
    figure = YearFigureFactory()
    login(make_user("applicant"))
    org_id = figure.organisation_id
    assert client.post(f"/organisations/{org_id}/figures", data=figure_data()).status_code == 404
    assert client.post(f"/organisations/{org_id}/figures/{figure.id}/remove").status_code == 404
    assert db.session.get(YearFigure, figure.id) is not None


def test_figures_add_by_bureau_and_refused_to_finance(client, login, switch_user):
    org = OrganisationFactory()
    login(make_user("bureau"))
    assert client.post(f"/organisations/{org.id}/figures", data=figure_data()).status_code == 302
    switch_user(make_user("finance"))
    assert (
        client.post(
            f"/organisations/{org.id}/figures", data=figure_data(**{"fig-year": "2023"})
        ).status_code
        == 403
    )
    assert [f.year for f in figures_of(org)] == [2024]
