"""The bureau's review matrix, ranking, closing an application's review, the xlsx export and
the dashboard panel."""

import io
from decimal import Decimal

import openpyxl
import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from grants.core.models import AuditEvent
from grants.extensions import db
from tests.factories import CallFactory, ExpertFactory, OrganisationFactory, make_user
from tests.review.scoring_helpers import (
    as_rendered,
    draft_review,
    ready_assignment,
    reload,
    submitted_review,
    under_review,
)


def scenario():
    """Five applications; totals (60/40 rubric on 0–10): A 90 90 90, B 80 80 80, C 80 80, D 70, E none."""
    call = CallFactory(reviewers_per_application=3, trimmed_mean_min_reviews=5)
    org = OrganisationFactory(name="通化东宝药业股份有限公司")
    x, y, z = (ExpertFactory(name=n) for n in ("王评审", "李评审", "张评审"))
    apps = {
        key: under_review(call=call, organisation=org, reference_no=f"P-{key}", title=f"项目{key}")
        for key in "ABCDE"
    }
    reviews = {}
    for key, experts, value in (
        ("A", (x, y, z), 9),
        ("B", (x, y, z), 8),
        ("C", (x, y), 8),
        ("D", (x,), 7),
    ):
        for expert in experts:
            reviews[key, expert.name] = submitted_review(
                ready_assignment(application=apps[key], expert=expert), [value, value]
            )
    ready_assignment(
        application=apps["C"],
        expert=z,
        state="invited",
        no_conflict_declared_at=None,
        responded_at=None,
    )
    draft_review(ready_assignment(application=apps["D"], expert=y), ["5"])
    ready_assignment(application=apps["E"], expert=z)
    return {"call": call, "apps": apps, "experts": (x, y, z), "reviews": reviews}


def workbook(response):
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return openpyxl.load_workbook(io.BytesIO(response.data))


def rows_of(html: str, marker: str = 'data-application="') -> list[str]:
    return [chunk.split('"', 1)[0] for chunk in html.split(marker)[1:]]


def test_panel_shows_the_matrix_in_rank_order_with_names_and_statistics(client, login):
    data = scenario()
    login(make_user("bureau"))
    response = client.get(f"/calls/{data['call'].id}/panel")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    apps = data["apps"]
    assert rows_of(html) == [str(apps[k].id) for k in "ABCDE"]
    for expert in data["experts"]:
        assert f">{expert.name}</th>" in html
    assert "通化东宝药业股份有限公司" in html
    assert html.count("data-total") == 9  # one per submitted review
    # the trimmed mean column (the mean below five reviews), in rank order
    assert rows_of(html, 'data-score="') == ["90.0000", "80.0000", "80.0000", "70.0000", ""]
    review = data["reviews"]["A", "王评审"]
    assert f"/reviews/{review.id}" in html
    assert "data-z" not in html  # nobody has five reviews


def test_panel_sorts_by_rank_descending_and_by_reference(client, login):
    data = scenario()
    login(make_user("bureau"))
    apps = data["apps"]
    html = client.get(f"/calls/{data['call'].id}/panel?sort=-rank").get_data(as_text=True)
    assert rows_of(html) == [str(apps[k].id) for k in "DBCAE"]
    html = client.get(f"/calls/{data['call'].id}/panel?sort=-reference").get_data(as_text=True)
    assert rows_of(html) == [str(apps[k].id) for k in "EDCBA"]


def test_panel_flags_disagreement(client, login):
    call = CallFactory()
    application = under_review(call=call)
    for value in (2, 9):
        submitted_review(ready_assignment(application=application), [value, value])
    login(make_user("bureau"))
    html = client.get(f"/calls/{call.id}/panel").get_data(as_text=True)
    assert as_rendered(_l("Disagreement")) in html and "badge text-bg-warning" in html


def test_panel_shows_z_scores_once_the_expert_has_enough_reviews(client, login):
    call = CallFactory()
    expert = ExpertFactory(name="赵评审")
    other_call = CallFactory()
    for value in (6, 7, 8, 9):  # totals 60 70 80 90 in another call
        submitted_review(
            ready_assignment(application=under_review(call=other_call), expert=expert),
            [value, value],
        )
    here = ready_assignment(application=under_review(call=call), expert=expert)
    login(make_user("bureau"))
    submitted_review(here, [10, 10])  # total 100: mean 80, sample sd √250 → z = 20/15.8114 = 1.26
    html = client.get(f"/calls/{call.id}/panel").get_data(as_text=True)
    assert "data-z>z +1.3</span>" in html


def test_z_scores_hidden_below_the_minimum(client, login):
    call = CallFactory()
    expert = ExpertFactory()
    for value in (6, 7, 8):
        submitted_review(
            ready_assignment(application=under_review(call=call), expert=expert), [value, value]
        )
    login(make_user("bureau"))
    html = client.get(f"/calls/{call.id}/panel").get_data(as_text=True)
    assert html.count("data-total") == 3 and "data-z" not in html


def test_ranking_shows_ties_and_review_counts(client, login):
    data = scenario()
    login(make_user("bureau"))
    response = client.get(f"/calls/{data['call'].id}/ranking")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert rows_of(html, 'data-rank="') == ["1", "2", "2", "4", ""]
    assert html.count(f'border">{as_rendered(_l("tie"))}<') == 2
    apps = data["apps"]
    # closing is offered for every application in review; C still needs one more review
    assert f"/applications/{apps['B'].id}/finish-review" in html
    assert as_rendered(_l("Close the review")) in html


def test_finish_review_needs_the_calls_number_of_submitted_reviews(client, login):
    data = scenario()
    bureau = make_user("bureau")
    login(bureau)
    c = data["apps"]["C"]
    response = client.post(f"/applications/{c.id}/finish-review", follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    with force_locale("zh_Hans_CN"):
        from flask_babel import ngettext

        expected = ngettext(
            "%(num)d more submitted review is needed before the review can close "
            "(%(have)d of %(need)d).",
            "%(num)d more submitted reviews are needed before the review can close "
            "(%(have)d of %(need)d).",
            1,
            have=2,
            need=3,
        )
    assert str(expected) in html
    assert reload(c).state == "under_review"
    b = data["apps"]["B"]
    assert client.post(f"/applications/{b.id}/finish-review").status_code == 302
    assert reload(b).state == "reviewed"
    event = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == "application.finish_review", AuditEvent.object_id == str(b.id)
        )
    ).one()
    assert event.actor_id == bureau.id


def test_finish_review_guard_counts_only_valid_reviews(app):
    from grants.review.scoring import guard_finish_review

    data = scenario()
    d = data["apps"]["D"]  # one submitted, one draft, call needs three
    with app.test_request_context():
        message = guard_finish_review(d, None, {})
    assert message and "2" in message and "1" in message and "3" in message
    with app.test_request_context():
        assert guard_finish_review(data["apps"]["A"], None, {}) is None


def test_finish_review_is_refused_for_experts(client, login):
    data = scenario()
    login(data["experts"][0].user)
    b = data["apps"]["B"]
    assert client.post(f"/applications/{b.id}/finish-review").status_code == 403
    assert reload(b).state == "under_review"
    assert client.get(f"/calls/{data['call'].id}/ranking").status_code == 403


def test_xlsx_export_has_the_matrix_reviews_and_ranking_with_exact_totals(client, login):
    data = scenario()
    login(make_user("bureau", locale="en"))
    book = workbook(client.get(f"/calls/{data['call'].id}/panel.xlsx"))
    matrix, reviews, ranking = book.worksheets
    assert [s.title for s in book.worksheets] == ["Matrix", "Reviews", "Ranking"]
    assert (
        matrix.freeze_panes == "E2"
        and reviews.freeze_panes == "C2"
        and ranking.freeze_panes == "A2"
    )
    rows = list(matrix.iter_rows(values_only=True))
    header = rows[0]
    assert header[:4] == ("Rank", "Reference number", "Title", "Organisation")
    wang = header.index("王评审")
    zhang = header.index("张评审")
    by_ref = {r[1]: r for r in rows[1:]}
    assert [r[1] for r in rows[1:]] == ["P-A", "P-B", "P-C", "P-D", "P-E"]
    assert [r[0] for r in rows[1:]] == [1, 2, 2, 4, None]
    assert Decimal(str(by_ref["P-A"][wang])) == Decimal("90")
    assert by_ref["P-C"][zhang] is None  # invited only
    assert matrix.cell(row=2, column=wang + 1).number_format == "0.0"  # read to one decimal
    trimmed = header.index("Trimmed mean")
    assert Decimal(str(by_ref["P-B"][trimmed])) == Decimal("80")
    assert by_ref["P-E"][header.index("Valid reviews")] == 0

    review_rows = list(reviews.iter_rows(values_only=True))
    assert len(review_rows) == 1 + 9  # the nine submitted reviews; the draft is left out
    rh = review_rows[0]
    assert rh[-4:] == ("Total", "z-score", "Recommendation", "Comment")
    first = review_rows[1]
    assert first[0] == "P-A" and Decimal(str(first[rh.index("Total")])) == Decimal("90")
    assert first[-2] == "Fund" and first[-1].startswith("技术路线清晰")

    ranking_rows = list(ranking.iter_rows(values_only=True))
    assert [r[0] for r in ranking_rows[1:]] == [1, 2, 2, 4, None]
    assert [r[1] for r in ranking_rows[1:]] == [None, "Yes", "Yes", None, None]


def test_xlsx_headers_follow_the_users_language(client, login):
    data = scenario()
    login(make_user("bureau", locale="zh_Hans_CN"))
    book = workbook(client.get(f"/calls/{data['call'].id}/panel.xlsx"))
    with force_locale("zh_Hans_CN"):
        expected = (
            str(_l("Rank")),
            str(_l("Reference number")),
            str(_l("Title")),
            str(_l("Organisation")),
        )
        title = str(_l("Matrix"))
    assert book.worksheets[0].title == title
    assert tuple(c.value for c in book.worksheets[0][1][:4]) == expected


@pytest.mark.parametrize("role", ["applicant", "finance"])
def test_panel_pages_are_bureau_only(client, login, role):
    data = scenario()
    login(make_user(role))
    for path in ("panel", "ranking", "panel.xlsx"):
        assert client.get(f"/calls/{data['call'].id}/{path}").status_code == 403


def test_dashboard_lists_calls_ready_to_close(client, login):
    data = scenario()
    import grants.review.scoring_panels  # noqa: F401 - registers the panel (until the app imports it)

    login(make_user("bureau"))
    html = client.get("/").get_data(as_text=True)
    assert data["call"].title in html
    assert (
        as_rendered(
            _l("%(ready)d of %(total)d applications have all their reviews", ready=2, total=5)
        )
        in html
    )


def test_dashboard_panel_hidden_when_nothing_is_ready(app):
    from grants.review.scoring_panels import ready_to_close

    submitted_review(ready_assignment(), ["8", "7"])  # one of three reviews
    assert ready_to_close(make_user("bureau")) is None
