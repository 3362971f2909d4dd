"""Review pages: the expert pool, the expert's own profile, excluded experts and conflicts."""

from __future__ import annotations

import io

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import selectinload

from grants.applications.models import Application
from grants.core.actions import action
from grants.core.pagination import paginate
from grants.core.permissions import can, require
from grants.core.xlsx import XLSX_MIMETYPE, ImportLimits
from grants.extensions import db
from grants.orgs.models import IndustryCluster
from grants.programmes.models import Call
from grants.review import conflicts as coi
from grants.review import experts as ops
from grants.review.forms.pool import (
    ConflictRulingForm,
    ExcludedExpertForm,
    ExpertForm,
    ExpertImportForm,
    ExpertProfileForm,
    RelationForm,
)
from grants.review.models import RELATION_KINDS, ExcludedExpert, Expert, ExpertRelation
from grants.review.views import bp


def cluster_choices(keep=()) -> list[tuple[int, str]]:
    """Active clusters, plus inactive ones the expert already has."""
    clusters = db.session.scalars(
        sa.select(IndustryCluster)
        .where(IndustryCluster.active.is_(True))
        .order_by(IndustryCluster.sort_order, IndustryCluster.id)
    ).all()
    clusters += [c for c in keep if c not in clusters]
    return [(c.id, c.display_name()) for c in clusters]


# --- the pool -------------------------------------------------------------------------------


@bp.get("/experts")
def experts():
    """The expert pool, searched by name, employer or keyword and filtered by cluster and state."""
    require("expert.manage")
    args = request.args
    q = (args.get("q") or "").strip()[:100]
    cluster = args.get("cluster") or ""
    active = args.get("active") if args.get("active") in ("1", "0") else ""
    stmt = sa.select(Expert).options(
        selectinload(Expert.clusters), selectinload(Expert.relations), selectinload(Expert.user)
    )
    if q:
        stmt = stmt.where(
            sa.or_(
                Expert.name.icontains(q, autoescape=True),
                Expert.employer_name.icontains(q, autoescape=True),
                Expert.keywords.icontains(q, autoescape=True),
            )
        )
    if cluster.isdigit():
        stmt = stmt.where(Expert.clusters.any(IndustryCluster.id == int(cluster)))
    if active:
        stmt = stmt.where(Expert.active.is_(active == "1"))
    stmt = stmt.order_by(Expert.name, Expert.id)
    clusters = db.session.scalars(
        sa.select(IndustryCluster).order_by(IndustryCluster.sort_order, IndustryCluster.id)
    ).all()
    return render_template(
        "review/pool/experts.html",
        page=paginate(stmt),
        q=q,
        cluster=cluster,
        active=active,
        clusters=clusters,
    )


def _expert_data(form: ExpertForm) -> dict:
    return {
        "name": form.name.data,
        "title": form.title.data,
        "employer_name": form.employer_name.data,
        "employer_uscc": form.employer_uscc.data,
        "cluster_ids": form.cluster_ids.data or [],
        "keywords": form.keywords.data,
        "email": form.email.data,
        "phone": form.phone.data,
        "active": form.active.data,
        "max_load": form.max_load.data,
    }


@bp.route("/experts/new", methods=["GET", "POST"])
def new_expert():
    require("expert.manage")
    form = ExpertForm()
    form.cluster_ids.choices = cluster_choices()
    if form.validate_on_submit():
        with action(form=form, field="email") as done:
            expert = ops.create_expert(_expert_data(form), current_user)
        if done:
            flash(_("%(name)s has been added to the expert pool.", name=expert.name), "success")
            return redirect(url_for("review.experts"))
    return render_template("review/pool/expert_form.html", form=form, expert=None)


@bp.route("/experts/<int:expert_id>/edit", methods=["GET", "POST"])
def edit_expert(expert_id: int):
    require("expert.manage")
    expert = db.session.get(Expert, expert_id) or abort(404)
    form = ExpertForm(obj=expert)
    form.cluster_ids.choices = cluster_choices(keep=expert.clusters)
    if request.method == "GET":
        form.cluster_ids.data = [c.id for c in expert.clusters]
        form.employer_uscc.data = expert.employer_uscc or ""
    if form.validate_on_submit():
        with action(form=form, field="email") as done:
            ops.update_expert(expert, _expert_data(form), current_user)
        if done:
            flash(_("The record of %(name)s has been saved.", name=expert.name), "success")
            return redirect(url_for("review.experts"))
    return render_template(
        "review/pool/expert_form.html", form=form, expert=expert, relation_kinds=RELATION_KINDS
    )


@bp.route("/experts/import", methods=["GET", "POST"])
def import_experts():
    """Import experts from a workbook made from the template: every row, or none."""
    require("expert.manage")
    form = ExpertImportForm()
    errors = []
    if form.validate_on_submit():
        upload = form.file.data
        with action(show=False, also=(ops.ImportRefused,)) as done:
            result = ops.import_experts(upload.stream, current_user, filename=upload.filename or "")
        if isinstance(done.error, ops.ImportRefused):
            errors = done.error.errors
        elif not done:
            form.file.errors = [*form.file.errors, done.message]
        else:
            flash(
                _(
                    "Import done: %(added)d experts added, %(updated)d updated, %(unchanged)d unchanged.",
                    added=result.added,
                    updated=result.updated,
                    unchanged=result.unchanged,
                ),
                "success",
            )
            return redirect(url_for("review.experts"))
    return render_template(
        "review/pool/import.html",
        form=form,
        errors=errors,
        headers=ops.IMPORT_HEADERS,
        limits=ImportLimits.from_config(),
    ), (422 if errors or form.errors else 200)


@bp.get("/experts/import/template.xlsx")
def import_template():
    """An empty workbook with the header row the import expects."""
    require("expert.manage")
    return send_file(
        io.BytesIO(ops.import_template()),
        mimetype=XLSX_MIMETYPE,
        as_attachment=True,
        download_name="专家导入模板.xlsx",
    )


# --- the expert's own profile ------------------------------------------------------------------


def _own_expert() -> Expert:
    require("expert.own_profile")
    return ops.expert_for_user(current_user) or abort(404)


def _render_profile(expert: Expert, *, profile_form=None, relation_form=None):
    if profile_form is None:
        profile_form = ExpertProfileForm(formdata=None, obj=expert, prefix="profile")
        profile_form.cluster_ids.data = [c.id for c in expert.clusters]
        profile_form.keywords.data = expert.keywords
    profile_form.cluster_ids.choices = cluster_choices(keep=expert.clusters)
    if relation_form is None:
        relation_form = RelationForm(formdata=None, prefix="relation")
        if not expert.relations and expert.employer_name:
            relation_form.kind.data = "employer"
            relation_form.organisation_name.data = expert.employer_name
            relation_form.organisation_uscc.data = expert.employer_uscc or ""
    return render_template(
        "review/pool/profile.html",
        expert=expert,
        profile_form=profile_form,
        relation_form=relation_form,
        relation_kinds=RELATION_KINDS,
        gaps=ops.profile_gaps(expert),
        lookback=coi.RELATION_LOOKBACK_YEARS,
    )


@bp.route("/expert/profile", methods=["GET", "POST"])
def expert_profile():
    """The expert keeps their title, keywords, clusters and phone, and declares relations."""
    expert = _own_expert()
    if request.method == "GET":
        return _render_profile(expert)
    form = ExpertProfileForm(prefix="profile")
    form.cluster_ids.choices = cluster_choices(keep=expert.clusters)
    if form.validate():
        with action(form=form, field="title") as done:
            ops.update_own_profile(
                expert,
                title=form.title.data,
                keywords=form.keywords.data,
                cluster_ids=form.cluster_ids.data or [],
                phone=form.phone.data,
                actor=current_user,
            )
        if done:
            flash(_("Your profile has been saved."), "success")
            return redirect(url_for("review.expert_profile"))
    return _render_profile(expert, profile_form=form)


@bp.post("/expert/profile/relations")
def add_relation():
    expert = _own_expert()
    form = RelationForm(prefix="relation")
    if form.validate():
        with action(form=form, field="organisation_name") as done:
            ops.add_relation(
                expert,
                kind=form.kind.data,
                organisation_uscc=form.organisation_uscc.data,
                organisation_name=form.organisation_name.data,
                note=form.note.data,
                since=form.since.data,
                until=form.until.data,
                actor=current_user,
            )
        if done:
            flash(_("The relation has been declared."), "success")
            return redirect(url_for("review.expert_profile") + "#relations")
    return _render_profile(expert, relation_form=form)


@bp.post("/expert/profile/relations/<int:relation_id>/remove")
def remove_relation(relation_id: int):
    expert = _own_expert()
    relation = db.session.get(ExpertRelation, relation_id)
    if relation is None or relation.expert_id != expert.id:
        abort(404)
    with action(show=False) as done:
        ops.remove_relation(relation, current_user)
    if not done:
        flash(done.message, "warning")
        return redirect(url_for("review.expert_profile") + "#relations")
    flash(_("The relation has been removed."), "success")
    return redirect(url_for("review.expert_profile") + "#relations")


# --- the applicant's excluded experts ----------------------------------------------------------


def _application_or_404(application_id: int) -> Application:
    application = db.session.get(Application, application_id) or abort(404)
    require("application.view", application, not_found=True)
    return application


def _render_excluded(application: Application, form=None):
    rows = db.session.scalars(
        sa.select(ExcludedExpert)
        .where(ExcludedExpert.application_id == application.id)
        .order_by(ExcludedExpert.id)
    ).all()
    editable = can(current_user, "application.edit", application)
    return render_template(
        "review/pool/excluded_experts.html",
        application=application,
        rows=rows,
        editable=editable,
        form=form or ExcludedExpertForm(formdata=None),
        limit=coi.MAX_EXCLUDED_EXPERTS,
    ), (422 if form is not None else 200)


@bp.route("/applications/<int:application_id>/excluded-experts", methods=["GET", "POST"])
def excluded_experts(application_id: int):
    """The applicant's list of at most three experts who should not review (不宜评审专家)."""
    application = _application_or_404(application_id)
    if request.method == "GET":
        return _render_excluded(application)
    require("application.edit", application)
    form = ExcludedExpertForm()
    if form.validate():
        with action(form=form, field="name") as done:
            row = coi.add_excluded_expert(
                application,
                name=form.name.data,
                employer_name=form.employer_name.data,
                reason=form.reason.data,
                actor=current_user,
            )
        if done:
            flash(
                _("%(name)s will not be asked to review this application.", name=row.name),
                "success",
            )
            return redirect(url_for("review.excluded_experts", application_id=application.id))
    return _render_excluded(application, form)


@bp.post("/applications/<int:application_id>/excluded-experts/<int:row_id>/remove")
def remove_excluded_expert(application_id: int, row_id: int):
    application = _application_or_404(application_id)
    require("application.edit", application)
    row = db.session.get(ExcludedExpert, row_id)
    if row is None or row.application_id != application.id:
        abort(404)
    name = row.name
    with action(success=_("%(name)s has been taken off the list.", name=name)):
        coi.remove_excluded_expert(row, application, current_user)
    return redirect(url_for("review.excluded_experts", application_id=application.id))


# --- the bureau's conflicts page ---------------------------------------------------------------

RULED_LABELS = {True: _l("Blocked"), False: _l("Allowed")}


def _ruling_form(application_id: int, expert_id: int, formdata=None) -> ConflictRulingForm:
    return ConflictRulingForm(formdata=formdata, prefix=f"r{application_id}-{expert_id}")


def _render_conflicts(call: Call, failed: tuple[int, int, ConflictRulingForm] | None = None):
    soft, hard = coi.call_conflicts(call)
    forms = {}
    for pair in soft:
        key = (pair.application.id, pair.expert.id)
        if failed is not None and failed[:2] == key:
            forms[key] = failed[2]
        else:
            form = _ruling_form(*key)
            if pair.ruling is not None:
                form.decision.data = "block" if pair.ruling.blocked else "allow"
            forms[key] = form
    application_ids = [
        a.id
        for a in db.session.scalars(
            sa.select(Application).where(
                Application.call_id == call.id, Application.state.in_(coi.REVIEWABLE_STATES)
            )
        )
    ]
    excluded = coi.excluded_by_application(application_ids)
    applications = (
        {
            a.id: a
            for a in db.session.scalars(
                sa.select(Application).where(Application.id.in_(list(excluded)))
            ).all()
        }
        if excluded
        else {}
    )
    open_count = sum(1 for p in soft if p.ruling is None)
    return render_template(
        "review/pool/conflicts.html",
        call=call,
        soft=soft,
        hard=hard,
        forms=forms,
        excluded=excluded,
        applications=applications,
        open_count=open_count,
        ruled_labels=RULED_LABELS,
    ), (422 if failed is not None else 200)


@bp.get("/calls/<int:call_id>/conflicts")
def call_conflicts(call_id: int):
    """Soft flags between the call's applications and the active experts, to block or allow."""
    call = db.session.get(Call, call_id) or abort(404)
    require("conflict.rule", call)
    return _render_conflicts(call)


@bp.post("/calls/<int:call_id>/conflicts/<int:application_id>/<int:expert_id>")
def rule_conflict(call_id: int, application_id: int, expert_id: int):
    call = db.session.get(Call, call_id) or abort(404)
    require("conflict.rule", call)
    application = db.session.get(Application, application_id)
    expert = db.session.get(Expert, expert_id)
    if application is None or application.call_id != call.id or expert is None:
        abort(404)
    require("application.view", application, not_found=True)
    form = _ruling_form(application_id, expert_id, request.form)
    if form.validate():
        with action(form=form, field="decision") as done:
            coi.rule_conflict(
                application,
                expert,
                blocked=form.decision.data == "block",
                reason=form.reason.data,
                actor=current_user,
            )
        if done:
            if form.decision.data == "block":
                flash(
                    _("%(name)s may not review “%(title)s”.", name=expert.name, title=application),
                    "success",
                )
            else:
                flash(
                    _("%(name)s may review “%(title)s”.", name=expert.name, title=application),
                    "success",
                )
            return redirect(
                url_for("review.call_conflicts", call_id=call.id)
                + f"#pair-{application.id}-{expert.id}"
            )
    return _render_conflicts(call, failed=(application_id, expert_id, form))
