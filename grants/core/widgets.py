"""Form controls rendered without WTForms' per-attribute ``Markup.format``.

The application form of a deadline day has about ninety controls; WTForms builds each
attribute of each control with ``Markup('{k}="{v}"').format(...)``, which made up a
quarter of the page's CPU time. ``control(field, **attrs)`` renders the plain widgets
(text, number, date … inputs, text areas and selects) itself and hands every other widget to
WTForms. ``label(field, **attrs)`` does the same for labels. The output is the same,
byte for byte, as ``field(**attrs)`` and ``field.label(**attrs)``: tests/core/test_widgets.py
compares the two for every field of every form.
"""

from __future__ import annotations

from markupsafe import Markup, escape
from wtforms.meta import DefaultMeta
from wtforms.widgets.core import Input, NumberInput, Select, TextArea, _DateTimeBaseInput, clean_key


def html_params(attrs: dict) -> str:
    """WTForms' ``html_params``: sorted by name, ``True`` bare, ``False`` left out, values escaped."""
    parts = []
    for key in sorted(attrs):
        value = attrs[key]
        if value is True:
            parts.append(clean_key(key))
        elif value is not False:
            # escape() turns " into &#34; except in Markup, where WTForms writes &quot;
            parts.append(f'{clean_key(key)}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    return " ".join(parts)


def _validation_attrs(widget, field, attrs: dict) -> None:
    """The flags the widget turns into attributes (required, maxlength, min …), as WTForms does."""
    flags = getattr(field, "flags", None)
    set_flags = vars(flags) if flags is not None else {}
    for key in widget.validation_attrs:
        if key in set_flags and key not in attrs:
            value = set_flags[key]
            attrs[key] = value() if callable(value) else value


def _input(widget, field, attrs: dict) -> Markup:
    attrs.setdefault("id", field.id)
    attrs.setdefault("type", widget.input_type)
    if "value" not in attrs:
        attrs["value"] = field._value()
    datalist = getattr(field, "_datalist", None)
    if datalist is not None and "list" not in attrs:
        attrs["list"] = datalist if isinstance(datalist, str) else datalist.id
    _validation_attrs(widget, field, attrs)
    attrs["name"] = field.name
    return Markup(f"<input {html_params(attrs)}>")


def _number(widget, field, attrs: dict) -> Markup:
    for key in ("step", "min", "max"):
        if getattr(widget, key) is not None:
            attrs.setdefault(key, getattr(widget, key))
    return _input(widget, field, attrs)


def _date(widget, field, attrs: dict) -> Markup:
    fmt = getattr(field, "format", None)
    if fmt is not None:
        fmt = fmt[0] if isinstance(fmt, list) else fmt
        flags = getattr(field, "flags", {})
        for key in ("min", "max"):
            value = attrs.get(key, getattr(flags, key, None))
            if callable(value):
                value = value()
            if hasattr(value, "strftime"):
                attrs[key] = value.strftime(fmt)
    return _input(widget, field, attrs)


def _textarea(widget, field, attrs: dict) -> Markup:
    attrs.setdefault("id", field.id)
    _validation_attrs(widget, field, attrs)
    attrs["name"] = field.name
    return Markup(f"<textarea {html_params(attrs)}>\r\n{escape(field._value())}</textarea>")


def _option(choice) -> str:
    value = choice.value
    attrs = {"value": str(value) if isinstance(value, bool) else value, **(choice.render_kw or {})}
    if choice.selected:
        attrs["selected"] = True
    return f"<option {html_params(attrs)}>{escape(choice.label or choice.value)}</option>"


def _select(widget, field, attrs: dict) -> Markup:
    attrs.setdefault("id", field.id)
    if widget.multiple:
        attrs["multiple"] = True
    _validation_attrs(widget, field, attrs)
    attrs["name"] = field.name
    html = [f"<select {html_params(attrs)}>"]
    if field.has_groups():
        for group, choices in field._iter_groups_normalized():
            if group is not None:
                html.append(f"<optgroup {html_params({'label': group})}>")
            html.extend(_option(choice) for choice in choices)
            if group is not None:
                html.append("</optgroup>")
    else:
        html.extend(_option(choice) for choice in field._iter_choices_normalized())
    html.append("</select>")
    return Markup("".join(html))


_STOCK_OPTION = Select.render_option.__func__
# the stock widget code each renderer reproduces; a widget with any other __call__ goes to WTForms
_RENDERERS = {
    Input.__call__: _input,
    NumberInput.__call__: _number,
    _DateTimeBaseInput.__call__: _date,
    TextArea.__call__: _textarea,
    Select.__call__: _select,
}


def control(field, **attrs) -> Markup:
    """``field(**attrs)``: the same markup, drawn here for the stock inputs, text areas and selects."""
    renderer = _RENDERERS.get(type(field.widget).__call__)
    if (
        renderer is None
        or type(field.meta).render_field is not DefaultMeta.render_field
        or (renderer is _select and type(field.widget).render_option.__func__ is not _STOCK_OPTION)
    ):
        return field(**attrs)
    attrs = {clean_key(k): v for k, v in attrs.items()}
    if field.render_kw is not None:
        attrs = {**{clean_key(k): v for k, v in field.render_kw.items()}, **attrs}
    return renderer(field.widget, field, attrs)


def label(field, **attrs) -> Markup:
    """``field.label(**attrs)``: the same markup."""
    if "for_" in attrs:
        attrs["for"] = attrs.pop("for_")
    else:
        attrs.setdefault("for", field.label.field_id)
    params = html_params(attrs)
    return Markup(f"<label{' ' + params if params else ''}>{escape(field.label.text)}</label>")
