"""Verbs on assignments: suitability, automatic and manual assignment, replacements, and the
effects of the assignment workflow (accept, decline, withdraw).

Suitability of an expert for an application is an integer: ``CLUSTER_POINTS`` when the
expert's clusters include the application's cluster, plus ``KEYWORD_POINTS`` for each of
the expert's keywords found in the application's title or summary (a keyword matches
when it occurs as a substring, ignoring case: Chinese has no word boundaries), counting
at most ``MAX_KEYWORD_HITS`` hits. The automatic assignment hands these scores, the
forbidden pairs (conflicts of interest) and the pairs already held to the pure solver in
:mod:`grants.review.solver`, whose cost function weighs one point against one step of
load difference (``BALANCE``).

Only active experts with an account can be invited (they answer online). Loads and caps
count the proposal reviews of one call; an expert's own ``max_load`` lowers the cap of
a run. Every function flushes and leaves the commit to the request or job.

The same engine serves the acceptance panels of funded projects (``purpose='acceptance'``):
an acceptance assignment names the project's application and the acceptance round
(``Assignment.round``, the round of the project's final report). Conflicts of interest
are judged on the application exactly as for proposals; manual invitations, replacements
and the automatic suggestion (:func:`suggest_panel`) take the purpose and round, and the
loads of an acceptance suggestion count the open acceptance reviews of every project in
acceptance review. Whether assignments may still be made or answered is asked of
:func:`closed_problem`.
"""

from __future__ import annotations

import math
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy.orm import selectinload

from grants.accounts.models import User, UserRole
from grants.applications.models import Application
from grants.core import audit
from grants.core.refusals import OperationError
from grants.core.states import label_of
from grants.core.timeutil import utc_to_local
from grants.core.types import utcnow
from grants.core.workflow import transition
from grants.extensions import db
from grants.notifications.operations import notify
from grants.review import hooks, solver
from grants.review.conflicts import conflict_matrix as matrix
from grants.review.conflicts import conflicts_for
from grants.review.models import Assignment, AssignmentState, Expert

CLUSTER_POINTS = 20
KEYWORD_POINTS = 5
MAX_KEYWORD_HITS = 4
BALANCE = 1
OPEN_STATES = (AssignmentState.INVITED, AssignmentState.ACCEPTED)
PURPOSE = "proposal"
ACCEPTANCE = "acceptance"
ACCEPTANCE_CAP = 5
CAP_SLACK = 2
DEFAULT_DUE_DAYS = 14
REPLACEMENT_MIN_DAYS = 7

SOURCE_LABELS = {
    "manual": _l("Manual"),
    "auto": _l("Automatic"),
    "replacement": _l("Replacement"),
}


class AssignmentError(OperationError):
    """A refused assignment operation; ``message`` is user-facing (already translated)."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = str(message)


class AutoAssignInfeasible(AssignmentError):
    """The constraints cannot give every application its experts; ``result`` says why."""

    def __init__(self, result: solver.Result):
        super().__init__(
            ngettext(
                "No assignment was made: %(num)d review cannot be placed under these constraints.",
                "No assignment was made: %(num)d reviews cannot be placed under these constraints.",
                result.missing,
            )
        )
        self.result = result


# --- who, what and how well -------------------------------------------------------------------


def keyword_hits(application: Application, expert: Expert) -> list[str]:
    """The expert's keywords found in the application's title or summary."""
    text = f"{application.title or ''}\n{application.summary or ''}".casefold()
    return [k for k in expert.keyword_list if k.casefold() in text]


def suitability(application: Application, expert: Expert) -> int:
    """How well ``expert`` suits ``application``: cluster match and keyword hits (see module doc)."""
    cluster_ids = {c.id for c in expert.clusters}
    return _score(
        application.cluster_id,
        _text_of(application),
        cluster_ids,
        [k.casefold() for k in expert.keyword_list],
    )


def _text_of(application: Application) -> str:
    return f"{application.title or ''}\n{application.summary or ''}".casefold()


def _score(cluster_id, text: str, expert_clusters: set[int], keywords: list[str]) -> int:
    points = CLUSTER_POINTS if cluster_id is not None and cluster_id in expert_clusters else 0
    hits = sum(1 for k in keywords if k in text)
    return points + KEYWORD_POINTS * min(hits, MAX_KEYWORD_HITS)


def suitability_matrix(applications, experts) -> dict[tuple[int, int], int]:
    """Suitability of every (application id, expert id) pair that scores above zero."""
    prepared = [
        (e.id, {c.id for c in e.clusters}, [k.casefold() for k in e.keyword_list]) for e in experts
    ]
    scores = {}
    for application in applications:
        text = _text_of(application)
        for expert_id, clusters, keywords in prepared:
            score = _score(application.cluster_id, text, clusters, keywords)
            if score:
                scores[(application.id, expert_id)] = score
    return scores


def conflict_matrix(applications, experts):
    """The conflicts of every pair, rulings applied (grants.review.conflicts)."""
    return matrix(applications, experts)


def forbidden_reasons(applications, experts) -> dict[tuple[int, int], list[str]]:
    """The pairs that may not be assigned, each with its reasons.

    After the bureau's rulings, any conflict left forbids the pair: a hard conflict, a
    soft flag ruled a block, or a soft flag nobody has ruled on yet.
    """
    applications, experts = list(applications), list(experts)
    if not applications or not experts:
        return {}
    return {
        pair: [str(c.reason) for c in conflicts]
        for pair, conflicts in conflict_matrix(applications, experts).items()
        if conflicts
    }


def invitable_experts() -> list[Expert]:
    """The pool that can be invited: active experts with an account."""
    return db.session.scalars(
        sa.select(Expert)
        .where(Expert.active.is_(True), Expert.user_id.is_not(None))
        .options(selectinload(Expert.clusters))
        .order_by(Expert.name, Expert.id)
    ).all()


def applications_under_review(call) -> list[Application]:
    """The call's applications in expert review, by reference number."""
    return db.session.scalars(
        sa.select(Application)
        .where(Application.call_id == call.id, Application.state == "under_review")
        .options(selectinload(Application.organisation))
        .order_by(Application.reference_no, Application.id)
    ).all()


def call_assignments(call) -> list[Assignment]:
    """Every proposal assignment of the call's applications."""
    return db.session.scalars(
        sa.select(Assignment)
        .join(Assignment.application)
        .where(Application.call_id == call.id, Assignment.purpose == PURPOSE)
        .options(selectinload(Assignment.expert), selectinload(Assignment.review))
        .order_by(Assignment.invited_at, Assignment.id)
    ).all()


def call_loads(call) -> Counter:
    """Open (invited or accepted) proposal reviews per expert id in the call."""
    rows = db.session.execute(
        sa.select(Assignment.expert_id, sa.func.count(Assignment.id))
        .join(Assignment.application)
        .where(
            Application.call_id == call.id,
            Assignment.purpose == PURPOSE,
            Assignment.state.in_(OPEN_STATES),
        )
        .group_by(Assignment.expert_id)
    ).all()
    return Counter(dict(rows))


def suggested_cap(call, applications: int | None = None, experts: int | None = None) -> int:
    """ceil(applications · k / experts) + a little slack: the smallest cap that can work, eased."""
    applications = len(applications_under_review(call)) if applications is None else applications
    experts = len(invitable_experts()) if experts is None else experts
    if not applications or not experts:
        return call.reviewers_per_application
    return math.ceil(applications * call.reviewers_per_application / experts) + CAP_SLACK


def expert_cap(expert: Expert, cap: int) -> int:
    """The run's cap, lowered by the expert's own maximum load when set."""
    return min(cap, expert.max_load) if expert.max_load is not None else cap


# --- automatic assignment ------------------------------------------------------------------------


@dataclass
class AutoAssignRun:
    """What one automatic assignment did."""

    result: solver.Result
    created: list[Assignment] = field(default_factory=list)
    kept: int = 0
    seed: int | None = None


def auto_assign(
    call, actor, *, cap: int, due_at: datetime, draw: bool = False, seed: int | None = None
) -> AutoAssignRun:
    """Give every application under review the call's number of experts, optimally.

    Open invitations and accepted assignments are kept and count towards k and the
    loads; pairs declined or withdrawn earlier are not invited again; conflicted pairs
    never. With ``draw`` the seed (drawn now when not given) makes the lot reproducible.
    Raises :class:`AutoAssignInfeasible` (nothing created) when the constraints cannot
    be met, and :class:`AssignmentError` when there is nothing to assign.
    """
    # Two runs at once would each count the loads without the other's invitations.
    db.session.execute(sa.select(type(call).id).where(type(call).id == call.id).with_for_update())
    applications = applications_under_review(call)
    if not applications:
        raise AssignmentError(_("No application of this call is under expert review."))
    experts = invitable_experts()
    if not experts:
        raise AssignmentError(_("The expert pool has no active expert with an account."))
    if cap < 1:
        raise AssignmentError(_("The cap must be at least 1."))
    if due_at <= utcnow():
        raise AssignmentError(_("The due date must lie in the future."))
    if draw and seed is None:
        seed = secrets.randbelow(1_000_000)
    k = call.reviewers_per_application
    existing = call_assignments(call)
    fixed = {(a.application_id, a.expert_id) for a in existing if a.state in OPEN_STATES}
    forbidden = set(forbidden_reasons(applications, experts))
    forbidden |= {(a.application_id, a.expert_id) for a in existing if a.state not in OPEN_STATES}
    caps = {e.id: expert_cap(e, cap) for e in experts}
    result = solver.solve(
        [a.id for a in applications],
        [e.id for e in experts],
        k,
        suitability_matrix(applications, experts),
        forbidden,
        caps,
        fixed=fixed,
        seed=seed,
        draw=draw,
        balance=BALANCE,
    )
    if not result.feasible:
        raise AutoAssignInfeasible(result)
    created = []
    for application_id, expert_id in result.pairs:
        assignment = Assignment(
            application_id=application_id,
            expert_id=expert_id,
            purpose=PURPOSE,
            state="invited",
            source="auto",
            due_at=due_at,
            invited_at=utcnow(),
            created_by_id=getattr(actor, "id", None),
        )
        db.session.add(assignment)
        created.append(assignment)
    db.session.flush()
    loads = [result.loads[e.id] for e in experts]
    audit.record(
        "assignment.auto_assign",
        call,
        actor=actor,
        after={
            "cap": cap,
            "due_at": due_at.isoformat(),
            "draw": draw,
            "seed": seed,
            "k": k,
            "applications": len(applications),
            "experts": len(experts),
            "kept": len(fixed),
            "created": len(created),
            "objective": result.objective,
            "suitability": result.suitability,
            "load_min": min(loads),
            "load_max": max(loads),
            "assignments": [[a.id, a.application_id, a.expert_id] for a in created],
        },
    )
    _notify_invited(call, created)
    return AutoAssignRun(result=result, created=created, kept=len(fixed), seed=seed)


def _notify_invited(call, created: list[Assignment]) -> None:
    """One message per expert, with the number of new invitations."""
    per_expert: dict[int, list[Assignment]] = defaultdict(list)
    for assignment in created:
        per_expert[assignment.expert_id].append(assignment)
    experts = {
        e.id: e
        for e in db.session.scalars(
            sa.select(Expert)
            .where(Expert.id.in_(list(per_expert)))
            .options(selectinload(Expert.user))
        )
    }
    link = url_for("review.my_reviews")
    for expert_id, items in per_expert.items():
        user = experts[expert_id].user
        if user is None:
            continue
        due = min(a.due_at for a in items)
        notify(
            [user],
            "assignment.invited",
            _l("New invitations to review (%(call)s): %(count)s"),
            _l(
                "The bureau invites you to review applications of %(call)s. New invitations: "
                "%(count)s. Please accept or decline each of them; the first reviews are due by "
                "%(due)s (Beijing time)."
            ),
            link=link,
            params={"count": len(items), "call": call.title, "due": _local(due)},
        )


def _local(value: datetime) -> str:
    return utc_to_local(value).strftime("%Y-%m-%d %H:%M")


# --- a panel for one application (acceptance panels) -----------------------------------------


@dataclass
class PanelSuggestion:
    """The experts the solver proposes for one application's panel, and how many it looked for."""

    experts: list[Expert]
    wanted: int
    have: int
    result: solver.Result | None = None
    seed: int | None = None

    @property
    def short(self) -> int:
        """How many of the wanted places the suggestion cannot fill."""
        return max(0, self.wanted - self.have - len(self.experts))


def suggest_panel(
    application: Application,
    *,
    size: int,
    purpose: str = ACCEPTANCE,
    round: int = 1,
    cap: int = ACCEPTANCE_CAP,
    draw: bool = False,
    seed: int | None = None,
) -> PanelSuggestion:
    """The best allowed experts to bring the application's panel (purpose, round) to ``size``.

    Runs the same min-cost flow as :func:`auto_assign` on one application: open
    invitations and accepted assignments of the panel are kept and count towards
    ``size``; experts who declined or were withdrawn from it, and conflicted experts, are
    left out; the loads are the open reviews of the same purpose (for acceptance, over all
    projects in acceptance review) under ``cap``, lowered by each expert's own maximum.
    When fewer allowed experts are left than wanted, the largest panel that can be made
    is suggested. Nothing is written.
    """
    if draw and seed is None:
        seed = secrets.randbelow(1_000_000)
    experts = invitable_experts()
    existing = db.session.scalars(
        sa.select(Assignment).where(
            Assignment.application_id == application.id,
            Assignment.purpose == purpose,
            Assignment.round == round,
        )
    ).all()
    have = sum(1 for a in existing if a.state in OPEN_STATES)
    if not experts or size - have <= 0:
        return PanelSuggestion([], size, have, seed=seed)
    fixed = {(application.id, a.expert_id) for a in existing if a.state in OPEN_STATES}
    forbidden = set(forbidden_reasons([application], experts))
    forbidden |= {(application.id, a.expert_id) for a in existing if a.state not in OPEN_STATES}
    own = {a.expert_id for a in existing if a.state in OPEN_STATES}
    elsewhere = {
        expert_id: count - (1 if expert_id in own else 0)
        for expert_id, count in loads_for(application, purpose).items()
    }
    caps = {e.id: expert_cap(e, cap) for e in experts}
    scores = suitability_matrix([application], experts)
    by_id = {e.id: e for e in experts}
    for wanted in range(size, have, -1):
        result = solver.solve(
            [application.id],
            [e.id for e in experts],
            wanted,
            scores,
            forbidden,
            caps,
            fixed=fixed,
            seed=seed,
            draw=draw,
            balance=BALANCE,
            base_load=elsewhere,
        )
        if result.feasible:
            chosen = [by_id[e] for _a, e in result.pairs]
            chosen.sort(key=lambda e: (-scores.get((application.id, e.id), 0), e.name, e.id))
            return PanelSuggestion(chosen, size, have, result, seed)
    return PanelSuggestion([], size, have, seed=seed)


def invite_panel(
    application: Application,
    actor,
    *,
    size: int,
    due_at: datetime,
    purpose: str = ACCEPTANCE,
    round: int = 1,
    draw: bool = False,
    seed: int | None = None,
) -> PanelSuggestion:
    """Invite the experts :func:`suggest_panel` proposes; raises :class:`AssignmentError` if none can be."""
    problem = closed_problem(application, purpose, round)
    if problem:
        raise AssignmentError(problem)
    if size < 1:
        raise AssignmentError(_("The panel needs at least one expert."))
    if due_at <= utcnow():
        raise AssignmentError(_("The due date must lie in the future."))
    suggestion = suggest_panel(
        application, size=size, purpose=purpose, round=round, draw=draw, seed=seed
    )
    if suggestion.have >= size:
        raise AssignmentError(
            _("The panel already has %(num)d experts invited or accepted.", num=suggestion.have)
        )
    if not suggestion.experts:
        raise AssignmentError(
            _(
                "No allowed expert is left to invite: add experts to the pool or rule on "
                "conflict flags."
            )
        )
    for expert in suggestion.experts:
        assign_manually(
            application, expert, actor, due_at, source="auto", purpose=purpose, round=round
        )
    audit.record(
        "assignment.panel_suggested",
        application,
        actor=actor,
        after={
            "purpose": purpose,
            "round": round,
            "size": size,
            "kept": suggestion.have,
            "draw": draw,
            "seed": suggestion.seed,
            "experts": [e.id for e in suggestion.experts],
        },
    )
    return suggestion


def explain(result: solver.Result, applications: dict[int, Application]) -> list[dict]:
    """The solver's shortages with their applications, for the bureau's page."""
    return [
        {"application": applications.get(s.application), "shortage": s} for s in result.shortages
    ]


# --- manual assignment and replacements -------------------------------------------------------


def _existing(
    application: Application, expert: Expert, purpose: str = PURPOSE, round: int = 1
) -> Assignment | None:
    return db.session.scalar(
        sa.select(Assignment).where(
            Assignment.application_id == application.id,
            Assignment.expert_id == expert.id,
            Assignment.purpose == purpose,
            Assignment.round == round,
        )
    )


def acceptance_project(application_id: int):
    """The project funded from the application (acceptance assignments name its application)."""
    return hooks.acceptance_project_of.ask(application_id)


def current_acceptance_round(application_id: int) -> int | None:
    """The round of the project's latest final report, while the project is in acceptance review."""
    project = acceptance_project(application_id)
    if project is None or project.state != "acceptance_review":
        return None
    return hooks.acceptance_round_of.ask(project)


def review_open(assignment: Assignment) -> bool:
    """Whether reviews of the assignment may still be written, submitted or reopened."""
    if assignment.purpose == "acceptance":
        return current_acceptance_round(assignment.application_id) == assignment.round
    return assignment.application.state == "under_review"


def closed_problem(application: Application, purpose: str = PURPOSE, round: int = 1) -> str | None:
    """Why no assignment of this purpose (and round) can be made or answered now, or None.

    A proposal review is open while the application is under review; an acceptance
    review while the project is in acceptance review on that round.
    """
    if purpose == ACCEPTANCE:
        if current_acceptance_round(application.id) != round:
            return _("This project is not in acceptance review (or this round of it is over).")
        return None
    if application.state != "under_review":
        return _("This application is no longer under review.")
    return None


def assign_manually(
    application: Application,
    expert: Expert,
    actor,
    due_at: datetime,
    *,
    source: str = "manual",
    replaces: Assignment | None = None,
    purpose: str = PURPOSE,
    round: int = 1,
) -> Assignment:
    """Invite ``expert`` to review ``application``; refuses conflicts, duplicates and closed reviews.

    With ``purpose='acceptance'`` the expert joins the acceptance panel of the project
    funded from the application, for acceptance ``round``.
    """
    if purpose == ACCEPTANCE:
        problem = closed_problem(application, purpose, round)
        if problem:
            raise AssignmentError(problem)
    elif application.state != "under_review":
        raise AssignmentError(
            _("Experts can be invited only while the application is under review.")
        )
    if not expert.active or expert.user_id is None:
        raise AssignmentError(
            _(
                "%(name)s cannot be invited: only active experts with an account can.",
                name=expert.name,
            )
        )
    if due_at <= utcnow():
        raise AssignmentError(_("The due date must lie in the future."))
    previous = _existing(application, expert, purpose, round)
    if previous is not None:
        if previous.state in OPEN_STATES:
            raise AssignmentError(
                _("%(name)s is already assigned to this application.", name=expert.name)
            )
        raise AssignmentError(
            _(
                "%(name)s was invited to this application before (%(state)s) and is "
                "not invited again.",
                name=expert.name,
                state=label_of(AssignmentState, previous.state),
            )
        )
    reasons = forbidden_reasons([application], [expert]).get((application.id, expert.id))
    if reasons:
        raise AssignmentError(
            _(
                "%(name)s may not review this application: %(reasons)s",
                name=expert.name,
                reasons="; ".join(reasons),
            )
        )
    assignment = Assignment(
        application_id=application.id,
        expert_id=expert.id,
        purpose=purpose,
        round=round,
        state="invited",
        source=source,
        due_at=due_at,
        invited_at=utcnow(),
        created_by_id=getattr(actor, "id", None),
        replaces_id=replaces.id if replaces is not None else None,
    )
    db.session.add(assignment)
    db.session.flush()
    audit.record(
        "assignment.invited",
        assignment,
        actor=actor,
        after={
            "application_id": application.id,
            "expert_id": expert.id,
            "source": source,
            "due_at": due_at.isoformat(),
            "replaces_id": assignment.replaces_id,
            "purpose": purpose,
            "round": round,
        },
    )
    if purpose == ACCEPTANCE:
        _notify_acceptance_invited(assignment, application, expert)
        return assignment
    notify(
        [expert.user],
        "assignment.invited",
        _l("Invitation to review %(title)s"),
        _l(
            "You are invited to review “%(title)s” (%(call)s) by %(due)s (Beijing time). Please "
            "accept or decline the invitation."
        ),
        link=url_for("review.invitation", assignment_id=assignment.id),
        params={"title": application.title, "call": application.call.title, "due": _local(due_at)},
    )
    return assignment


def _notify_acceptance_invited(
    assignment: Assignment, application: Application, expert: Expert
) -> None:
    project = acceptance_project(application.id)
    notify(
        [expert.user],
        "assignment.invited",
        _l("Invitation to the acceptance review of %(title)s"),
        _l(
            "You are invited to the acceptance panel (结题验收) of the project “%(title)s” (%(code)s). "
            "Please accept or decline the invitation; the review is due by %(due)s (Beijing time)."
        ),
        link=url_for("review.invitation", assignment_id=assignment.id),
        params={
            "title": application.title,
            "code": project.code if project is not None else "",
            "due": _local(assignment.due_at),
        },
    )


@dataclass(frozen=True)
class Proposal:
    """A proposed replacement: the expert, how well they suit and their open load in the call."""

    expert: Expert
    suitability: int
    load: int


def acceptance_loads() -> Counter:
    """Open (invited or accepted) acceptance reviews per expert id, over projects in acceptance review."""
    rows = db.session.execute(
        sa.select(Assignment.expert_id, sa.func.count(Assignment.id))
        .where(
            Assignment.purpose == ACCEPTANCE,
            Assignment.state.in_(OPEN_STATES),
            Assignment.application_id.in_(hooks.applications_in_acceptance.ask()),
        )
        .group_by(Assignment.expert_id)
    ).all()
    return Counter(dict(rows))


def loads_for(application: Application, purpose: str = PURPOSE) -> Counter:
    """The open loads that matter when choosing experts for ``application`` and ``purpose``."""
    return acceptance_loads() if purpose == ACCEPTANCE else call_loads(application.call)


def taken_experts(application: Application, purpose: str = PURPOSE, round: int = 1) -> set[int]:
    """The experts already invited (in any state) to this application, purpose and round."""
    return set(
        db.session.scalars(
            sa.select(Assignment.expert_id).where(
                Assignment.application_id == application.id,
                Assignment.purpose == purpose,
                Assignment.round == round,
            )
        )
    )


def replacement_candidates(
    application: Application, limit: int | None = None, *, purpose: str = PURPOSE, round: int = 1
) -> list[Proposal]:
    """Allowed experts not yet on the application, best suited first, then the least loaded."""
    taken = taken_experts(application, purpose, round)
    experts = [e for e in invitable_experts() if e.id not in taken]
    if not experts:
        return []
    forbidden = forbidden_reasons([application], experts)
    loads = loads_for(application, purpose)
    scores = suitability_matrix([application], experts)
    candidates = [
        Proposal(e, scores.get((application.id, e.id), 0), loads.get(e.id, 0))
        for e in experts
        if (application.id, e.id) not in forbidden
        and (e.max_load is None or loads.get(e.id, 0) < e.max_load)
    ]
    candidates.sort(key=lambda p: (-p.suitability, p.load, p.expert.id))
    return candidates[:limit] if limit else candidates


def propose_replacement(assignment: Assignment) -> Proposal | None:
    """The best allowed expert not yet on the declined assignment's application."""
    found = replacement_candidates(
        assignment.application, limit=1, purpose=assignment.purpose, round=assignment.round
    )
    return found[0] if found else None


def replacement_of(assignment: Assignment) -> Assignment | None:
    """The assignment that replaced ``assignment``, if any."""
    return db.session.scalar(sa.select(Assignment).where(Assignment.replaces_id == assignment.id))


def invite_replacement(
    assignment: Assignment, expert: Expert, actor, due_at: datetime | None = None
) -> Assignment:
    """Invite ``expert`` in place of a declined (or withdrawn) assignment."""
    if assignment.state not in ("declined", "withdrawn"):
        raise AssignmentError(_("Only a declined or withdrawn invitation can be replaced."))
    if replacement_of(assignment) is not None:
        raise AssignmentError(_("This invitation has already been replaced."))
    if due_at is None:
        due_at = max(assignment.due_at, utcnow() + timedelta(days=REPLACEMENT_MIN_DAYS))
    return assign_manually(
        assignment.application,
        expert,
        actor,
        due_at,
        source="replacement",
        replaces=assignment,
        purpose=assignment.purpose,
        round=assignment.round,
    )


def declined_awaiting_replacement(call=None, limit: int | None = None) -> list[Assignment]:
    """Declined invitations of applications still under review that nobody replaced yet."""
    replacement = sa.orm.aliased(Assignment)
    stmt = (
        sa.select(Assignment)
        .join(Assignment.application)
        .where(
            Assignment.state == "declined",
            Assignment.purpose == PURPOSE,
            Application.state == "under_review",
            ~sa.exists().where(replacement.replaces_id == Assignment.id),
        )
        .options(selectinload(Assignment.expert), selectinload(Assignment.application))
        .order_by(Assignment.responded_at.desc(), Assignment.id.desc())
    )
    if call is not None:
        stmt = stmt.where(Application.call_id == call.id)
    if limit:
        stmt = stmt.limit(limit)
    return db.session.scalars(stmt).all()


def bureau_users() -> list[User]:
    """Active bureau officers."""
    return db.session.scalars(
        sa.select(User)
        .where(User.active.is_(True), User.roles.any(UserRole.role == "bureau"))
        .order_by(User.id)
    ).all()


# --- the assignment workflow's guard and effects (see grants/review/workflow.py) ----------------


def guard_accept(assignment: Assignment, actor, data) -> str | None:
    """The expert declares no conflict of interest, and none is known now."""
    if not data.get("no_conflict"):
        return _(
            "Declare that you have no conflict of interest with this application before accepting."
        )
    problem = closed_problem(assignment.application, assignment.purpose, assignment.round)
    if problem:
        return problem
    return conflict_message(current_conflicts(assignment))


# --- conflicts found after the invitation -------------------------------------------------------


def current_conflicts(assignment: Assignment) -> list:
    """The conflicts between the assignment's expert and application now, the bureau's rulings applied.

    Any conflict left (hard, ruled a block, or a soft flag nobody has ruled on) ends the
    assignment: the expert may not accept, open, score or submit.
    """
    return conflicts_for(assignment.expert, assignment.application)


def conflict_message(conflicts, *, withdrawn: bool = False) -> str | None:
    """What the expert is told of conflicts (their kinds only: a blind call names nobody)."""
    if not conflicts:
        return None
    labels = []
    for conflict in conflicts:
        if conflict.label not in labels:
            labels.append(conflict.label)
    if withdrawn:
        return _(
            "You cannot review this application because of a conflict of interest (%(kinds)s). "
            "The assignment has been withdrawn and the bureau has been told.",
            kinds="; ".join(labels),
        )
    return _(
        "You cannot review this application because of a conflict of interest (%(kinds)s).",
        kinds="; ".join(labels),
    )


def withdraw_for_conflict(assignment: Assignment, conflicts, actor) -> Assignment:
    """Withdraw an invited or accepted assignment because of ``conflicts`` found now, and tell the bureau.

    Its review (draft or submitted) no longer counts: only reviews of accepted
    assignments are valid. Flushes; the caller commits.
    """
    transition(
        assignment,
        "conflict_found",
        actor,
        kinds=[c.kind for c in conflicts],
        reasons=[str(c.reason) for c in conflicts],
    )
    return assignment


def guard_conflict_found(assignment: Assignment, actor, data) -> str | None:
    if not data.get("kinds"):
        return _("No conflict of interest was found.")
    return None


def on_conflict(assignment: Assignment, actor, data) -> None:
    """Effect of ``recuse`` and ``conflict_found``: the time the conflict ended the assignment."""
    assignment.conflict_found_at = utcnow()


def notify_conflict(assignment: Assignment, actor, data) -> None:
    """Tell the bureau that a conflict of interest withdrew the expert, with the reasons."""
    application = assignment.application
    reasons = data.get("reasons") or [data.get("reason") or ""]
    params = {
        "expert": assignment.expert.name,
        "title": application.title,
        "ref": application.reference_no or "",
        "reasons": "; ".join(str(r) for r in reasons),
    }
    link = url_for("review.application_assignments", application_id=application.id)
    if assignment.purpose == ACCEPTANCE:
        project = acceptance_project(application.id)
        if project is not None:
            params["ref"], link = (
                project.code,
                url_for("projects.acceptance_panel", project_id=project.id),
            )
    notify(
        bureau_users(),
        "assignment.conflict",
        _l("Conflict of interest: %(expert)s withdrawn from %(ref)s"),
        _l(
            "%(expert)s can no longer review “%(title)s” (%(ref)s) because of a conflict of interest: "
            "%(reasons)s\nThe assignment has been withdrawn; invite a replacement if the panel needs one."
        ),
        link=link,
        params=params,
    )


def recheck_expert(expert: Expert, actor) -> list[Assignment]:
    """Withdraw the expert's invited or accepted assignments that a conflict now forbids (reviews still open)."""
    withdrawn = []
    assignments = db.session.scalars(
        sa.select(Assignment)
        .where(Assignment.expert_id == expert.id, Assignment.state.in_(OPEN_STATES))
        .order_by(Assignment.id)
    ).all()
    for assignment in assignments:
        if not review_open(assignment):
            continue
        conflicts = conflicts_for(expert, assignment.application)
        if conflicts:
            withdrawn.append(withdraw_for_conflict(assignment, conflicts, actor))
    return withdrawn


def on_accept(assignment: Assignment, actor, data) -> None:
    now = utcnow()
    assignment.responded_at = now
    assignment.no_conflict_declared_at = now


def on_decline(assignment: Assignment, actor, data) -> None:
    assignment.responded_at = utcnow()
    assignment.decline_reason = (data.get("reason") or "").strip()[:500]


def notify_declined(assignment: Assignment, actor, data) -> None:
    """Tell the bureau, naming the proposed replacement."""
    proposal = propose_replacement(assignment)
    application = assignment.application
    params = {
        "expert": assignment.expert.name,
        "title": application.title,
        "ref": application.reference_no or "",
        "reason": assignment.decline_reason,
        "proposal": proposal.expert.name if proposal else _l("nobody (no allowed expert is left)"),
    }
    if assignment.purpose == ACCEPTANCE:
        project = acceptance_project(application.id)
        params["ref"] = project.code if project is not None else params["ref"]
        notify(
            bureau_users(),
            "assignment.declined",
            _l("%(expert)s declined the acceptance review of %(ref)s"),
            _l(
                "%(expert)s declined to join the acceptance panel of “%(title)s” (%(ref)s). Reason: %(reason)s\n"
                "Proposed replacement: %(proposal)s."
            ),
            link=url_for("projects.acceptance_panel", project_id=project.id)
            if project is not None
            else "",
            params=params,
        )
        return
    notify(
        bureau_users(),
        "assignment.declined",
        _l("%(expert)s declined to review %(ref)s"),
        _l(
            "%(expert)s declined to review “%(title)s” (%(ref)s). Reason: %(reason)s\n"
            "Proposed replacement: %(proposal)s."
        ),
        link=url_for("review.application_assignments", application_id=application.id),
        params=params,
    )


def on_withdraw(assignment: Assignment, actor, data) -> None:
    """Tell the expert that the invitation is withdrawn."""
    if assignment.expert.user is not None:
        notify(
            [assignment.expert.user],
            "assignment.withdrawn",
            _l("Invitation withdrawn: %(title)s"),
            _l(
                "The bureau has withdrawn your invitation to review “%(title)s”. You need not do "
                "anything more for it."
            ),
            link=url_for("review.my_reviews"),
            params={"title": assignment.application.title},
        )
