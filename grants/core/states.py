"""The vocabulary of states: one enum per stateful entity, declared next to its model.

Each member is the string stored in the state column, with its label (a msgid with the
context ``"<entity> state"``, so that no msgid serves two meanings) and its badge colour (a
Bootstrap contextual name). The workflow engine reads the members in its transition tables
and records which transitions it allows, so a state set answers ``valid_next`` from the same
table. Templates show a state with ``value|state_label(set)`` or the ``state_badge`` macro of
``templates/macros/state.html``; exports and PDFs call :func:`label_of`.

Declaring a state set::

    @state_set("call")
    class CallState(StateSet):
        DRAFT = "draft", lazy_pgettext("call state", "Draft"), "secondary"
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from flask_babel import LazyString

BADGE_COLOURS = frozenset(
    {"primary", "secondary", "success", "danger", "warning", "info", "light", "dark"}
)

STATE_SETS: dict[str, type[StateSet]] = {}


class StateSet(StrEnum):
    """The states of one entity; a member equals (and is stored as) its plain string value."""

    label: LazyString
    badge: str

    def __new__(cls, value: str, label: LazyString, badge: str = "secondary"):
        if badge not in BADGE_COLOURS:
            raise ValueError(f"{cls.__name__}.{value}: unknown badge colour {badge!r}")
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        member.badge = badge
        return member

    def __str__(self) -> str:
        return self._value_

    @classmethod
    def entity(cls) -> str:
        """The entity the set belongs to (the workflow name, e.g. ``"application"``)."""
        return cls.__dict__.get("_entity", cls.__name__)

    @classmethod
    def known(cls, value: Any) -> bool:
        """Whether ``value`` is the value of one of the states."""
        return value in cls._value2member_map_

    @classmethod
    def of(cls, value: Any) -> StateSet | None:
        """The member whose value is ``value``, or None."""
        return cls._value2member_map_.get(value)

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        """(value, translated label) pairs in declaration order, for filters and selects."""
        return [(m.value, str(m.label)) for m in cls]

    @classmethod
    def transitions(cls) -> frozenset[tuple[str, str]]:
        """The (source, target) pairs the workflow engine allows (empty if no workflow)."""
        return cls.__dict__.get("_transitions", frozenset())

    @property
    def valid_next(self) -> frozenset[StateSet]:
        """The states the workflow engine allows next from this one."""
        cls = type(self)
        return frozenset(cls(t) for s, t in cls.transitions() if s == self)


def state_set(entity: str):
    """Class decorator: register ``cls`` as the state set of ``entity``."""

    def register(cls: type[StateSet]) -> type[StateSet]:
        if entity in STATE_SETS and STATE_SETS[entity] is not cls:
            raise ValueError(f"two state sets for {entity!r}")
        cls._entity = entity
        STATE_SETS[entity] = cls
        return cls

    return register


def record_transitions(states: type[StateSet], pairs) -> None:
    """Called by the workflow engine: the (source, target) pairs its table allows."""
    states._transitions = frozenset((str(s), str(t)) for s, t in pairs)


def _resolve(entity_or_set) -> type[StateSet]:
    if isinstance(entity_or_set, str):
        return STATE_SETS[entity_or_set]
    if isinstance(entity_or_set, type) and issubclass(entity_or_set, StateSet):
        return entity_or_set
    raise TypeError(f"not a state set: {entity_or_set!r}")


def _value(obj_or_value) -> Any:
    if obj_or_value is None or isinstance(obj_or_value, str):
        return obj_or_value
    return obj_or_value.state


def label_of(entity_or_set, obj_or_value) -> str:
    """The translated label of a state (an object with ``.state`` or the value itself).

    An unknown value is shown as it is stored, ``None`` as an empty string.
    """
    value = _value(obj_or_value)
    if value is None:
        return ""
    member = _resolve(entity_or_set).of(value)
    return str(member.label) if member is not None else str(value)


def badge_of(entity_or_set, obj_or_value) -> str:
    """The Bootstrap contextual colour of a state's badge."""
    member = _resolve(entity_or_set).of(_value(obj_or_value))
    return member.badge if member is not None else "light"


def state_label_filter(obj_or_value, entity_or_set) -> str:
    """``{{ application.state|state_label('application') }}`` in templates."""
    return label_of(entity_or_set, obj_or_value)


def state_badge_filter(obj_or_value, entity_or_set) -> str:
    """``{{ value|state_badge_colour('application') }}``: the badge colour."""
    return badge_of(entity_or_set, obj_or_value)
