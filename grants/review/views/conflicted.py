"""What an expert sees when a conflict of interest is found on opening an assignment: the page
that keeps them out of the proposal, or the assignment withdrawn (used by the assignment and
the scoring views)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from grants.core.actions import action
from grants.review import assignments as ops
from grants.review.forms.assign import RecuseForm
from grants.review.models import Assignment


def render_conflicted(assignment: Assignment, conflicts, form=None, *, status: int = 403):
    """The page that keeps a conflicted expert out of the proposal and offers to withdraw (recuse)."""
    if form is None:
        form = RecuseForm(formdata=None, reason=ops.conflict_message(conflicts) or "")
    return render_template(
        "review/scoring/conflicted.html",
        assignment=assignment,
        form=form,
        message=ops.conflict_message(conflicts),
    ), status


def withdrawn_for_conflict(assignment: Assignment, conflicts):
    """Withdraw the signed-in expert's assignment for a conflict found now, tell them why, back to their queue."""
    message = ops.conflict_message(conflicts, withdrawn=True)
    with action() as done:
        ops.withdraw_for_conflict(assignment, conflicts, current_user)
    if done:
        flash(message, "warning")
    return redirect(url_for("review.my_reviews"))
