"""Template globals and filters: permissions, workflow buttons, money, time, language."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app, request, url_for
from flask_babel import (
    format_date,
    format_datetime,
    format_decimal,
    get_locale,
    lazy_gettext,
    ngettext,
)
from flask_login import current_user
from jinja2 import pass_context

from grants.core import widgets
from grants.core.i18n import html_lang, select_timezone, translations
from grants.core.money import format_wan, format_yuan
from grants.core.numbers import format_figure, format_score
from grants.core.permissions import can as _can
from grants.core.signals import Hook
from grants.core.states import state_badge_filter, state_label_filter
from grants.core.workflow import can_fire as _can_fire


def can(action: str, obj=None) -> bool:
    """``can(action, obj)`` in templates: the same rule the views require."""
    return _can(current_user, action, obj)


def can_fire(obj, event: str) -> bool:
    return _can_fire(current_user, obj, event)


DATETIME_FORMAT = "yyyy-MM-dd HH:mm"
DATE_FORMAT = "yyyy-MM-dd"


def _in_user_zone(value: datetime) -> datetime:
    """``value`` in the zone people see (a naive value counts as UTC, as Flask-Babel has it)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(ZoneInfo(select_timezone()))


def local_datetime(value: datetime | None, fmt: str = DATETIME_FORMAT) -> str:
    """An aware datetime shown in Asia/Shanghai.

    The default all-digit pattern reads the same in every language, so it is formatted
    directly: a list of a few hundred rows need not go through the locale machinery for each.
    """
    if value is None:
        return "—"
    if fmt == DATETIME_FORMAT and isinstance(value, datetime) and value.year >= 1000:
        return _in_user_zone(value).strftime("%Y-%m-%d %H:%M")
    return format_datetime(value, fmt)


def local_date(value: date | None, fmt: str = DATE_FORMAT) -> str:
    if value is None:
        return "—"
    if fmt == DATE_FORMAT:
        day = _in_user_zone(value).date() if isinstance(value, datetime) else value
        if day.year >= 1000:
            return day.isoformat()
    return format_date(value, fmt)


@pass_context
def state_label(_context, obj_or_value, entity_or_set) -> str:
    """``value|state_label(set)``: taking the context stops Jinja from folding a constant
    (``'invited'|state_label('assignment')``) into the template in the language it was first
    compiled in."""
    return state_label_filter(obj_or_value, entity_or_set)


def file_size(value: int | None) -> str:
    """A file's size in the reader's language: 77 字节, 12.5 KB, 3.2 MB (Jinja's own says "Bytes")."""
    size = int(value or 0)
    if size < 1024:
        return ngettext("%(num)d byte", "%(num)d bytes", size)
    unit, amount = ("KB", size / 1024) if size < 1024 * 1024 else ("MB", size / 1024 / 1024)
    return f"{format_decimal(amount, format='#,##0.#')} {unit}"


STALE_PAGE = lazy_gettext("The page has expired. Reload it and try again.")


def form_error_list(*forms) -> list[dict]:
    """Every error of ``forms`` in page order: ``{"id", "label", "message"}``, nested rows included.

    The error summary at the top of a form (``form_errors`` in templates/macros/forms.html)
    lists them all at once, each a link to its control (``id`` is empty for an error that
    belongs to no visible control, such as the whole form's or a hidden field's).
    """
    found: list[dict] = []

    def walk(form) -> None:
        for name in getattr(form, "_fields", {}):
            field = form._fields[name]
            if field.type == "FormField":
                walk(field.form)
            elif field.type == "FieldList":
                for entry in field.entries:
                    if entry.type == "FormField":
                        walk(entry.form)
                    else:
                        add(entry)
            else:
                add(field)
        for message in getattr(form, "form_errors", None) or []:
            found.append({"id": "", "label": "", "message": str(message)})

    def add(field) -> None:
        errors = field.errors if isinstance(field.errors, list | tuple) else []
        hidden = field.type in ("HiddenField", "CSRFTokenField")
        if hidden:  # a token the page carries (CSRF, idempotency): the page is stale
            if errors and not any(e["message"] == str(STALE_PAGE) for e in found):
                found.append({"id": "", "label": "", "message": str(STALE_PAGE)})
            return
        target = field.id
        if field.type in ("RadioField", "MultiCheckboxField"):
            target = f"{field.id}-0"
        for message in errors:
            if isinstance(message, list | tuple):  # a list of lists from a nested field
                found.extend(
                    {"id": "", "label": str(field.label.text), "message": str(m)} for m in message
                )
                continue
            found.append({"id": target, "label": str(field.label.text), "message": str(message)})

    for form in forms:
        if form is not None:
            walk(form)
    return found


def url_for_page(page: int) -> str:
    """The current URL with its query string, at another page."""
    args = request.args.to_dict()
    args["page"] = page
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def init_templating(app: Flask) -> None:
    # after Flask-Babel's own: the same catalogue, looked up once per request instead of per string
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.jinja_env.globals.update(
        can=can,
        can_fire=can_fire,
        url_for_page=url_for_page,
        control=widgets.control,
        control_label=widgets.label,
        form_error_list=form_error_list,
    )
    app.jinja_env.filters.update(
        yuan=format_yuan,
        wan=format_wan,
        score=format_score,
        figure=format_figure,
        datetime=local_datetime,
        date=local_date,
        state_label=state_label,
        state_badge_colour=state_badge_filter,
        filesizeformat=file_size,
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def _shell_context():
        locale = get_locale()
        return {
            "html_lang": html_lang(locale),
            "current_locale": str(locale),
            "languages": current_app.config["LANGUAGES"],
            "unread_count": UnreadCount(current_user) if current_user.is_authenticated else 0,
        }


def precompile_templates(app: Flask) -> int:
    """Compile every template now, so that no visitor waits for it: the production entry point
    (wsgi.py) calls this as each gunicorn worker starts. Without it the first request of each
    page in each worker compiles its templates, a quarter of a second for the application
    form, during which the worker's other threads wait. Returns the number of templates."""
    names = app.jinja_env.list_templates()
    for name in names:
        app.jinja_env.get_template(name)
    return len(names)


unread_messages = Hook(
    "notifications.unread_count",
    "The number of unread messages of a user (the notifications domain).",
)


class UnreadCount:
    """The signed-in user's number of unread messages, counted when a template first shows it:
    the layout does, an htmx fragment (an autosave's answer) does not and costs no query."""

    def __init__(self, user):
        self._user = user
        self._value: int | None = None

    def __int__(self) -> int:
        if self._value is None:
            self._value = unread_messages.ask(self._user)
        return self._value

    def __bool__(self) -> bool:
        return int(self) != 0

    def __eq__(self, other) -> bool:
        return int(self) == other

    def __hash__(self) -> int:
        return hash(int(self))

    def __str__(self) -> str:
        return str(int(self))

    __html__ = __str__
