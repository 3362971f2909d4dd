"""The life of one report version: queued ─start→ running ─finish→ done, and ─fail→ failed,
failed ─retry→ queued (a new attempt of the same version).

The background job starts, finishes and fails reports as the system (actor None); a report
whose job died is marked failed by the system too (``operations.settle_stale_reports``);
the bureau retries a failed one. A version whose worker died goes back to queued when the
sweeper queues its job again (``operations.follow_requeued_job``).
"""

from flask_babel import lazy_gettext as _l

from grants.core.permissions import has_role, is_system
from grants.core.workflow import Transition, Workflow
from grants.reports.models import PortfolioReport, PortfolioReportState

staff = has_role("bureau", "admin")

REPORT_WORKFLOW = Workflow(
    name="portfolio_report",
    model=PortfolioReport,
    states=PortfolioReportState,
    transitions=[
        Transition(
            PortfolioReportState.QUEUED,
            "start",
            PortfolioReportState.RUNNING,
            is_system,
            label=_l("Start"),
        ),
        Transition(
            PortfolioReportState.RUNNING,
            "finish",
            PortfolioReportState.DONE,
            is_system,
            label=_l("Finish"),
        ),
        Transition(
            PortfolioReportState.RUNNING,
            "requeue",
            PortfolioReportState.QUEUED,
            is_system,
            label=_l("Queue again"),
        ),
        Transition(
            PortfolioReportState.QUEUED,
            "fail",
            PortfolioReportState.FAILED,
            is_system,
            label=_l("Mark as failed"),
        ),
        Transition(
            PortfolioReportState.RUNNING,
            "fail",
            PortfolioReportState.FAILED,
            is_system,
            label=_l("Mark as failed"),
        ),
        Transition(
            PortfolioReportState.FAILED,
            "retry",
            PortfolioReportState.QUEUED,
            staff,
            label=_l("Retry"),
        ),
    ],
)
