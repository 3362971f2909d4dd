"""Duplicate check (查重): bigram similarity of titles and summaries, within a call and across years."""

import pytest

from grants.applications import duplicates as dup
from grants.applications.duplicates import duplicate_pairs, near_duplicates, normalise, similarity
from tests.applications.bureau_helpers import application_in_state
from tests.factories import CallFactory, make_user

TITLE = "中药提取自动化关键技术研究"
NEAR_TITLE = "中药提取自动化关键技术的研究"


def test_normalise_folds_width_case_punctuation_and_spaces():
    assert normalise("ＡＢＣ，新型 白炭黑！Ab\u3000(2026)") == "abc新型白炭黑ab2026"


def test_similarity_of_near_identical_chinese_titles_passes_the_default():
    assert similarity(TITLE, NEAR_TITLE) >= 0.8
    assert similarity(TITLE, TITLE + "。") == 1.0
    assert similarity(TITLE, "汽车零部件轻量化技术研究") < 0.5
    assert similarity("", TITLE) == 0.0


def test_near_identical_titles_in_the_same_call_are_found(app):
    call = CallFactory()
    a = application_in_state(call=call, title=TITLE)
    b = application_in_state(call=call, title=NEAR_TITLE)
    application_in_state(call=call, title="高分散白炭黑制备工艺研究")
    [pair] = duplicate_pairs(call)
    assert {pair.application.id, pair.other.id} == {a.id, b.id}
    assert pair.title_matches and not pair.summary_matches
    assert 0.8 <= pair.title_similarity < 1
    assert pair.same_call


def test_different_titles_are_not_pairs(app):
    call = CallFactory()
    application_in_state(call=call, title="中药提取自动化关键技术研究")
    application_in_state(call=call, title="人参皂苷膜分离纯化工艺开发")
    application_in_state(call=call, title="汽车零部件轻量化关键技术研究")
    assert duplicate_pairs(call) == []


def test_near_identical_summaries_are_found(app):
    call = CallFactory()
    summary = "针对中药提取过程能耗高、质量波动大的问题，研究提取过程在线监测与自动控制技术，开发成套装备并中试验证。"
    a = application_in_state(call=call, title="项目甲", summary=summary)
    b = application_in_state(
        call=call, title="完全不同的名称", summary=summary.replace("中试验证", "进行中试验证")
    )
    [pair] = duplicate_pairs(call)
    assert {pair.application.id, pair.other.id} == {a.id, b.id}
    assert pair.summary_matches and not pair.title_matches


def test_earlier_years_application_is_found(app):
    earlier = CallFactory(year=2025)
    call = CallFactory(year=2026)
    old = application_in_state("rejected", call=earlier, title=TITLE)
    new = application_in_state(call=call, title=NEAR_TITLE)
    [pair] = duplicate_pairs(call)
    assert pair.application.id == new.id and pair.other.id == old.id
    assert not pair.same_call
    assert (
        duplicate_pairs(earlier) == []
    )  # a later year is not compared with an earlier call's check


def test_drafts_and_withdrawn_applications_are_ignored(app):
    call = CallFactory()
    application_in_state(call=call, title=TITLE)
    application_in_state("draft", call=call, title=NEAR_TITLE)
    application_in_state("withdrawn", call=call, title=TITLE)
    assert duplicate_pairs(call) == []


def test_each_pair_in_the_call_is_listed_once_and_most_similar_first(app):
    call = CallFactory()
    application_in_state(call=call, title=TITLE)
    application_in_state(call=call, title=TITLE)
    application_in_state(call=call, title=NEAR_TITLE)
    pairs = duplicate_pairs(call)
    assert len(pairs) == 3
    assert pairs[0].title_similarity == 1.0
    assert len({frozenset((p.application.id, p.other.id)) for p in pairs}) == 3


def test_thresholds_are_configurable(app):
    call = CallFactory()
    application_in_state(call=call, title=TITLE)
    application_in_state(call=call, title=NEAR_TITLE)
    assert duplicate_pairs(call, title_threshold=0.95) == []
    app.config["DUPLICATE_TITLE_THRESHOLD"] = 0.95
    try:
        assert duplicate_pairs(call) == []
    finally:
        del app.config["DUPLICATE_TITLE_THRESHOLD"]
    assert len(duplicate_pairs(call)) == 1


def test_candidates_come_from_the_inverted_index_of_rare_bigrams():
    """Unrelated titles sharing only common bigrams (技术, 研究) are never candidates."""
    titles = [
        TITLE,
        NEAR_TITLE,
        "汽车零部件轻量化关键技术研究",
        "人参皂苷纯化关键技术研究",
        "白炭黑制备技术研究",
    ]
    texts = [dup._Text(i, 1, 2026, dup.shingles(t), frozenset()) for i, t in enumerate(titles)]
    assert dup._candidates(texts, texts, "title", 0.8, True) == {(0, 1)}


def test_candidate_search_finds_exactly_what_comparing_all_pairs_finds():
    import random

    rng = random.Random(2026)
    words = [
        "中药",
        "提取",
        "自动化",
        "关键技术",
        "研究",
        "人参",
        "皂苷",
        "膜分离",
        "白炭黑",
        "汽车",
        "零部件",
        "轻量化",
        "数字",
        "孪生",
        "能源",
        "管理",
        "系统",
        "开发",
        "应用",
        "示范",
        "工艺",
        "制备",
    ]
    base = ["".join(rng.choice(words) for _ in range(5)) for _ in range(40)]
    texts = []
    for i in range(120):
        text = rng.choice(base)
        if rng.random() < 0.5:
            at = rng.randrange(len(text))
            text = text[:at] + rng.choice("的和与及") + text[at:]
        texts.append(dup._Text(i, i % 3, 2026, dup.shingles(text), frozenset()))
    queries = [t for t in texts if t.call_id == 0]
    for threshold in (0.6, 0.7, 0.8, 0.9):
        found = {
            pair
            for pair in dup._candidates(queries, texts, "title", threshold, True)
            if dup._cosine(texts[pair[0]].title, texts[pair[1]].title) >= threshold
        }
        expected = {
            (q.id, t.id)
            for q in queries
            for t in texts
            if q.id != t.id
            and not (t.call_id == q.call_id and t.id < q.id)
            and dup._cosine(q.title, t.title) >= threshold
        }
        assert found == expected and expected


def test_near_duplicates_of_one_application(app):
    earlier = CallFactory(year=2024)
    call = CallFactory(year=2026)
    mine = application_in_state(call=call, title=TITLE)
    twin = application_in_state(call=call, title=NEAR_TITLE)
    old = application_in_state("contracted", call=earlier, title=TITLE)
    application_in_state(call=call, title="人参皂苷膜分离纯化工艺开发")
    matches = near_duplicates(mine)
    assert [m.other.id for m in matches] == [old.id, twin.id]
    assert all(m.application.id == mine.id for m in matches)


@pytest.mark.parametrize("role", ["bureau", "admin"])
def test_duplicates_page_shows_pairs_side_by_side(client, login, role):
    earlier = CallFactory(year=2025)
    call = CallFactory(year=2026)
    a = application_in_state(call=call, title=TITLE)
    b = application_in_state(call=call, title=NEAR_TITLE)
    old = application_in_state("rejected", call=earlier, title=TITLE + "。")
    login(make_user(role))
    response = client.get(f"/calls/{call.id}/duplicates")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for application in (a, b, old):
        assert f'href="/applications/{application.id}"' in html
        assert application.organisation.name in html
    assert "100%" in html and "88%" in html
    assert html.count("<tr>") == 4  # header and three pairs


def test_duplicates_page_takes_thresholds_from_the_query(client, login):
    call = CallFactory()
    application_in_state(call=call, title=TITLE)
    application_in_state(call=call, title=NEAR_TITLE)
    login(make_user("bureau"))
    strict = client.get(f"/calls/{call.id}/duplicates?title=95").get_data(as_text=True)
    assert strict.count("<tr>") == 0 and "alert-success" in strict and 'value="95"' in strict
    html = client.get(f"/calls/{call.id}/duplicates?title=7").get_data(as_text=True)
    assert html.count("<tr>") == 2 and 'value="80"' in html


def test_duplicates_page_is_forbidden_to_applicants(client, login):
    call = CallFactory()
    login(make_user("applicant"))
    assert client.get(f"/calls/{call.id}/duplicates").status_code == 403
    assert client.get("/calls/999999/duplicates").status_code == 404


def test_check_page_warns_of_near_duplicates(client, login):
    call = CallFactory()
    mine = application_in_state(call=call, title=TITLE)
    twin = application_in_state(call=call, title=NEAR_TITLE)
    login(make_user("bureau"))
    html = client.get(f"/applications/{mine.id}/check").get_data(as_text=True)
    assert "alert-warning" in html and twin.title in html and f"/calls/{call.id}/duplicates" in html
    lonely = application_in_state(call=call, title="人参皂苷膜分离纯化工艺开发")
    assert "alert-warning" not in client.get(f"/applications/{lonely.id}/check").get_data(
        as_text=True
    )
