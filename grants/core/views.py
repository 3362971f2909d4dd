"""Dashboard, language switch, health check, job progress and the audit log."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_timezone
from flask_babel import gettext as _
from flask_login import current_user

from grants.core.actions import action
from grants.core.audit import ACTION_LABELS, action_label, object_type_label, record
from grants.core.dashboard import panels_for
from grants.core.jobs import label_of, redis_connection, retry
from grants.core.models import AuditEvent, Job, JobState
from grants.core.pagination import paginate
from grants.core.permissions import require
from grants.core.redirects import safe_next
from grants.extensions import db

bp = Blueprint("core", __name__)
bp.add_app_template_global(label_of, "job_label")


@bp.get("/")
def index():
    """Each role's dashboard of what waits for the user's action."""
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    require("dashboard.view")
    return render_template("core/dashboard.html", panels=panels_for(current_user))


@bp.post("/language")
def set_language():
    """Switch the interface language; it sticks to the account when signed in."""
    code = request.form.get("locale", "")
    if code not in current_app.config["LANGUAGES"]:
        abort(400)
    session["locale"] = code
    if current_user.is_authenticated:
        with action():
            current_user.locale = code
    return redirect(safe_next(request.form.get("next"), url_for("core.index")))


@bp.get("/healthz")
def healthz():
    """Database and Redis status as JSON (503 when the database is down)."""
    status = {"database": "ok", "redis": "not configured", "jobs": current_app.config["JOBS_MODE"]}
    code = 200
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception as exc:
        status["database"] = f"error: {type(exc).__name__}"
        code = 503
    if current_app.config.get("REDIS_URL"):
        try:
            redis_connection(current_app).ping()
            status["redis"] = "ok"
        except Exception as exc:
            status["redis"] = f"error: {type(exc).__name__}"
            code = 503
    status["status"] = "ok" if code == 200 else "degraded"
    return jsonify(status), code


@bp.get("/jobs/<int:job_id>")
def job_status(job_id: int):
    """A job's progress; htmx polls this fragment until the job ends."""
    job = db.session.get(Job, job_id) or abort(404)
    require("job.view", job, not_found=True)
    template = "core/_job_progress.html" if request.headers.get("HX-Request") else "core/job.html"
    return render_template(template, job=job)


@bp.get("/admin/jobs")
def jobs():
    """Background jobs, newest first: state, attempts and why a failed one failed (bureau, admin)."""
    require("job.list")
    state = request.args.get("state", "")
    stmt = sa.select(Job).order_by(Job.id.desc())
    if JobState.known(state):
        stmt = stmt.where(Job.status == state)
    else:
        state = ""
    counts = dict(
        db.session.execute(sa.select(Job.status, sa.func.count()).group_by(Job.status)).all()
    )
    waiting = (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Job)
            .where(Job.status == "queued", Job.dispatched_at.is_(None))
        )
        or 0
    )
    return render_template(
        "core/jobs.html",
        page=paginate(stmt, per_page=50),
        state=state,
        counts=counts,
        waiting=waiting,
        labels=dict(JobState.choices()),
    )


@bp.post("/jobs/<int:job_id>/retry")
def retry_job(job_id: int):
    """Queue a failed job again (bureau, administrators)."""
    job = db.session.get(Job, job_id) or abort(404)
    require("job.retry", job)
    if job.status != "failed":
        flash(_("Only a failed job can be retried."), "warning")
        return redirect(_back_to_jobs(job))
    with action(success=_("The job has been queued again.")):
        retry(job.id)
        record("job.retried", job, after={"name": job.name, "attempts": job.attempts})
    return redirect(_back_to_jobs(job))


def _back_to_jobs(job: Job) -> str:
    """Back to the jobs page when the retry came from there, else to the job."""
    if request.form.get("back") == "list":
        return url_for("core.jobs")
    return url_for("core.job_status", job_id=job.id)


@bp.get("/admin/audit")
def audit_log():
    """The audit log with filters: action, actor, object, period."""
    require("audit.view")
    filters = {
        k: (request.args.get(k) or "").strip()
        for k in ("action", "actor", "object_type", "object_id", "date_from", "date_to")
    }
    stmt = sa.select(AuditEvent).order_by(AuditEvent.id.desc())
    if filters["action"]:
        stmt = stmt.where(AuditEvent.action.startswith(filters["action"]))
    if filters["actor"]:
        stmt = stmt.where(AuditEvent.actor_label.ilike(f"%{filters['actor']}%"))
    if filters["object_type"]:
        stmt = stmt.where(AuditEvent.object_type == filters["object_type"])
    if filters["object_id"]:
        stmt = stmt.where(AuditEvent.object_id == filters["object_id"])
    errors = []
    for key, op in (("date_from", "ge"), ("date_to", "lt")):
        if not filters[key]:
            continue
        try:
            day = datetime.strptime(filters[key], "%Y-%m-%d").date()
        except ValueError:
            errors.append(key)
            continue
        if op == "lt":
            day += timedelta(days=1)
        bound = datetime.combine(day, time.min, tzinfo=get_timezone())
        stmt = stmt.where(AuditEvent.at >= bound if op == "ge" else AuditEvent.at < bound)
    page = paginate(stmt, per_page=50)
    actions = db.session.scalars(
        sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)
    ).all()
    object_types = db.session.scalars(
        sa.select(AuditEvent.object_type)
        .where(AuditEvent.object_type.is_not(None))
        .distinct()
        .order_by(AuditEvent.object_type)
    ).all()
    return render_template(
        "core/audit.html",
        page=page,
        filters=filters,
        errors=errors,
        actions=actions,
        object_types=object_types,
        object_type_label=object_type_label,
        action_label=action_label,
        action_labels=ACTION_LABELS,
    )
