"""Template globals and filters: permissions, workflow buttons, money, time, language."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask, current_app, request, url_for
from flask_babel import format_date, format_datetime, get_locale
from flask_login import current_user

from grants.core.i18n import html_lang
from grants.core.money import format_wan, format_yuan
from grants.core.permissions import can as _can
from grants.core.workflow import can_fire as _can_fire


def can(action: str, obj=None) -> bool:
    """``can(action, obj)`` in templates: the same rule the views require."""
    return _can(current_user, action, obj)


def can_fire(obj, event: str) -> bool:
    return _can_fire(current_user, obj, event)


def local_datetime(value: datetime | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """An aware datetime shown in Asia/Shanghai."""
    if value is None:
        return "—"
    return format_datetime(value, fmt)


def local_date(value: date | None, fmt: str = "yyyy-MM-dd") -> str:
    if value is None:
        return "—"
    return format_date(value, fmt)


def url_for_page(page: int) -> str:
    """The current URL with its query string, at another page."""
    args = request.args.to_dict()
    args["page"] = page
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def init_templating(app: Flask) -> None:
    app.jinja_env.globals.update(can=can, can_fire=can_fire, url_for_page=url_for_page)
    app.jinja_env.filters.update(yuan=format_yuan, wan=format_wan,
                                 datetime=local_datetime, date=local_date)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def _shell_context():
        from grants.notifications.operations import unread_count

        locale = get_locale()
        unread = 0
        if current_user.is_authenticated:
            unread = unread_count(current_user)
        return {
            "html_lang": html_lang(locale),
            "current_locale": str(locale),
            "languages": current_app.config["LANGUAGES"],
            "unread_count": unread,
        }
