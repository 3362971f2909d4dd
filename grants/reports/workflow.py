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
from grants.reports.models import REPORT_STATES, PortfolioReport

staff = has_role("bureau", "admin")

REPORT_WORKFLOW = Workflow(
    name="portfolio_report",
    model=PortfolioReport,
    states=REPORT_STATES,
    transitions=[
        Transition("queued", "start", "running", is_system, label=_l("Start")),
        Transition("running", "finish", "done", is_system, label=_l("Finish")),
        Transition("running", "requeue", "queued", is_system, label=_l("Queue again")),
        Transition("queued", "fail", "failed", is_system, label=_l("Mark as failed")),
        Transition("running", "fail", "failed", is_system, label=_l("Mark as failed")),
        Transition("failed", "retry", "queued", staff, label=_l("Retry")),
    ],
)
