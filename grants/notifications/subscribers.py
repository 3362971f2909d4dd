"""What the notifications domain does when lower layers send their events, and the values it provides."""

from __future__ import annotations

from flask import current_app
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l

from grants.core import templating
from grants.core.signals import password_changed, password_reset_issued
from grants.notifications.operations import notify, queue_email, unread_count


def tell_password_changed(user, **_data) -> None:
    """Tell the user their password was changed (in case it was not them)."""
    notify(
        [user],
        "account.password_changed",
        _l("Your password was changed"),
        _l(
            "The password of your account was changed. If this was not you, "
            "reset your password at once and tell the administrator."
        ),
    )


def email_reset_link(user, *, link: str, hours: int, **_data) -> None:
    """Write the password-reset e-mail in the user's language."""
    with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = gettext("Reset your password")
        body = gettext(
            "Open this link within %(hours)d hours to choose a new password:\n\n%(link)s\n\n"
            "If you did not ask for this, ignore this e-mail.",
            hours=hours,
            link=link,
        )
    queue_email(user.email, subject, body, user_id=user.id)


def connect() -> None:
    password_changed.connect(tell_password_changed)
    password_reset_issued.connect(email_reset_link)
    templating.unread_messages.provide(unread_count)
