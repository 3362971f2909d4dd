"""Locale and time-zone selection: zh_Hans_CN by default, the user's choice sticks."""

from __future__ import annotations

from flask import current_app, g, has_app_context, has_request_context, session
from flask_babel import get_translations
from flask_login import current_user


def select_locale() -> str:
    """The signed-in user's language, else the one chosen in this browser, else Chinese."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    user = current_user
    if user and getattr(user, "is_authenticated", False) and user.locale in languages:
        return user.locale
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def html_lang(locale) -> str:
    """The value for ``<html lang>``: zh-CN or en."""
    return "zh-CN" if str(locale).startswith("zh") else "en"


def translations():
    """The catalogue of the current locale, as ``flask_babel.get_translations()`` returns it.

    Flask-Babel resolves its context, domain and locale on every string; a page translating
    hundreds of strings keeps the answer beside Flask-Babel's own per-request state, and asks
    again whenever that state's locale or domain is another object (``force_locale``,
    ``refresh``).
    """
    if not has_app_context():
        return get_translations()
    state = g.get("_flask_babel")
    if state is not None:
        locale = getattr(state, "babel_locale", None)
        cached = getattr(state, "grants_translations", None)
        if (
            locale is not None
            and cached is not None
            and cached[0] is locale
            and cached[1] is getattr(state, "babel_domain", None)
        ):
            return cached[2]
    found = get_translations()
    state = g.get("_flask_babel")
    if state is not None and getattr(state, "babel_locale", None) is not None:
        state.grants_translations = (
            state.babel_locale,
            getattr(state, "babel_domain", None),
            found,
        )
    return found
