"""Helpers for the organisation tests."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
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


def confirmation_path(email: str) -> str:
    """The path of the newest registration link e-mailed to ``email``."""
    from grants.extensions import db
    from grants.notifications.models import OutboxEmail

    bodies = db.session.scalars(
        sa.select(OutboxEmail.body)
        .where(OutboxEmail.to_address == email)
        .order_by(OutboxEmail.id.desc())
    ).all()
    for body in bodies:
        found = re.search(r"https?://[^/\s]+(/register/confirm/\S+)", body)
        if found:
            return found.group(1)
    raise AssertionError(f"no registration link was e-mailed to {email}")


@pytest.fixture
def register(client):
    """Register through the form and confirm through the e-mailed link; returns the confirm response."""

    def do_register(data: dict):
        response = client.post("/register", data=data)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        assert response.headers["Location"].endswith("/register/sent")
        return client.post(confirmation_path(data["email"]))

    return do_register
