"""Money and scores read the same on every page: 万元 to two decimals (元 only where finance needs
the exact amount) and scores to at most one decimal. Representative pages are rendered with
amounts and scores that used to come out as four-decimal 万元 and four-decimal scores."""

from __future__ import annotations

import html as html_lib
import re
from decimal import Decimal

from grants.extensions import db
from tests.factories import make_project, make_user
from tests.projects import acceptance_helpers as acceptance
from tests.projects import change_helpers as changes
from tests.review.decision_helpers import add_review, reviewed_application, small_call

FOUR_DECIMAL_WAN = re.compile(r"\d+\.\d{4} 万元")
MONEY = re.compile(r"-?[\d,]+\.\d{2} (?:万元|元)|CNY -?[\d,]+\.\d{2}(?: × 10k)?")
LONG_DECIMAL = re.compile(r"\d\.\d{2,}")


def visible_text(page: str) -> str:
    """What a person reads: the page without scripts, tags and attribute values."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", page))


def assert_one_format(page: str) -> str:
    """No four-decimal 万元 anywhere; with money taken out, no number with two or more decimals
    left (a score, mean or weight shows at most one)."""
    assert not FOUR_DECIMAL_WAN.search(page), FOUR_DECIMAL_WAN.search(page).group(0)
    text = visible_text(page)
    leftover = LONG_DECIMAL.findall(MONEY.sub(" ", text))
    assert not leftover, [
        text[max(m.start() - 60, 0) : m.end() + 20]
        for m in LONG_DECIMAL.finditer(MONEY.sub(" ", text))
    ]
    return text


def test_project_detail_shows_the_award_in_wan_to_two_decimals(client, login):
    project = make_project(award="283456.78")
    db.session.commit()
    login(make_user("bureau"))
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    text = assert_one_format(page)
    assert "28.35 万元" in text
    assert "28.3457" not in text and "283,456.78" not in text


def test_change_request_page_shows_old_and_new_budget_in_wan(client, login):
    c = changes.cast(award="283456.78")
    change = changes.submitted(
        c.project, "budget", changes.budget_moving(c.project, "1234.56"), c.owner
    )
    db.session.commit()
    login(c.bureau)
    page = client.get(f"/projects/{c.project.id}/changes/{change.id}").get_data(as_text=True)
    assert assert_one_format(page)
    assert "28.35 万元" in page


def test_budget_change_form_names_the_award_exactly(client, login):
    c = changes.cast(award="283456.78")
    db.session.commit()
    login(c.owner)
    form = client.get(f"/projects/{c.project.id}/changes/new/budget").get_data(as_text=True)
    assert_one_format(form)
    # the budget must add up to the award exactly: the form names it in 元 as well
    assert "28.35 万元 (283,456.78 元)" in form


def test_decisions_page_shows_scores_to_one_decimal(client, login):
    call = small_call(trimmed_mean_min_reviews=3)
    application = reviewed_application(call=call, fiscal="283456.78")  # totals 70, 71, 72
    add_review(application, total="82.2567")
    db.session.commit()
    login(make_user("bureau"))
    page = client.get(f"/calls/{call.id}/decisions").get_data(as_text=True)
    text = assert_one_format(page)
    row = page[page.index(f'id="application-{application.id}"') :]
    # mean (70 + 71 + 72 + 82.2567) / 4 = 73.814175; trimmed mean (71 + 72) / 2 = 71.5
    assert ">73.8<" in row and ">71.5<" in row
    assert "28.35 万元" in text


def test_acceptance_panel_shows_scores_to_one_decimal(client, login):
    c = acceptance.cast()
    acceptance.submit_report(c)
    acceptance.scored_panel(
        c,
        values=((Decimal("8.25"), Decimal("7.5"), 9, Decimal("6.75")), (9, 9, 9, 9), (7, 7, 7, 7)),
    )
    db.session.commit()
    login(c.bureau)
    page = client.get(f"/projects/{c.project.id}/acceptance/panel").get_data(as_text=True)
    assert_one_format(page)
    mean = re.search(r"data-mean>([^<]*)<", page).group(1)
    assert re.fullmatch(r"\d+(\.\d)?", mean), mean
    assert ">90<" in page and ">70<" in page  # the all-9 and all-7 reviews' totals, not 90.0000
