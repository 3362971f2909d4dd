"""Helpers for the organisation tests."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from markupsafe import escape


def as_rendered(message) -> str:
    """A (lazy) message as a page in the default language shows it, HTML-escaped."""
    with force_locale("zh_Hans_CN"):
        return str(escape(str(message)))


@pytest.fixture
def switch_user(client, login):
    """Sign out whoever is signed in, then sign ``user`` in."""

    def switch(user):
        client.post("/logout")
        return login(user)

    return switch
