"""Requesting, generating, retrying and serving portfolio report versions.

The ``portfolio_reports`` table is the record of truth. A request for a period and language
joins the version already queued or running (a partial unique index allows one at a time),
or creates the next version and queues its job once the request commits. The job stores the
PDF and the xlsx as objects under new keys (``reports/<token>.pdf``) through the storage
interface (each put is atomic) and only then marks the version done with their SHA-256 and
size, so a download never meets a partial file. A failed render (time limit, error) removes
what it stored and marks the version failed; a version whose job died without saying so
(worker killed, job record gone, time limit long past) is marked failed by
:func:`settle_stale_reports`, and what it stored is swept as an orphan. A failed
version can be retried: a new attempt of the same version with a new job.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import uuid
import zlib
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from grants.core import audit, storage
from grants.core.jobs import enqueue, sweep_dead_jobs
from grants.core.models import Job
from grants.core.refusals import OperationError
from grants.core.sqlite import immediate_writes
from grants.core.types import utcnow
from grants.core.workflow import transition
from grants.extensions import db
from grants.reports.document import build_content, render_report_pdf
from grants.reports.models import REPORT_KEY_PREFIX, PortfolioReport, PortfolioReportState
from grants.reports.periods import Period
from grants.reports.workbook import report_xlsx

ACTIVE_STATES = (PortfolioReportState.QUEUED, PortfolioReportState.RUNNING)
JOB_NAME = "reports.generate"
IN_PROCESS_START_WITHIN = timedelta(minutes=2)
_STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(pdf|xlsx)$")


class ReportError(OperationError):
    """A refused report operation; ``message`` is user-facing."""


# --- files ----------------------------------------------------------------------------------


def file_key(name: str) -> str:
    """The storage key of a report file; refuses names this module did not generate."""
    if not _STORED_NAME.match(name or ""):
        raise ValueError(f"not a report file name: {name!r}")
    return REPORT_KEY_PREFIX + name


def sha256_of(key: str) -> str | None:
    """The SHA-256 of the stored object ``key``, or None when there is none."""
    digest = hashlib.sha256()
    try:
        with storage.backend().open(key) as stream:
            while chunk := stream.read(1024 * 1024):
                digest.update(chunk)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def servable_key(report: PortfolioReport, kind: str) -> str | None:
    """The key of a done version's file when it is stored and matches its checksum, else None."""
    if report.state != "done":
        return None
    name, checksum = (
        (report.pdf_name, report.pdf_sha256)
        if kind == "pdf"
        else (report.xlsx_name, report.xlsx_sha256)
    )
    if not name or not checksum:
        return None
    key = file_key(name)
    if sha256_of(key) != checksum:
        return None
    return key


def count_pages(pdf: bytes) -> int:
    """Pages of a PDF written by WeasyPrint (page objects, also inside compressed object streams)."""
    page = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
    count = len(page.findall(pdf))
    for match in re.finditer(rb"<<([^<>]*?/Type\s*/ObjStm[^<>]*?)>>\s*stream\r?\n", pdf):
        length = re.search(rb"/Length\s+(\d+)", match.group(1))
        if not length:
            continue
        start = match.end()
        try:
            count += len(page.findall(zlib.decompress(pdf[start : start + int(length.group(1))])))
        except zlib.error:
            continue
    return count


# --- requesting -------------------------------------------------------------------------------


def _active(first_year: int, last_year: int, locale: str) -> PortfolioReport | None:
    return db.session.scalar(
        sa.select(PortfolioReport).where(
            PortfolioReport.first_year == first_year,
            PortfolioReport.last_year == last_year,
            PortfolioReport.locale == locale,
            PortfolioReport.state.in_(ACTIVE_STATES),
        )
    )


def _next_version(first_year: int, last_year: int, locale: str) -> int:
    latest = db.session.scalar(
        sa.select(sa.func.max(PortfolioReport.version)).where(
            PortfolioReport.first_year == first_year,
            PortfolioReport.last_year == last_year,
            PortfolioReport.locale == locale,
        )
    )
    return (latest or 0) + 1


def _queue(report: PortfolioReport, actor) -> Job:
    job = enqueue(JOB_NAME, report.id, owner=actor)
    report.job_id = job.id
    db.session.flush()
    return job


def request_report(period: Period, locale: str, actor) -> tuple[PortfolioReport, bool]:
    """Ask for the portfolio report of ``period`` in ``locale``.

    If a version of the same period and language is queued or running, the request joins it
    and nothing new is queued. Otherwise the next version number is taken, the version is
    added in the state ``queued`` and its job is queued to run once the transaction commits.
    Returns the version and whether the request joined one already under way. Two requests
    racing past the check meet the partial unique index: the loser joins the winner.
    """
    if locale not in current_app.config["LANGUAGES"]:
        raise ReportError(_("Choose a language the report is written in."))
    sweep_dead_jobs()
    settle_stale_reports()
    active = _active(period.first_year, period.last_year, locale)
    if active is not None:
        return active, True
    report = PortfolioReport(
        first_year=period.first_year,
        last_year=period.last_year,
        locale=locale,
        version=_next_version(period.first_year, period.last_year, locale),
        state="queued",
        requested_by_id=getattr(actor, "id", None),
        requested_at=utcnow(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(report)
            db.session.flush()
    except sa.exc.IntegrityError:
        active = _active(period.first_year, period.last_year, locale)
        if active is not None:
            return active, True
        raise ReportError(
            _("Another request for this report came in at the same moment. Try again.")
        ) from None
    _queue(report, actor)
    audit.record(
        "portfolio_report.requested",
        report,
        actor=actor,
        after={"period": period.key, "locale": locale, "version": report.version},
    )
    return report, False


def retry_report(report: PortfolioReport, actor) -> tuple[PortfolioReport, bool]:
    """Try a failed version again: a new attempt with a new job, same version number.

    A version still queued or running whose job has died is first marked failed. If another
    version of the same period and language is under way by now, the retry joins that one.
    """
    sweep_dead_jobs()
    settle_stale_reports()
    db.session.refresh(report)
    if report.state != "failed":
        raise ReportError(_("Only a failed report can be retried."))
    active = _active(report.first_year, report.last_year, report.locale)
    if active is not None:
        return active, True
    try:
        with db.session.begin_nested():
            transition(report, "retry", actor, previous_error=(report.error or "")[:300])
    except sa.exc.IntegrityError:
        db.session.refresh(report)
        active = _active(report.first_year, report.last_year, report.locale)
        if active is not None:
            return active, True
        raise ReportError(
            _("Another request for this report came in at the same moment. Try again.")
        ) from None
    report.error = None
    report.finished_at = None
    _queue(report, actor)
    return report, False


# --- stale versions ----------------------------------------------------------------------------


def stale_after() -> timedelta:
    """How long a job may run (or wait) before its version counts as dead."""
    seconds = current_app.config.get("REPORT_STALE_AFTER") or (
        current_app.config.get("JOB_TIMEOUT", 1800) + 300
    )
    return timedelta(seconds=int(seconds))


def stale_reason(report: PortfolioReport, now=None) -> str | None:
    """Why a queued or running version will never finish, or None while it may."""
    if report.state not in ACTIVE_STATES:
        return None
    now = now or utcnow()
    job = report.job
    if job is None:
        return "the job record is gone"
    if job.status == "failed":
        return "the job failed"
    if job.status == "finished":
        return "the job ended without finishing the report"
    limit = stale_after()
    last_sign = job.heartbeat_at or job.started_at
    if job.status == "running" and last_sign is not None and last_sign < now - limit:
        return "the job has run past its time limit (worker killed?)"
    # In-process jobs start the moment the request commits; on RQ a job may wait its turn.
    wait = limit if current_app.config["JOBS_MODE"] == "rq" else IN_PROCESS_START_WITHIN
    waiting_since = max(job.created_at, job.run_after or job.created_at)
    if job.status == "queued" and waiting_since < now - wait:
        return "the job never started"
    return None


def _fail(report: PortfolioReport, message: str) -> None:
    transition(report, "fail", None, reason=message[:300])
    report.error = message[-4000:]
    report.finished_at = utcnow()
    db.session.flush()


def settle_stale_reports(now=None) -> list[PortfolioReport]:
    """Mark failed the queued or running versions whose job died (files they stored are swept as orphans)."""
    settled = []
    candidates = db.session.scalars(
        sa.select(PortfolioReport).where(PortfolioReport.state.in_(ACTIVE_STATES))
    ).all()
    for report in candidates:
        reason = stale_reason(report, now)
        if reason is None:
            continue
        _fail(report, reason)
        settled.append(report)
    return settled


# --- generating ----------------------------------------------------------------------------------


def _put(key: str, data: bytes) -> None:
    storage.backend().put(key, io.BytesIO(data))


def generate(report_id: int, progress: Callable[[int, str], None] | None = None) -> dict | None:
    """Build the figures, charts, PDF and xlsx of a queued version and store them.

    The version goes running (committed at once, so pollers see it), then done with its files'
    names, checksums, size and page count — or failed, with no file left behind, after which
    the exception is raised again for the job's own record.
    """
    step = progress or (lambda percent, message: None)
    with (
        immediate_writes()
    ):  # SQLite: take the write lock first (progress is written by other connections)
        report = db.session.get(PortfolioReport, report_id, populate_existing=True)
        if report is None or report.state != "queued":
            db.session.rollback()
            return None
        transition(report, "start", None)
        db.session.commit()
    token = uuid.uuid4().hex
    stored: list[str] = []
    try:
        with force_locale(report.locale):
            content = build_content(
                Period(report.first_year, report.last_year), report.locale, progress=step
            )
            step(35, _("Laying out the PDF"))
            pdf = render_report_pdf(content, version=report.version)
            step(88, _("Writing the workbook"))
            xlsx = report_xlsx(content)
            step(95, _("Storing the files"))
        db.session.rollback()  # end the read snapshot before writing
        for extension, data in (("pdf", pdf), ("xlsx", xlsx)):
            key = file_key(f"{token}.{extension}")
            _put(key, data)
            stored.append(key)
        with immediate_writes():
            report = db.session.get(PortfolioReport, report_id, populate_existing=True)
            report.pdf_name, report.xlsx_name = f"{token}.pdf", f"{token}.xlsx"
            report.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
            report.xlsx_sha256 = hashlib.sha256(xlsx).hexdigest()
            report.pdf_size = len(pdf)
            report.pages = count_pages(pdf)
            report.error = None
            report.finished_at = utcnow()
            transition(
                report,
                "finish",
                None,
                pages=report.pages,
                pdf_size=report.pdf_size,
                pdf_sha256=report.pdf_sha256,
            )
            db.session.commit()
    except BaseException as exc:
        db.session.rollback()
        for key in stored:
            with contextlib.suppress(OSError, storage.StorageUnavailable):
                storage.backend().delete(key)
        with immediate_writes():
            report = db.session.get(PortfolioReport, report_id, populate_existing=True)
            if report is not None and report.state in ACTIVE_STATES:
                _fail(report, f"{type(exc).__name__}: {exc}")
                db.session.commit()
            else:
                db.session.rollback()
        raise
    return {"report": report_id, "pages": report.pages, "pdf_size": report.pdf_size}


# --- following the job's fate (signals of grants.core.jobs) --------------------------------------


def _reports_of(job) -> list[PortfolioReport]:
    return db.session.scalars(
        sa.select(PortfolioReport).where(
            PortfolioReport.job_id == job.id, PortfolioReport.state.in_(ACTIVE_STATES)
        )
    ).all()


def follow_requeued_job(_sender, job, **_extra) -> None:
    """The worker of a running version died and its job is queued again: the version waits too.

    The user's progress bar starts again from nought and says it is retrying. A file the dead
    attempt stored before its row committed names nothing and goes with the orphan sweep.
    """
    for report in _reports_of(job):
        if report.state == "running":
            transition(report, "requeue", None, attempt=job.attempts)
    db.session.flush()


def follow_failed_job(_sender, job, reason: str | None = None, **_extra) -> None:
    """The job of a version was given up (attempts used up): the version fails with the reason."""
    for report in _reports_of(job):
        _fail(report, reason or job.error or "the job failed")
