"""Scoring: the expert's draft and submission, reopening, closing an application's review,
and the call's review matrix, ranking and xlsx export.

An expert's review starts as a draft that the expert saves as often as they like: each
save writes the Score rows (the criterion's range copied onto each, so the database
CHECK keeps the value in range) and records one audit event listing what changed.
Submitting is the review workflow's ``submit`` event: :func:`guard_submit` refuses an
incomplete review and :func:`on_submit` computes the weighted total and stamps the time.
A submitted review is locked; only the bureau reopens it (``reopen``, with a reason that
the workflow engine writes into the audit event), and the expert is notified.

A review is *valid* when it is submitted and its assignment (for the proposal) is still
accepted; only valid reviews count in the aggregates, the ranking and for closing the
review of an application (``finish_review``, guarded by :func:`guard_finish_review`).
The arithmetic itself lives in :mod:`grants.review.aggregation`.

An acceptance assignment (``purpose='acceptance'``) is scored the same way against the
call's acceptance rubric (:func:`criteria_for`); its review is open while the project is
in acceptance review on the assignment's round (:func:`review_open`). Its recommendation
reuses the three stored codes with the acceptance meanings pass, rectify and fail
(:data:`ACCEPTANCE_RECOMMENDATIONS`).
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import joinedload, selectinload

from grants.applications.models import Application, ApplicationState
from grants.core import audit
from grants.core.refusals import OperationError
from grants.core.states import label_of
from grants.core.timeutil import utc_to_local
from grants.core.types import utcnow
from grants.core.workflow import transition
from grants.core.xlsx import cell as xlsx_cell
from grants.extensions import db
from grants.notifications.operations import notify
from grants.programmes.models import Call, RubricCriterion
from grants.review import aggregation
from grants.review.assignments import conflict_message, current_conflicts, review_open
from grants.review.models import (
    RECOMMENDATIONS,
    Assignment,
    AssignmentState,
    Expert,
    Review,
    ReviewState,
    Score,
)

COMMENT_MIN_LENGTH = 50
COMMENT_MAX_LENGTH = 10000
SCORE_PLACES = 2
#: Application states in which the review matrix shows an application.
MATRIX_STATES = (
    ApplicationState.UNDER_REVIEW,
    ApplicationState.REVIEWED,
    ApplicationState.APPROVED,
    ApplicationState.DECLINED,
    ApplicationState.CONTRACTED,
)


class ScoringError(OperationError):
    """A refused scoring operation; ``message`` is user-facing, ``field`` names the form field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def criterion_name(criterion: RubricCriterion) -> str:
    """The criterion's name in the user's language."""
    locale = str(get_locale() or "zh")
    return (
        criterion.name_zh if locale.startswith("zh") else (criterion.name_en or criterion.name_zh)
    )


#: The stored recommendation codes read for an acceptance review.
ACCEPTANCE_RECOMMENDATIONS = {
    "fund": _l("Pass"),
    "fund_with_changes": _l("Rectify first"),
    "do_not_fund": _l("Fail"),
}


def recommendations_for(purpose: str = "proposal") -> dict:
    """The recommendation codes and their labels for a review of ``purpose``."""
    return ACCEPTANCE_RECOMMENDATIONS if purpose == "acceptance" else RECOMMENDATIONS


def recommendation_label(code: str | None, purpose: str = "proposal") -> str:
    labels = recommendations_for(purpose)
    return str(labels[code]) if code in labels else ""


def criteria_for(assignment: Assignment) -> list[RubricCriterion]:
    """The rubric that scores the assignment: the call's acceptance criteria for an acceptance review."""
    call = assignment.application.call
    return list(call.acceptance_criteria if assignment.purpose == "acceptance" else call.criteria)


def closed_message(assignment: Assignment) -> str:
    if assignment.purpose == "acceptance":
        return _("The acceptance review of this project is closed.")
    return _("The review of this application is closed.")


def score_field_name(criterion_id: int) -> str:
    """The form field that carries the score of a criterion."""
    return f"score_{criterion_id}"


# --- the expert's draft and submission -------------------------------------------------------


def plain_number(value: Decimal | None) -> str | None:
    """A Decimal without needless zeros (``8.50`` → ``8.5``, ``10.00`` → ``10``); None stays None."""
    return None if value is None else format(value.normalize(), "f")


def save_draft(
    assignment: Assignment,
    actor,
    *,
    scores: dict[int, Decimal | None],
    comment: str,
    recommendation: str | None,
) -> Review:
    """Create or update the expert's draft review and its scores; audit what changed.

    ``scores`` maps criterion ids to a score or None (not scored yet); criteria of other
    calls are ignored. Each Score row gets its criterion's range copied. Raises
    :class:`ScoringError` when the review is submitted (locked), the application's
    review is closed, or a score lies outside its range. Flushes, never commits.
    """
    review = assignment.review
    if review is not None and review.state != "draft":
        raise ScoringError(_("This review has been submitted and is locked."))
    if not review_open(assignment):
        raise ScoringError(closed_message(assignment))
    conflict = _conflict_problem(assignment)
    if conflict:
        raise ScoringError(conflict)
    if recommendation and recommendation not in RECOMMENDATIONS:
        raise ScoringError(_("Choose one of the recommendations offered."), "recommendation")
    if review is None:
        review = Review(assignment=assignment, state="draft", comment="")
        db.session.add(review)
    before: dict = {}
    after: dict = {}
    existing = {s.criterion_id: s for s in review.scores}
    for criterion in criteria_for(assignment):
        value = scores.get(criterion.id)
        if value is not None and not criterion.min_score <= value <= criterion.max_score:
            raise ScoringError(
                _(
                    "Give a score from %(min)s to %(max)s.",
                    min=plain_number(criterion.min_score),
                    max=plain_number(criterion.max_score),
                ),
                score_field_name(criterion.id),
            )
        old = existing.get(criterion.id)
        old_value = old.value if old is not None else None
        if old_value == value:
            continue
        if value is None:
            review.scores.remove(old)
        elif old is None:
            review.scores.append(
                Score(
                    criterion_id=criterion.id,
                    value=value,
                    min_score=criterion.min_score,
                    max_score=criterion.max_score,
                )
            )
        else:
            old.value, old.min_score, old.max_score = (
                value,
                criterion.min_score,
                criterion.max_score,
            )
        before.setdefault("scores", {})[str(criterion.id)] = plain_number(old_value)
        after.setdefault("scores", {})[str(criterion.id)] = plain_number(value)
    comment = (comment or "").strip()
    if comment != (review.comment or ""):
        before["comment_length"], after["comment_length"] = len(review.comment or ""), len(comment)
        review.comment = comment
    recommendation = recommendation or None
    if recommendation != review.recommendation:
        before["recommendation"], after["recommendation"] = review.recommendation, recommendation
        review.recommendation = recommendation
    if after:
        review.updated_at = utcnow()  # bumps the version even when only scores changed
    db.session.flush()
    if after:
        audit.record("review.save_draft", review, actor=actor, before=before, after=after)
        db.session.flush()
    return review


def _conflict_problem(assignment: Assignment) -> str | None:
    """Why a conflict of interest found now forbids the expert to score, or None."""
    return conflict_message(current_conflicts(assignment))


def submission_problems(review: Review) -> list[str]:
    """What keeps a review from being submitted (empty when it is complete)."""
    problems = []
    assignment = review.assignment
    if assignment.state != "accepted" or assignment.no_conflict_declared_at is None:
        problems.append(
            _("Accept the invitation and declare that you have no conflict of interest first.")
        )
    if not review_open(assignment):
        problems.append(closed_message(assignment))
    conflict = _conflict_problem(assignment)
    if conflict:
        problems.append(conflict)
    scores = {s.criterion_id: s.value for s in review.scores}
    criteria = criteria_for(assignment)
    if not criteria:
        problems.append(
            _("The call has no scoring criteria: ask the bureau to complete its rubric.")
        )
    for criterion in criteria:
        value = scores.get(criterion.id)
        if value is None:
            problems.append(_("Score “%(criterion)s”.", criterion=criterion_name(criterion)))
        elif not criterion.min_score <= value <= criterion.max_score:
            problems.append(
                _(
                    "The score of “%(criterion)s” must lie from %(min)s to %(max)s.",
                    criterion=criterion_name(criterion),
                    min=plain_number(criterion.min_score),
                    max=plain_number(criterion.max_score),
                )
            )
    if review.recommendation not in RECOMMENDATIONS:
        problems.append(_("Choose an overall recommendation."))
    if len((review.comment or "").strip()) < COMMENT_MIN_LENGTH:
        problems.append(_("Write a comment of at least %(n)d characters.", n=COMMENT_MIN_LENGTH))
    return problems


def submit_review(review: Review, actor) -> Review:
    """Fire ``submit``: the guard checks completeness, the effect computes the total."""
    transition(review, "submit", actor)
    return review


def guard_submit(review: Review, actor, data: dict) -> str | None:
    """Workflow guard of ``submit``: every criterion scored in range, a recommendation, a comment."""
    problems = submission_problems(review)
    return " ".join(problems) if problems else None


def on_submit(review: Review, actor, data: dict) -> None:
    """Workflow effect of ``submit``: the weighted total and the submission time."""
    scores = {s.criterion_id: s.value for s in review.scores}
    review.total = aggregation.weighted_total(scores, criteria_for(review.assignment))
    review.submitted_at = utcnow()


def reopen_review(review: Review, actor, reason: str) -> Review:
    """Fire ``reopen`` (bureau only) with the reason, while the application is still under review."""
    if not review_open(review.assignment):
        raise ScoringError(
            _("The review of this application is closed: its reviews can no longer be reopened.")
        )
    transition(review, "reopen", actor, reason=(reason or "").strip())
    return review


def on_reopen(review: Review, actor, data: dict) -> None:
    """Workflow effect of ``reopen``: the review is a draft again, without total or submission time."""
    review.total = None
    review.submitted_at = None


def notify_reopened(review: Review, actor, data: dict) -> None:
    """Tell the expert that the bureau reopened their review, and why."""
    assignment = review.assignment
    user = assignment.expert.user
    if user is None:
        return
    notify(
        [user],
        "review.reopened",
        _l("Your review of “%(title)s” was reopened"),
        _l(
            "The bureau has reopened your review of “%(title)s” so that you can revise it. "
            "Reason: %(reason)s"
        ),
        link=url_for("review.expert_review", assignment_id=assignment.id),
        params={"title": assignment.application.title, "reason": data.get("reason", "")},
    )


# --- closing an application's review ---------------------------------------------------------


def _valid_reviews():
    return (
        sa.select(Review)
        .join(Review.assignment)
        .where(
            Review.state == "submitted",
            Assignment.state == "accepted",
            Assignment.purpose == "proposal",
        )
    )


def valid_review_count(application: Application) -> int:
    """How many valid (submitted, assignment still accepted) reviews the application has."""
    stmt = _valid_reviews().where(Assignment.application_id == application.id)
    return db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0


def guard_finish_review(application: Application, actor, data: dict) -> str | None:
    """Workflow guard of ``finish_review``: at least the call's number of valid reviews."""
    have = valid_review_count(application)
    need = application.call.reviewers_per_application
    if have >= need:
        return None
    missing = need - have
    return ngettext(
        "%(num)d more submitted review is needed before the review can close "
        "(%(have)d of %(need)d).",
        "%(num)d more submitted reviews are needed before the review can close "
        "(%(have)d of %(need)d).",
        missing,
        have=have,
        need=need,
    )


def finish_review(application: Application, actor) -> Application:
    """Fire ``finish_review``: the application leaves expert review."""
    transition(application, "finish_review", actor)
    return application


# --- the call's review matrix ---------------------------------------------------------------


def disagreement_thresholds() -> dict[str, Decimal]:
    """The disagreement thresholds: settings REVIEW_DISAGREEMENT_STDEV / _SPREAD, else the defaults."""
    config = current_app.config
    return {
        "stdev_threshold": Decimal(
            str(config.get("REVIEW_DISAGREEMENT_STDEV", aggregation.DISAGREEMENT_STDEV))
        ),
        "spread_threshold": Decimal(
            str(config.get("REVIEW_DISAGREEMENT_SPREAD", aggregation.DISAGREEMENT_SPREAD))
        ),
    }


def calibration_min_reviews() -> int:
    return int(
        current_app.config.get(
            "REVIEW_CALIBRATION_MIN_REVIEWS", aggregation.CALIBRATION_MIN_REVIEWS
        )
    )


@dataclass
class Cell:
    """One expert's part in one application's review."""

    assignment: Assignment
    z: Decimal | None = None

    @property
    def review(self) -> Review | None:
        return self.assignment.review

    @property
    def valid(self) -> bool:
        review = self.review
        return (
            review is not None
            and review.state == "submitted"
            and self.assignment.state == "accepted"
        )

    @property
    def total(self) -> Decimal | None:
        return self.review.total if self.valid else None

    @property
    def status(self) -> str:
        """invited, accepted (not started), draft, submitted, declined or withdrawn."""
        if self.assignment.state != "accepted":
            return self.assignment.state
        return self.review.state if self.review is not None else "accepted"


NOT_STARTED = _l("Not started")


def status_label(status: str) -> str:
    """A matrix cell's status in words: the review's state, or the assignment's before a review exists."""
    if ReviewState.known(status):
        return label_of(ReviewState, status)
    if status == AssignmentState.ACCEPTED:
        return str(NOT_STARTED)
    return label_of(AssignmentState, status)


COUNTED_STATUSES = ("invited", "accepted", "draft", "submitted", "declined")


@dataclass
class MatrixRow:
    """One application in the matrix: its cells by expert id, statistics and rank."""

    application: Application
    cells: dict[int, Cell]
    stats: aggregation.ReviewStats
    rank: int | None = None
    tied: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    needed: int = 0

    @property
    def missing(self) -> int:
        """Valid reviews still needed before the review can close."""
        return max(0, self.needed - self.stats.count)


@dataclass
class ReviewMatrix:
    """A call's whole review: experts as columns, applications as rows (in rank order)."""

    call: Call
    experts: list[Expert]
    rows: list[MatrixRow]
    calibration_min: int

    @property
    def reviews(self) -> list[tuple[MatrixRow, Expert, Cell]]:
        """Every valid (submitted) review, row by row, expert by expert."""
        found = []
        for row in self.rows:
            for expert in self.experts:
                cell = row.cells.get(expert.id)
                if cell is not None and cell.valid:
                    found.append((row, expert, cell))
        return found


def _expert_z_scores(expert_ids: list[int], min_reviews: int) -> dict[int, Decimal]:
    """Review id → z-score, for every valid review of the given experts, across all calls."""
    if not expert_ids:
        return {}
    rows = db.session.execute(
        _valid_reviews()
        .with_only_columns(Review.id, Assignment.expert_id, Review.total)
        .where(Assignment.expert_id.in_(expert_ids), Review.total.is_not(None))
    ).all()
    by_expert: dict[int, dict[int, Decimal]] = defaultdict(dict)
    for review_id, expert_id, total in rows:
        by_expert[expert_id][review_id] = total
    found: dict[int, Decimal] = {}
    for totals in by_expert.values():
        found.update(aggregation.z_scores(totals, min_reviews))
    return found


def review_matrix(call: Call) -> ReviewMatrix:
    """The call's review matrix, its per-application statistics and ranking (rank order)."""
    applications = db.session.scalars(
        sa.select(Application)
        .where(Application.call_id == call.id, Application.state.in_(MATRIX_STATES))
        .options(joinedload(Application.organisation), joinedload(Application.cluster))
        .order_by(Application.reference_no, Application.id)
    ).all()
    assignments = db.session.scalars(
        sa.select(Assignment)
        .join(Assignment.application)
        .where(
            Application.call_id == call.id,
            Application.state.in_(MATRIX_STATES),
            Assignment.purpose == "proposal",
        )
        .options(
            joinedload(Assignment.expert),
            selectinload(Assignment.review).selectinload(Review.scores),
        )
        .order_by(Assignment.id)
    ).all()
    experts: dict[int, Expert] = {}
    for a in assignments:
        if a.state in ("invited", "accepted") or a.review is not None:
            experts.setdefault(a.expert_id, a.expert)
    columns = sorted(experts.values(), key=lambda e: (e.name, e.id))
    min_reviews = calibration_min_reviews()
    z = _expert_z_scores(list(experts), min_reviews)
    by_application: dict[int, dict[int, Cell]] = defaultdict(dict)
    for a in assignments:
        review = a.review
        by_application[a.application_id][a.expert_id] = Cell(
            a, z.get(review.id) if review is not None else None
        )
    thresholds = disagreement_thresholds()
    rows = []
    for application in applications:
        cells = by_application.get(application.id, {})
        totals = [c.total for c in cells.values() if c.valid and c.total is not None]
        counts = dict.fromkeys(COUNTED_STATUSES, 0)
        for cell in cells.values():
            if cell.status in counts:
                counts[cell.status] += 1
        rows.append(
            MatrixRow(
                application,
                cells,
                aggregation.review_stats(totals, call.trimmed_mean_min_reviews, **thresholds),
                counts=counts,
                needed=call.reviewers_per_application,
            )
        )
    by_id = {row.application.id: row for row in rows}
    ordered = []
    for ranked in aggregation.rank((row.application.id, row.stats.score) for row in rows):
        row = by_id[ranked.key]
        row.rank, row.tied = ranked.rank, ranked.tied
        ordered.append(row)
    return ReviewMatrix(call, columns, ordered, min_reviews)


def calls_ready_to_close() -> list[dict]:
    """Calls with applications under review, and how many of those have enough valid reviews."""
    valid = (
        sa.select(Assignment.application_id, sa.func.count(Review.id).label("n"))
        .join(Review, Review.assignment_id == Assignment.id)
        .where(
            Review.state == "submitted",
            Assignment.state == "accepted",
            Assignment.purpose == "proposal",
        )
        .group_by(Assignment.application_id)
        .subquery()
    )
    submitted = sa.func.coalesce(valid.c.n, 0)
    ready = sa.func.sum(sa.case((submitted >= Call.reviewers_per_application, 1), else_=0))
    rows = db.session.execute(
        sa.select(Call, sa.func.count(Application.id), ready)
        .join(Application, Application.call_id == Call.id)
        .outerjoin(valid, valid.c.application_id == Application.id)
        .where(Application.state == "under_review")
        .group_by(Call.id)
        .order_by(Call.year.desc(), Call.id.desc())
    ).all()
    return [
        {"call": call, "under_review": total, "ready": int(ready or 0)}
        for call, total, ready in rows
    ]


# --- the xlsx export ------------------------------------------------------------------------

TOTAL_FORMAT = "0.0"  # scores are read to one decimal; the cell keeps the exact value
Z_FORMAT = "+0.0;-0.0;0.0"
SCORE_FORMAT = "0.0"


def _sheet(workbook, title: str, headers: list, widths: list[float]):
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append([xlsx_cell(str(h)) for h in headers])
    for number, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = width
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DCE6F1")
    return sheet


def _formatted(sheet, row: int, formats: dict[int, str]) -> None:
    for column, fmt in formats.items():
        cell = sheet.cell(row=row, column=column)
        if fmt == "wrap":
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        elif isinstance(cell.value, Decimal | int | float):
            cell.number_format = fmt


def matrix_workbook(matrix: ReviewMatrix) -> bytes:
    """The matrix, every valid review (scores, comment, recommendation) and the ranking as xlsx.

    Totals are written as exact Decimals with a 4-decimal number format; headers are in
    the current language; each sheet's header row (and the matrix's first columns) is frozen.
    """
    workbook = Workbook()
    workbook.remove(workbook.active)
    experts = matrix.experts
    criteria = list(matrix.call.criteria)

    stats_headers = [
        _l("Valid reviews"),
        _l("Mean"),
        _l("Trimmed mean"),
        _l("Median"),
        _l("Standard deviation"),
        _l("Disagreement"),
    ]
    head = [_l("Rank"), _l("Reference number"), _l("Title"), _l("Organisation")]
    sheet = _sheet(
        workbook,
        str(_l("Matrix")),
        head + [e.name for e in experts] + stats_headers,
        [8, 18, 40, 32] + [12] * len(experts) + [12, 12, 14, 12, 14, 14],
    )
    first_stat = len(head) + len(experts) + 1
    for number, row in enumerate(matrix.rows, start=2):
        s = row.stats
        values = [
            row.rank,
            row.application.reference_no,
            row.application.title,
            row.application.organisation.name,
        ]
        values += [row.cells[e.id].total if e.id in row.cells else None for e in experts]
        values += [
            s.count,
            s.mean,
            s.trimmed_mean,
            s.median,
            s.stdev,
            str(_l("Yes")) if s.disagreement else "",
        ]
        sheet.append([xlsx_cell(v) for v in values])
        formats = {3: "wrap", 4: "wrap"}
        formats.update({len(head) + i: TOTAL_FORMAT for i in range(1, len(experts) + 1)})
        formats.update({first_stat + i: TOTAL_FORMAT for i in range(1, 5)})
        _formatted(sheet, number, formats)
    sheet.freeze_panes = "E2"

    review_head = [
        _l("Reference number"),
        _l("Title"),
        _l("Expert"),
        _l("Submitted (Beijing time)"),
    ]
    criterion_headers = [
        f"{criterion_name(c)} ({plain_number(c.min_score)}–{plain_number(c.max_score)})"
        for c in criteria
    ]
    tail = [_l("Total"), _l("z-score"), _l("Recommendation"), _l("Comment")]
    sheet = _sheet(
        workbook,
        str(_l("Reviews")),
        review_head + criterion_headers + tail,
        [18, 36, 14, 18] + [12] * len(criteria) + [12, 10, 16, 80],
    )
    base = len(review_head)
    formats = {
        2: "wrap",
        base + len(criteria) + 4: "wrap",
        base + len(criteria) + 1: TOTAL_FORMAT,
        base + len(criteria) + 2: Z_FORMAT,
    }
    formats.update({base + i: SCORE_FORMAT for i in range(1, len(criteria) + 1)})
    for number, (row, expert, cell) in enumerate(matrix.reviews, start=2):
        review = cell.review
        scores = {s.criterion_id: s.value for s in review.scores}
        submitted = (
            utc_to_local(review.submitted_at).replace(tzinfo=None, microsecond=0)
            if review.submitted_at
            else None
        )
        sheet.append(
            [
                xlsx_cell(v)
                for v in [
                    row.application.reference_no,
                    row.application.title,
                    expert.name,
                    submitted,
                ]
                + [scores.get(c.id) for c in criteria]
                + [cell.total, cell.z, recommendation_label(review.recommendation), review.comment]
            ]
        )
        _formatted(sheet, number, formats)
        if submitted is not None:
            sheet.cell(row=number, column=base).number_format = "yyyy-mm-dd hh:mm"
    sheet.freeze_panes = "C2"

    sheet = _sheet(
        workbook,
        str(_l("Ranking")),
        [
            _l("Rank"),
            _l("Tied"),
            _l("Reference number"),
            _l("Title"),
            _l("Organisation"),
            _l("Score"),
            _l("Basis"),
            _l("Valid reviews"),
            _l("Application state"),
        ],
        [8, 8, 18, 40, 32, 12, 14, 12, 16],
    )
    for number, row in enumerate(matrix.rows, start=2):
        basis = _l("Trimmed mean") if row.stats.trimmed else _l("Mean")
        sheet.append(
            [
                xlsx_cell(v)
                for v in [
                    row.rank,
                    str(_l("Yes")) if row.tied else "",
                    row.application.reference_no,
                    row.application.title,
                    row.application.organisation.name,
                    row.stats.score,
                    str(basis) if row.stats.score is not None else "",
                    row.stats.count,
                    row.application.state_label,
                ]
            ]
        )
        _formatted(sheet, number, {4: "wrap", 5: "wrap", 6: TOTAL_FORMAT})
    sheet.freeze_panes = "A2"

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
