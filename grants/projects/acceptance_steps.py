"""The steps of acceptance as the stepper shows them: the final report with its KPIs, the final
financial statement (决算), the acceptance panel and the conclusion.

:func:`steps` turns :class:`AcceptanceFacts` (the project's state and what the current user may
do) into each step's status, a line of detail and the user's next action there; it reads no
database and asks no permission, so each state can be tested on its own.
:func:`facts_from` gathers the facts from the project, its current report and its panel.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from grants.projects.models import FinalReportState, ProjectState

REPORT, STATEMENT, PANEL, CONCLUSION = "report", "statement", "panel", "conclusion"
ORDER = (REPORT, STATEMENT, PANEL, CONCLUSION)

TITLES = {
    REPORT: _l("Final report and KPIs"),
    STATEMENT: _l("Final financial statement"),
    PANEL: _l("Acceptance panel"),
    CONCLUSION: _l("Acceptance conclusion"),
}
ENDPOINTS = {
    REPORT: "projects.acceptance_report",
    STATEMENT: "projects.acceptance_statement",
    PANEL: "projects.acceptance_panel",
    CONCLUSION: "projects.acceptance_conclusion",
}
# The anchors of the former single page, kept on the overview so that old links still land.
ANCHORS = {REPORT: "report", STATEMENT: "statement", PANEL: "panel", CONCLUSION: "conclude"}

TODO, ACTIVE, ATTENTION, DONE = "todo", "active", "attention", "done"
STATUS_LABELS = {
    TODO: lazy_pgettext("acceptance step", "Not started"),
    ACTIVE: lazy_pgettext("acceptance step", "In progress"),
    ATTENTION: lazy_pgettext("acceptance step", "Needs changes"),
    DONE: lazy_pgettext("acceptance step", "Done"),
}
SUBMITTED_STATES = (
    FinalReportState.SUBMITTED,
    FinalReportState.RETURNED,
    FinalReportState.VERIFIED,
)
CONCLUDED_STATES = (ProjectState.ACCEPTED, ProjectState.ACCEPTANCE_FAILED, ProjectState.CLOSED)


@dataclass(frozen=True)
class AcceptanceFacts:
    """What the stepper needs to know: the project, its report and panel, and the user's rights."""

    project_state: str
    report_state: str | None = None
    report_round: int | None = None
    summary_written: bool = False
    kpis_complete: bool = False
    statement_complete: bool = False
    panel_invited: int = 0
    panel_accepted: int = 0
    panel_submitted: int = 0
    panel_needed: int = 1
    conclusion: str | None = None
    may_write: bool = False
    may_verify: bool = False
    may_view_panel: bool = False
    may_convene: bool = False
    may_conclude: bool = False
    may_close: bool = False

    @property
    def submitted(self) -> bool:
        return self.report_state in SUBMITTED_STATES

    @property
    def concluded(self) -> bool:
        return self.project_state in CONCLUDED_STATES

    @property
    def quorate(self) -> bool:
        return self.panel_submitted >= self.panel_needed

    @property
    def ready_to_conclude(self) -> bool:
        return self.report_state == FinalReportState.VERIFIED and self.quorate


@dataclass(frozen=True)
class Step:
    """One step of the stepper: its status, a line of detail and the user's next action (or None)."""

    key: str
    number: int
    status: str
    detail: str
    action: str | None
    openable: bool

    @property
    def title(self) -> str:
        return str(TITLES[self.key])

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[self.status])

    @property
    def endpoint(self) -> str:
        return ENDPOINTS[self.key]

    @property
    def anchor(self) -> str:
        return ANCHORS[self.key]


def report_step(f: AcceptanceFacts) -> tuple[str, str, str | None]:
    if f.report_state is None:
        status, detail = TODO, _l("Not started")
    elif f.report_state == FinalReportState.DRAFT:
        status = ACTIVE
        detail = (
            _l("Draft complete, not submitted yet")
            if f.summary_written and f.kpis_complete
            else _l("Draft")
        )
    else:
        status, detail = DONE, _l("Submitted")
    action = None
    if f.may_write and f.report_state in (None, FinalReportState.DRAFT):
        if not (f.summary_written and f.kpis_complete):
            action = _l("Write the summary and the KPI figures achieved.")
        elif f.statement_complete:
            action = _l("Submit the final report to request acceptance.")
    return status, str(detail), str(action) if action else None


def statement_step(f: AcceptanceFacts) -> tuple[str, str, str | None]:
    action = None
    if f.report_state == FinalReportState.VERIFIED:
        status, detail = DONE, _l("Verified by finance")
    elif f.report_state == FinalReportState.RETURNED:
        status, detail = ATTENTION, _l("Returned by finance")
        if f.may_write:
            action = _l("Correct the statement as finance asks and submit it again.")
    elif f.report_state == FinalReportState.SUBMITTED:
        status, detail = ACTIVE, _l("Awaiting verification by finance")
        if f.may_verify:
            action = _l("Verify the statement, or return it to the project owner.")
    else:
        status = ACTIVE if f.statement_complete else TODO
        detail = _l("Filled in, not submitted yet") if f.statement_complete else _l("Not started")
        if f.may_write and not f.statement_complete:
            action = _l("Enter the fiscal funds spent per budget category.")
    return status, str(detail), str(action) if action else None


def panel_step(f: AcceptanceFacts) -> tuple[str, str, str | None]:
    action = None
    if f.concluded:
        return DONE, str(_l("Reviews completed")), None
    if f.project_state != ProjectState.ACCEPTANCE_REVIEW:
        return TODO, str(_l("Convened once the final report is submitted")), None
    if not f.may_view_panel:  # the panel's experts and progress are the bureau's to see
        return ACTIVE, str(_l("The acceptance panel is reviewing the final report")), None
    detail = _l(
        "%(submitted)d of %(needed)d reviews submitted",
        submitted=f.panel_submitted,
        needed=f.panel_needed,
    )
    if f.quorate:
        status = DONE
    elif f.panel_invited or f.panel_accepted:
        status = ACTIVE
    else:
        status, detail = TODO, _l("No expert invited yet")
    if f.may_convene and not f.quorate and not f.panel_invited:
        action = _l("Invite the experts of the acceptance panel.")
    return status, str(detail), str(action) if action else None


def conclusion_step(f: AcceptanceFacts, conclusion_label: str = "") -> tuple[str, str, str | None]:
    action = None
    if f.project_state == ProjectState.CLOSED:
        return DONE, str(_l("Project closed")), None
    if f.concluded:
        if f.may_close:
            action = _l("Close the project once every tranche is paid or cancelled.")
        return DONE, conclusion_label or str(_l("Concluded")), str(action) if action else None
    if f.project_state == ProjectState.IN_PROGRESS and f.conclusion == "rectify":
        return ATTENTION, str(_l("Rectification required")), None
    if f.project_state != ProjectState.ACCEPTANCE_REVIEW:
        return TODO, str(_l("Not started")), None
    if f.ready_to_conclude:
        if f.may_conclude:
            action = _l("Record the conclusion: pass, rectify or fail.")
        return ACTIVE, str(_l("Ready for a conclusion")), str(action) if action else None
    return TODO, str(_l("Awaiting the verified statement and the panel's reviews")), None


def steps(f: AcceptanceFacts, conclusion_label: str = "") -> list[Step]:
    """The four steps in order, each with its status, detail and the user's next action."""
    found = {
        REPORT: report_step(f),
        STATEMENT: statement_step(f),
        PANEL: panel_step(f),
        CONCLUSION: conclusion_step(f, conclusion_label),
    }
    openable = {REPORT: True, STATEMENT: True, PANEL: f.may_view_panel, CONCLUSION: True}
    return [
        Step(key, number, *found[key], openable=openable[key])
        for number, key in enumerate(ORDER, start=1)
    ]


def next_step(found: list[Step]) -> Step | None:
    """The first step where the user has something to do, or None."""
    return next((s for s in found if s.action), None)


def facts_from(project, report, panel, **abilities) -> AcceptanceFacts:
    """The facts of ``project`` with its current ``report`` (or None) and ``panel`` (or None)."""
    kpis = (report.kpi_achieved or {}) if report is not None else {}
    statement = (report.statement or {}) if report is not None else {}
    return AcceptanceFacts(
        project_state=project.state,
        report_state=report.state if report is not None else None,
        report_round=report.round if report is not None else None,
        summary_written=bool(report is not None and (report.summary or "").strip()),
        kpis_complete=all(kpis.get(k.kind) not in (None, "") for k in project.kpis),
        statement_complete=report is not None
        and all(statement.get(line.category) not in (None, "") for line in project.budget_lines),
        panel_invited=panel.open_count if panel is not None else 0,
        panel_accepted=panel.accepted if panel is not None else 0,
        panel_submitted=panel.submitted if panel is not None else 0,
        panel_needed=panel.needed if panel is not None else 1,
        conclusion=project.conclusion,
        **abilities,
    )
