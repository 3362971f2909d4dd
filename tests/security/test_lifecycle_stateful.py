"""A stateful hypothesis test of the lifecycle through the operations and ``transition()``, not HTTP.

Rules fire the lifecycle's steps (assign an expert — a conflicted one too — accept,
sign, request a disbursement with a random tranche and a reused idempotency key,
approve, pay, reject, report a milestone, approve the report, request acceptance,
conclude) with random actors, allowed or not. Refusals are expected; after every step
the invariants must hold: no disbursement before signing, committed ≤ award and
disbursed ≤ committed, the tranches sum to the award, acceptance only after every
milestone is achieved, no accepted assignment or review by a conflicted expert, and
every state change is a row of the transition table.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from grants.core.refusals import OperationError
from grants.core.types import utcnow
from grants.core.workflow import WorkflowError, transition, workflow_for
from grants.extensions import db
from grants.funding import contracting
from grants.funding.contracting import ContractingError
from grants.funding.disbursements import request_disbursement
from grants.funding.models import Disbursement, Tranche
from grants.projects import progress
from grants.review.assignments import AssignmentError, assign_manually
from grants.review.models import Assignment, Review
from tests.applications.bureau_helpers import application_in_state
from tests.factories import ExpertFactory, make_user
from tests.funding.contract_helpers import contracted, upload
from tests.funding.finance_helpers import APPROVAL

REFUSALS = (WorkflowError, OperationError, AssignmentError, ContractingError, ValueError)
ACTORS = ("owner", "outsider", "bureau", "bureau2", "finance", "finance2", "expert", "conflicted")


@pytest.fixture
def machine_world(app):
    """Hand the app context to the state machine (each run builds its own objects)."""
    return app


class Lifecycle(RuleBasedStateMachine):
    """One project from contracting to acceptance, and one application under review."""

    @initialize()
    def build(self):
        self.savepoint = db.session.begin_nested()
        application = application_in_state("under_review")
        self.application = application
        self.project = contracted()
        self.actors = {
            "owner": make_user("applicant", organisation=self.project.organisation),
            "outsider": make_user("applicant"),
            "bureau": make_user("bureau"),
            "bureau2": make_user("bureau"),
            "finance": make_user("finance"),
            "finance2": make_user("finance"),
        }
        self.clean_expert = ExpertFactory()
        self.conflicted_expert = ExpertFactory(employer_name=application.organisation.name)
        self.actors["expert"] = self.clean_expert.user
        self.actors["conflicted"] = self.conflicted_expert.user
        self.keys: list[str] = []
        self.seen = self.snapshot()
        self.steps = 0

    def teardown(self):
        if getattr(self, "savepoint", None) is not None and self.savepoint.is_active:
            self.savepoint.rollback()
        db.session.expire_all()

    # --- helpers -------------------------------------------------------------------------

    def tracked(self) -> list:
        project = self.project
        objects = [project, self.application, *project.milestones]
        objects += db.session.scalars(
            sa.select(Disbursement).where(Disbursement.project_id == project.id)
        ).all()
        objects += db.session.scalars(
            sa.select(Assignment).where(Assignment.application_id == self.application.id)
        ).all()
        objects += list(progress_reports(project))
        return objects

    def snapshot(self) -> dict:
        return {
            (type(o).__name__, o.id): (o, getattr(o, workflow_for(o).state_attr))
            for o in self.tracked()
        }

    def attempt(self, operation, *args, **kwargs):
        """Run one step inside a savepoint; refusals roll back, anything else fails the test."""
        step = db.session.begin_nested()
        try:
            result = operation(*args, **kwargs)
        except REFUSALS as refusal:
            REFUSED.append(
                (getattr(operation, "__name__", "?"), type(refusal).__name__, str(refusal)[:120])
            )
            step.rollback()
            db.session.expire_all()
            return None
        step.commit()
        return result

    # --- rules ---------------------------------------------------------------------------

    @rule(actor=st.sampled_from(ACTORS), conflicted=st.booleans())
    def assign(self, actor, conflicted):
        expert = self.conflicted_expert if conflicted else self.clean_expert
        self.attempt(
            assign_manually,
            self.application,
            expert,
            self.actors[actor],
            utcnow() + timedelta(days=14),
        )

    @rule(actor=st.sampled_from(ACTORS))
    def accept_invitation(self, actor):
        for assignment in db.session.scalars(
            sa.select(Assignment).where(
                Assignment.application_id == self.application.id, Assignment.state == "invited"
            )
        ).all():
            self.attempt(transition, assignment, "accept", self.actors[actor], no_conflict=True)

    @rule(actor=st.sampled_from(ACTORS))
    def sign(self, actor):
        def op():
            if contracting.pending_signature(self.project) is None:
                contracting.upload_signed_task_book(self.project, upload(), self.actors["owner"])
            transition(contracting.pending_signature(self.project), "confirm", self.actors[actor])

        self.attempt(op)

    @rule(actor=st.sampled_from(ACTORS), index=st.integers(0, 2), reuse=st.booleans())
    def request(self, actor, index, reuse):
        tranches = sorted(self.project.tranches, key=lambda t: t.position)
        tranche = tranches[index % len(tranches)]
        key = self.keys[-1] if reuse and self.keys else uuid.uuid4().hex
        self.keys.append(key)
        self.attempt(request_disbursement, tranche, self.actors[actor], key)

    @rule(actor=st.sampled_from(ACTORS), event=st.sampled_from(["approve", "pay", "reject"]))
    def decide_disbursement(self, actor, event):
        rows = db.session.scalars(
            sa.select(Disbursement)
            .where(Disbursement.project_id == self.project.id)
            .order_by(Disbursement.id.desc())
        ).all()
        if rows:
            data = (
                APPROVAL
                if event == "approve"
                else ({"reason": "账户有误"} if event == "reject" else {})
            )
            self.attempt(transition, rows[0], event, self.actors[actor], **data)

    @rule(actor=st.sampled_from(ACTORS), index=st.integers(0, 3))
    def report_milestone(self, actor, index):
        milestones = sorted(self.project.milestones, key=lambda m: m.position)
        if milestones:
            milestone = milestones[index % len(milestones)]
            self.attempt(
                progress.save_report,
                milestone,
                "按计划完成阶段任务。",
                {},
                [],
                self.actors[actor],
                submit=True,
            )

    @rule(actor=st.sampled_from(ACTORS), approve=st.booleans())
    def review_report(self, actor, approve):
        for report in progress_reports(self.project):
            if report.state == "submitted":
                if approve:
                    self.attempt(progress.approve_report, report, self.actors[actor])
                else:
                    self.attempt(progress.return_report, report, self.actors[actor], "补充材料")
                return

    @rule(actor=st.sampled_from(ACTORS))
    def request_acceptance(self, actor):
        self.attempt(transition, self.project, "request_acceptance", self.actors[actor])

    @rule(
        actor=st.sampled_from(ACTORS),
        event=st.sampled_from(["pass", "fail", "rectify", "terminate"]),
    )
    def conclude(self, actor, event):
        self.attempt(
            transition,
            self.project,
            event,
            self.actors[actor],
            reason="理由",
            reasons="理由",
            rectify_by=utcnow().date() + timedelta(days=60),
        )

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def money_is_consistent(self):
        if not hasattr(self, "project"):
            return
        project = self.project
        db.session.refresh(project)
        rows = db.session.scalars(
            sa.select(Disbursement).where(Disbursement.project_id == project.id)
        ).all()
        if project.signed_at is None:
            assert not rows, "a disbursement before the task book was signed"
        assert Decimal(0) <= project.disbursed_total <= project.committed_total <= project.award
        paid = sum((d.amount for d in rows if d.state == "paid"), Decimal(0))
        live = sum(
            (d.amount for d in rows if d.state in ("requested", "approved", "paid")), Decimal(0)
        )
        assert paid == project.disbursed_total
        assert live == project.committed_total
        tranches = db.session.scalars(
            sa.select(Tranche).where(Tranche.project_id == project.id)
        ).all()
        assert sum((t.amount for t in tranches), Decimal(0)) == project.award
        per_tranche = {}
        for d in rows:
            if d.state in ("requested", "approved", "paid"):
                per_tranche[d.tranche_id] = per_tranche.get(d.tranche_id, 0) + 1
        assert all(n <= 1 for n in per_tranche.values()), "two live disbursements of one tranche"

    @invariant()
    def acceptance_only_after_all_milestones(self):
        if not hasattr(self, "project"):
            return
        if self.project.state in ("acceptance_review", "accepted"):
            assert all(m.state == "achieved" for m in self.project.milestones)

    @invariant()
    def no_review_by_a_conflicted_expert(self):
        if not hasattr(self, "conflicted_expert"):
            return
        expert_id = self.conflicted_expert.id
        accepted = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Assignment)
            .where(
                Assignment.expert_id == expert_id,
                Assignment.state.in_(("accepted", "completed", "submitted")),
            )
        )
        reviews = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Review)
            .join(Assignment, Review.assignment_id == Assignment.id)
            .where(Assignment.expert_id == expert_id)
        )
        assert accepted == 0 and reviews == 0

    @invariant()
    def states_change_only_along_the_table(self):
        if not hasattr(self, "seen"):
            return
        now = self.snapshot()
        for key, (obj, after) in now.items():
            if key not in self.seen:
                continue
            before = self.seen[key][1]
            if before != after:
                table = workflow_for(obj).table
                targets = {t.target for (source, _event), t in table.items() if source == before}
                assert after in targets, f"{key}: {before} → {after} is not in the transition table"
        self.seen = now
        self.steps += 1
        TRANSITIONS_SEEN.update((k[0], v[1]) for k, v in now.items())


TRANSITIONS_SEEN: set = set()
REFUSED: list = []


def progress_reports(project):
    from grants.projects.models import Milestone, ProgressReport

    return db.session.scalars(
        sa.select(ProgressReport)
        .join(Milestone, ProgressReport.milestone_id == Milestone.id)
        .where(Milestone.project_id == project.id)
        .order_by(ProgressReport.id)
    ).all()


def test_lifecycle_stateful_keeps_the_invariants(machine_world):
    Lifecycle.TestCase.settings = settings(
        max_examples=20,
        stateful_step_count=20,
        deadline=None,
        database=None,
        derandomize=True,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
    )
    Lifecycle.TestCase().runTest()
    assert len(TRANSITIONS_SEEN) > 4, f"the machine hardly moved: {sorted(set(REFUSED))[:30]}"
