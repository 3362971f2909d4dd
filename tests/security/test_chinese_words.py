"""Issue 18, item 1 ("Words"): every page, for every kind of user, in Chinese, has no English word.

Each GET route of the permission matrix (tests/security/test_permission_matrix.py) is opened
for each kind of user in the matrix world (tests/security/world.py), with the UI in
zh_Hans_CN (the default); every answer that is an HTML page with status 200 has its visible
text (placeholders, titles, aria-labels, alt texts and option texts included) searched for
Latin words. Words in ``ALLOWED`` (tests/security/chinese.py: units, formats, codes) pass, and
so do e-mail addresses, reference numbers and file names from the data. The world's own data
is Chinese, so an English word is the UI's.
"""

from __future__ import annotations

import pytest

from tests.security.chinese import english_words
from tests.security.matrix import rolled_back, routes, send, url_for_rule
from tests.security.world import USER_KINDS, build_world

# The Latin words the world's data holds by design (not the UI's words): the clusters' English
# names (tests/factories.py ClusterFactory.name_en, "Cluster 1"), which the admin's cluster
# list shows in its English-name column.
WORLD_NAMES = {"Cluster"}


@pytest.mark.parametrize("kind", USER_KINDS)
def test_every_page_is_chinese(app, client, login, kind):
    world = build_world()
    if kind != "anonymous":
        login(world.users[kind])
    found = []
    pages = 0
    for endpoint, method, rule in routes(app):
        if method != "GET":
            continue
        url = url_for_rule(app, rule, world)
        with rolled_back(app):
            response = send(client, "GET", url)
        if isinstance(response, Exception) or response.status_code != 200:
            continue
        if "text/html" not in (response.content_type or ""):
            continue
        pages += 1
        words = english_words(response.get_data(as_text=True), WORLD_NAMES)
        if words:
            found.append(f"{endpoint:40} {url}: {', '.join(sorted(words))}")
    assert pages > 10 or kind == "anonymous", f"{kind}: only {pages} pages opened"
    assert not found, f"{kind}: English on {len(found)} Chinese pages:\n" + "\n".join(found)
