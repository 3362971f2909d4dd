"""``control()`` and ``control_label()`` draw exactly what WTForms draws, for every field of every form."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import date

import pytest
import wtforms
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

import grants
from grants.core import widgets

# attributes the templates pass, and the awkward cases: quotes, markup, booleans, data-/aria- names
ATTRS = [
    {},
    {
        "class_": "form-control is-invalid",
        "aria_describedby": "x-help x-error",
        "aria-invalid": "true",
    },
    {
        "class_": 'a"b<c>&',
        "placeholder": Markup('say "hi" <b>'),
        "data_storage_key": "k",
        "rows": 4,
    },
    {"type": "number", "required": True, "disabled": False, "readonly": True, "value": "<v>"},
    {
        "type": "date",
        "id": "other-id",
        "min": date(2026, 1, 1),
        "max": "2027-12-31",
        "for_": "ignored",
    },
    {"multiple": True, "size": 3, "autocomplete": "off", "inputmode": "decimal"},
]
AWKWARD = ['"<b>Tom & Jerry\'s</b>"', "2026-13-45", "12.5", "", "中药提取 ' \" & <", "y"]


def form_classes() -> list[type]:
    for info in pkgutil.walk_packages(grants.__path__, "grants."):
        importlib.import_module(info.name)
    found, todo = [], [wtforms.Form]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("grants."):
            found.append(cls)
    return found


def leaf_fields(form):
    for field in form:
        if isinstance(field, wtforms.FormField):
            yield from leaf_fields(field.form)
        elif isinstance(field, wtforms.FieldList):
            for entry in field:
                yield from (
                    leaf_fields(entry.form) if isinstance(entry, wtforms.FormField) else [entry]
                )
        else:
            yield field


def instances(cls, value: str):
    """The form empty with two rows in every list, and posted with ``value`` in every field."""
    form = cls(formdata=None, meta={"csrf": False})
    for field in form:
        if isinstance(field, wtforms.FieldList):
            while len(field.entries) < 2 and (
                field.max_entries is None or len(field.entries) < field.max_entries
            ):
                field.append_entry()
    yield form
    yield cls(
        formdata=MultiDict([(leaf.name, value) for leaf in leaf_fields(form)]), meta={"csrf": False}
    )


def test_control_draws_what_wtforms_draws(app):
    kinds: set[str] = set()
    compared = 0
    classes = form_classes()
    tried = []
    with app.test_request_context("/"):
        for cls in classes:
            for value in AWKWARD:
                try:
                    forms = list(instances(cls, value))
                except TypeError:  # a form that needs constructor arguments: built by its view
                    break
                tried.append(cls)
                for form in forms:
                    for field in leaf_fields(form):
                        for attrs in ATTRS:
                            if field.type == "FileField" and "value" in attrs:
                                continue
                            assert str(widgets.control(field, **attrs)) == str(field(**attrs)), (
                                cls.__name__,
                                field.name,
                                attrs,
                            )
                            label_attrs = {k: v for k, v in attrs.items() if k != "value"}
                            assert str(widgets.label(field, **label_attrs)) == str(
                                field.label(**label_attrs)
                            ), (cls.__name__, field.name, attrs)
                            compared += 1
                        renderer = widgets._RENDERERS.get(type(field.widget).__call__)
                        if renderer is not None:
                            kinds.add(renderer.__name__)
    assert len(set(tried)) >= 60, "most forms build without arguments"
    assert kinds == {"_input", "_number", "_date", "_textarea", "_select"}, kinds
    assert compared > 10_000, compared


@pytest.mark.parametrize("attrs", ATTRS)
def test_a_custom_widget_is_left_to_wtforms(app, attrs):
    class Shouting(wtforms.widgets.TextInput):
        def __call__(self, field, **kwargs):
            return Markup(super().__call__(field, **kwargs).upper())

    class F(wtforms.Form):
        name = wtforms.StringField("Name", widget=Shouting())

    form = F(formdata=MultiDict({"name": "quiet"}))
    assert str(widgets.control(form.name, **attrs)) == str(form.name(**attrs))
    assert "QUIET" in str(widgets.control(form.name))
