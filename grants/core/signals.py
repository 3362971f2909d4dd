"""Domain events between packages (blinker signals): a lower layer emits, a higher one connects.

``account.organisation_joined`` and ``account.organisation_left`` are sent with the user
as sender and ``organisation_id``, ``actor`` and ``via`` (``invitation``, ``admin`` or
``registration``) whenever an account's organisation changes; the review domain connects
to them to keep conflicts of interest current (grants/review/membership.py).
"""

from blinker import Namespace

_signals = Namespace()

organisation_joined = _signals.signal("account.organisation_joined")
organisation_left = _signals.signal("account.organisation_left")


def organisation_changed(user, before: int | None, after: int | None, *, actor, via: str) -> None:
    """Send ``organisation_left`` for ``before`` and ``organisation_joined`` for ``after`` when they differ."""
    if before == after:
        return
    if before is not None:
        organisation_left.send(user, organisation_id=before, actor=actor, via=via)
    if after is not None:
        organisation_joined.send(user, organisation_id=after, actor=actor, via=via)
