"""Background jobs of the reports domain: generate a version; settle versions whose job died."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import lazy_gettext as _l

from grants.core.jobs import JobContext, job, job_failed, job_requeued
from grants.core.scheduler import schedule
from grants.core.sqlite import immediate_writes
from grants.extensions import db
from grants.reports import operations


@job(operations.JOB_NAME, immediate=False, label=_l("Portfolio report"))
def generate_report(ctx: JobContext, report_id: int):
    """Generate one report version, reporting progress on the job record."""
    return operations.generate(report_id, progress=ctx.progress)


@job("reports.settle", label=_l("Settle stopped reports"))
def settle_reports(ctx: JobContext):
    """Mark failed the versions whose job died (a killed worker leaves them running)."""
    with immediate_writes():
        settled = operations.settle_stale_reports()
        db.session.commit()
    return {"settled": [report.id for report in settled]}


schedule("reports.settle", timedelta(minutes=10))


job_requeued.connect(operations.follow_requeued_job)
job_failed.connect(operations.follow_failed_job)
