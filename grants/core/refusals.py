"""The one family of errors by which an operation refuses what it was asked to do.

Every domain error class (``OrganisationError``, ``ScoringError``, the workflow engine's
``WorkflowError`` …) derives from :class:`OperationError`, so the action wrapper in
:mod:`grants.core.actions` catches one family: it rolls back and shows ``message`` beside
the form field named by ``field`` (or as a flash message).
"""

from __future__ import annotations


class OperationError(Exception):
    """An operation refused its input; ``message`` is user-facing (already translated)."""

    field: str | None = None

    def __init__(self, message="", field: str | None = None):
        super().__init__(str(message))
        self.message = str(message)
        if field is not None:
            self.field = field
