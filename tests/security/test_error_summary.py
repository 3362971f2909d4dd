"""Issue 18, item 1 ("Words"): a refused form shows an error summary at the top, all errors at once.

Every POST route of the permission matrix is sent, by each kind of user of the matrix world
(tests/security/world.py), an empty form (or the matrix's minimal one). When the answer is a
page that marks fields as invalid (``aria-invalid="true"`` or an ``invalid-feedback``
message), it must carry the summary of ``form_errors`` (templates/macros/forms.html): a
``role="alert"`` box whose heading counts the errors and whose links go to controls that
exist on the page, one link for every control marked invalid. Every answer that is a page is
also searched for English words, as the GET pages are (tests/security/test_chinese_words.py).
"""

from __future__ import annotations

import re

import pytest

from tests.security.chinese import english_words
from tests.security.matrix import rolled_back, routes, send, url_for_rule
from tests.security.test_chinese_words import WORLD_NAMES
from tests.security.test_permission_matrix import FORMS
from tests.security.world import USER_KINDS, build_world

SUMMARY = re.compile(
    r'<div class="alert alert-danger error-summary" role="alert"[^>]*>(.*?)</div>', re.S
)
LINK = re.compile(r'<a class="alert-link" href="#([^"]+)"')
INVALID = re.compile(r'<[^>]*aria-invalid="true"[^>]*>')
ID = re.compile(r'\bid="([^"]+)"')


def problems_of(html: str) -> list[str]:
    """What is wrong with the error summary of a page that shows field errors (empty: nothing)."""
    invalid_ids = [m.group(1) for tag in INVALID.findall(html) if (m := ID.search(tag))]
    if not invalid_ids and "invalid-feedback" not in html:
        return []
    summaries = SUMMARY.findall(html)
    if not summaries:
        return ["field errors without an error summary at the top"]
    problems = []
    for summary in summaries:
        counted = re.search(r"请更正以下 (\d+) 处错误", summary)
        if not counted:
            problems.append("the summary has no heading counting the errors")
        elif int(counted.group(1)) != summary.count("<li>"):
            problems.append(f"the heading counts {counted.group(1)} errors, the list differs")
    ids = set(ID.findall(html))
    linked = {target for summary in summaries for target in LINK.findall(summary)}
    problems += [f"link to #{target}, which is not on the page" for target in linked - ids]
    problems += [
        f"invalid control #{i} not linked from the summary" for i in invalid_ids if i not in linked
    ]
    if html.find("error-summary") > html.find('aria-invalid="true"') > -1:
        problems.append("the summary comes after the first invalid control")
    return problems


@pytest.mark.parametrize("kind", USER_KINDS)
def test_refused_forms_show_an_error_summary(app, client, login, kind):
    world = build_world()
    if kind != "anonymous":
        login(world.users[kind])
    found = []
    checked = 0
    todo = sorted(routes(app), key=lambda item: (item[0] == "accounts.logout", item[0]))
    for endpoint, method, rule in todo:
        if method != "POST" or endpoint in ("accounts.logout", "core.set_language"):
            continue
        url = url_for_rule(app, rule, world)
        with rolled_back(app):
            response = send(client, "POST", url, FORMS.get(endpoint))
        if isinstance(response, Exception) or response.status_code not in (200, 400, 409, 422):
            continue
        if "text/html" not in (response.content_type or ""):
            continue
        html = response.get_data(as_text=True)
        problems = problems_of(html)
        if words := english_words(html, WORLD_NAMES):
            problems.append(f"English in the Chinese answer: {', '.join(sorted(words))}")
        if "aria-invalid" in html or "invalid-feedback" in html:
            checked += 1
        found += [f"{endpoint:40} {url}: {p}" for p in problems]
    print(f"{kind}: {checked} refused forms checked")
    assert not found, f"{kind}: {len(found)} problems:\n" + "\n".join(found)
