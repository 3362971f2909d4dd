"""Organisation pages: self-registration, invitations, profile, bureau list, clusters."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user
from sqlalchemy.orm import selectinload

from grants.accounts import operations as account_ops
from grants.accounts.throttle import recipient_key
from grants.core.actions import action
from grants.core.money import wan_to_yuan
from grants.core.pagination import paginate
from grants.core.permissions import can, require
from grants.core.types import utcnow
from grants.core.workflow import can_fire
from grants.extensions import db, limiter
from grants.orgs import operations as ops
from grants.orgs import uscc
from grants.orgs.forms import (
    ClusterForm,
    EditOrganisationForm,
    InvitationSignupForm,
    InviteForm,
    QualificationForm,
    RegistrationForm,
    YearFigureForm,
)
from grants.orgs.models import (
    ORG_TYPES,
    QUALIFICATIONS,
    IndustryCluster,
    Invitation,
    Organisation,
    Qualification,
    YearFigure,
)

bp = Blueprint("orgs", __name__)


CHOOSE = _l("— choose —")


def cluster_choices(blank=CHOOSE, keep: IndustryCluster | None = None):
    """Active clusters as select choices, plus ``keep`` (an organisation's inactive cluster)."""
    clusters = ops.active_clusters()
    if keep is not None and keep not in clusters:
        clusters.append(keep)
    return [(0, str(blank))] + [(c.id, c.display_name()) for c in clusters]


def _sign_in(user) -> None:
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    account_ops.log_in(user)
    login_user(user)


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
@limiter.limit("5 per hour", key_func=recipient_key, methods=["POST"])
def register():
    """An applicant registers their organisation (validated USCC) and their account.

    Nothing is created until the e-mailed link is confirmed, and the answer is the same
    page whether or not the e-mail address already has an account.
    """
    if current_user.is_authenticated:
        return redirect(url_for("core.index"))
    form = RegistrationForm()
    form.cluster_id.choices = cluster_choices()
    if form.validate_on_submit():
        org = {k: getattr(form, k).data for k in ops.PROFILE_FIELDS}
        org["uscc"] = form.uscc.data
        org["cluster_id"] = org["cluster_id"] or None
        person = {
            "name": form.person_name.data,
            "email": form.email.data,
            "phone": form.phone.data,
            "password": form.password.data,
            "locale": session.get("locale"),
        }
        with action(form=form, field="name") as done:
            ops.start_registration(org=org, person=person)
        if done:
            return redirect(url_for("orgs.registration_sent"))
    return render_template("orgs/register.html", form=form)


@bp.get("/register/sent")
def registration_sent():
    """The one answer to every registration: look for the confirmation e-mail."""
    return render_template(
        "orgs/registration_sent.html", hours=current_app.config["REGISTRATION_CONFIRM_HOURS"]
    )


@bp.route("/register/confirm/<token>", methods=["GET", "POST"])
def confirm_registration(token: str):
    """The e-mailed link: shows what will be registered; confirming creates it and signs in."""
    if current_user.is_authenticated:
        return redirect(url_for("core.index"))
    pending = ops.pending_registration_for_token(token)
    if pending is None:
        flash(
            _("This confirmation link is not valid or has expired. Please register again."),
            "danger",
        )
        return redirect(url_for("orgs.register"))
    if request.method == "POST":  # CSRF is checked for every POST by CSRFProtect
        with action(show=False) as done:
            user = ops.confirm_registration(token)
            _sign_in(user)
        if not done:
            pending = ops.pending_registration_for_token(token)
            return render_template(
                "orgs/confirm_registration.html",
                pending=pending,
                problem=done.message,
                cluster=None,
                org_types=ORG_TYPES,
            ), 409
        flash(
            _("Welcome! Your organisation %(name)s is registered.", name=user.organisation.name),
            "success",
        )
        return redirect(url_for("core.index"))
    cluster_id = pending.data["org"].get("cluster_id")
    cluster = db.session.get(IndustryCluster, cluster_id) if cluster_id else None
    return render_template(
        "orgs/confirm_registration.html",
        pending=pending,
        problem=None,
        cluster=cluster,
        org_types=ORG_TYPES,
    )


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@limiter.limit("30 per hour", methods=["POST"])
def accept_invitation(token: str):
    """Join an organisation from an invitation link, signing up first if needed."""
    invitation = ops.invitation_for_token(token) or abort(404)
    if invitation.state != "pending":
        flash(_("This invitation is no longer open."), "warning")
        return redirect(url_for("core.index"))
    existing = account_ops.find_user(invitation.email)
    form = InvitationSignupForm()
    if current_user.is_authenticated:
        if not can_fire(current_user, invitation, "accept"):
            flash(_("You already belong to an organisation."), "warning")
            return redirect(url_for("core.index"))
        if request.method == "POST":  # CSRF is checked for every POST by CSRFProtect
            with action(denied_obj=invitation) as done:
                ops.accept_invitation(invitation, current_user)
            if done:
                flash(_("You have joined %(org)s.", org=invitation.organisation.name), "success")
                return redirect(url_for("core.index"))
        return render_template(
            "orgs/accept_invitation.html", invitation=invitation, form=form, mode="join"
        ), (422 if request.method == "POST" else 200)
    if existing is not None:
        flash(
            _("Please sign in with %(email)s to accept the invitation.", email=invitation.email),
            "info",
        )
        return redirect(
            url_for("accounts.login", next=url_for("orgs.accept_invitation", token=token))
        )
    if form.validate_on_submit():
        with action(denied_obj=invitation) as done:
            user = ops.register_from_invitation(
                invitation,
                name=form.person_name.data,
                password=form.password.data,
                phone=form.phone.data,
                locale=session.get("locale"),
            )
            _sign_in(user)
        if done:
            flash(
                _("Welcome! You have joined %(org)s.", org=invitation.organisation.name), "success"
            )
            return redirect(url_for("core.index"))
    return render_template(
        "orgs/accept_invitation.html", invitation=invitation, form=form, mode="signup"
    ), (422 if form.is_submitted() else 200)


# --- the organisation profile ------------------------------------------------------------


def _organisation_or_404(org_id: int) -> Organisation:
    return db.session.get(Organisation, org_id) or abort(404)


def _require_on(action: str, org: Organisation) -> None:
    """404 for whoever may not see the organisation, 403 for who sees it but may not act."""
    require("org.view", org, not_found=True)
    if action != "org.view":
        require(action, org)


def _profile_url(org: Organisation) -> str:
    if current_user.organisation_id == org.id:
        return url_for("orgs.my_organisation")
    return url_for("orgs.organisation", org_id=org.id)


def rd_intensity(figure: YearFigure) -> Decimal | None:
    """R&D spending as a percentage of revenue, unrounded: the page shows it to one decimal
    (None without revenue)."""
    if not figure.revenue:
        return None
    return figure.rd_spending * 100 / figure.revenue


def _render_profile(
    org: Organisation, *, qualification_form=None, figure_form=None, invite_form=None
):
    today = ops.local_today()
    if figure_form is None:
        figure_form = YearFigureForm(formdata=None, prefix="fig", year=today.year - 1)
    invitations = db.session.scalars(
        sa.select(Invitation)
        .where(Invitation.organisation_id == org.id, Invitation.state == "pending")
        .order_by(Invitation.created_at.desc())
    ).all()
    return render_template(
        "orgs/profile.html",
        org=org,
        today=today,
        now=utcnow(),
        qualifications=[(q, ops.qualification_status(q, today)) for q in org.qualifications],
        figures=[(f, rd_intensity(f)) for f in org.figures],
        invitations=invitations,
        qualification_form=qualification_form or QualificationForm(formdata=None, prefix="qual"),
        figure_form=figure_form,
        invite_form=invite_form or InviteForm(formdata=None, prefix="invite"),
        org_types=ORG_TYPES,
    )


@bp.get("/organisation")
def my_organisation():
    """The signed-in applicant's own organisation."""
    require("dashboard.view")
    org = current_user.organisation or abort(404)
    require("org.view", org, not_found=True)
    return _render_profile(org)


@bp.get("/organisations/<int:org_id>")
def organisation(org_id: int):
    """One organisation's profile, for the bureau, finance and the organisation's own people."""
    org = _organisation_or_404(org_id)
    require("org.view", org, not_found=True)
    return _render_profile(org)


@bp.route("/organisations/<int:org_id>/edit", methods=["GET", "POST"])
def edit_organisation(org_id: int):
    org = _organisation_or_404(org_id)
    _require_on("org.edit", org)
    form = EditOrganisationForm(obj=org)
    form.cluster_id.choices = cluster_choices(_l("— none —"), keep=org.cluster)
    may_correct_uscc = can(current_user, "org.correct_uscc", org)
    if not may_correct_uscc:
        del form.uscc
    if request.method == "GET":
        form.cluster_id.data = org.cluster_id or 0
    if form.validate_on_submit():
        data = {k: getattr(form, k).data for k in ops.PROFILE_FIELDS}
        data["name"] = data["name"].strip()
        data["cluster_id"] = data["cluster_id"] or None
        if may_correct_uscc:
            data["uscc"] = form.uscc.data
        with action(form=form, field="name") as done:
            ops.update_profile(org, data, current_user)
        if done:
            flash(_("The profile of %(name)s has been saved.", name=org.name), "success")
            return redirect(_profile_url(org))
    return render_template("orgs/edit.html", org=org, form=form)


@bp.post("/organisations/<int:org_id>/qualifications")
def add_qualification(org_id: int):
    org = _organisation_or_404(org_id)
    _require_on("org.edit", org)
    form = QualificationForm(prefix="qual")
    if form.validate_on_submit():
        with action(form=form, field="kind") as done:
            ops.add_qualification(
                org,
                kind=form.kind.data,
                granted_on=form.granted_on.data,
                expires_on=form.expires_on.data,
                certificate_no=form.certificate_no.data.strip(),
                actor=current_user,
            )
        if done:
            flash(_("The qualification has been added."), "success")
            return redirect(_profile_url(org) + "#qualifications")
    return _render_profile(org, qualification_form=form)


@bp.post("/organisations/<int:org_id>/qualifications/<int:qualification_id>/remove")
def remove_qualification(org_id: int, qualification_id: int):
    org = _organisation_or_404(org_id)
    _require_on("org.edit", org)
    qualification = db.session.get(Qualification, qualification_id)
    if qualification is None or qualification.organisation_id != org.id:
        abort(404)
    with action(success=_("The qualification has been removed.")):
        ops.remove_qualification(qualification, current_user)
    return redirect(_profile_url(org) + "#qualifications")


@bp.post("/organisations/<int:org_id>/figures")
def set_year_figure(org_id: int):
    """Add the figures of a year, or replace those already given for it."""
    org = _organisation_or_404(org_id)
    _require_on("org.edit", org)
    form = YearFigureForm(prefix="fig")
    if form.validate_on_submit():
        with action(form=form, field="year") as done:
            ops.set_year_figure(
                org,
                year=form.year.data,
                revenue=wan_to_yuan(form.revenue.data),
                rd_spending=wan_to_yuan(form.rd_spending.data),
                staff=form.staff.data,
                rd_staff=form.rd_staff.data or 0,
                actor=current_user,
            )
        if done:
            flash(_("The figures of %(year)s have been saved.", year=form.year.data), "success")
            return redirect(_profile_url(org) + "#figures")
    return _render_profile(org, figure_form=form)


@bp.post("/organisations/<int:org_id>/figures/<int:figure_id>/remove")
def remove_year_figure(org_id: int, figure_id: int):
    org = _organisation_or_404(org_id)
    _require_on("org.edit", org)
    figure = db.session.get(YearFigure, figure_id)
    if figure is None or figure.organisation_id != org.id:
        abort(404)
    year = figure.year
    with action(success=_("The figures of %(year)s have been removed.", year=year)):
        ops.remove_year_figure(figure, current_user)
    return redirect(_profile_url(org) + "#figures")


@bp.post("/organisations/<int:org_id>/invitations")
def invite(org_id: int):
    """Invite a colleague by e-mail; the link goes out by e-mail only."""
    org = _organisation_or_404(org_id)
    _require_on("org.invite", org)
    form = InviteForm(prefix="invite")
    if form.validate_on_submit():
        with action(form=form, field="email") as done:
            invitation, _token = ops.invite(org, form.email.data, current_user)
        if done:
            flash(_("An invitation has been sent to %(email)s.", email=invitation.email), "success")
            return redirect(_profile_url(org) + "#invitations")
    return _render_profile(org, invite_form=form)


@bp.post("/invitations/<int:invitation_id>/revoke")
def revoke_invitation(invitation_id: int):
    invitation = db.session.get(Invitation, invitation_id) or abort(404)
    org = invitation.organisation
    require("org.view", org, not_found=True)
    with action(denied="invitation.revoke", denied_obj=invitation) as done:
        ops.revoke_invitation(invitation, current_user)
    if done:
        flash(_("The invitation to %(email)s has been revoked.", email=invitation.email), "success")
    return redirect(_profile_url(org) + "#invitations")


# --- the bureau's list -------------------------------------------------------------------

SORTS = {
    "name": (Organisation.name.asc(),),
    "-name": (Organisation.name.desc(),),
    "registered": (Organisation.created_at.asc(),),
    "-registered": (Organisation.created_at.desc(),),
}


def _held_now(kind: str):
    today = ops.local_today()
    return Organisation.qualifications.any(
        sa.and_(
            Qualification.kind == kind,
            Qualification.granted_on <= today,
            sa.or_(Qualification.expires_on.is_(None), Qualification.expires_on >= today),
        )
    )


@bp.get("/organisations")
def organisations():
    """All organisations, filtered by text, cluster, type and qualification held."""
    require("org.list")
    args = request.args
    q = (args.get("q") or "").strip()[:100]
    cluster = args.get("cluster") or ""
    org_type = args.get("type") or ""
    qualification = args.get("qualification") or ""
    sort = args.get("sort") if args.get("sort") in SORTS else "name"
    stmt = sa.select(Organisation).options(
        selectinload(Organisation.cluster), selectinload(Organisation.qualifications)
    )
    if q:
        stmt = stmt.where(
            sa.or_(
                Organisation.name.icontains(q, autoescape=True),
                Organisation.uscc.icontains(uscc.compact(q), autoescape=True),
            )
        )
    if cluster == "none":
        stmt = stmt.where(Organisation.cluster_id.is_(None))
    elif cluster.isdigit():
        stmt = stmt.where(Organisation.cluster_id == int(cluster))
    if org_type in ORG_TYPES:
        stmt = stmt.where(Organisation.org_type == org_type)
    if qualification in QUALIFICATIONS:
        stmt = stmt.where(_held_now(qualification))
    stmt = stmt.order_by(*SORTS[sort], Organisation.id)
    all_clusters = db.session.scalars(
        sa.select(IndustryCluster).order_by(IndustryCluster.sort_order, IndustryCluster.id)
    ).all()
    return render_template(
        "orgs/list.html",
        page=paginate(stmt),
        q=q,
        cluster=cluster,
        org_type=org_type,
        qualification=qualification,
        sort=sort,
        clusters=all_clusters,
        org_types=ORG_TYPES,
        qualification_kinds=QUALIFICATIONS,
        today=ops.local_today(),
    )


# --- industry clusters -------------------------------------------------------------------


def _cluster_or_404(cluster_id: int) -> IndustryCluster:
    return db.session.get(IndustryCluster, cluster_id) or abort(404)


def _cluster_data(form: ClusterForm) -> dict:
    data = {k: getattr(form, k).data for k in ops.CLUSTER_FIELDS}
    data["sort_order"] = data["sort_order"] or 0
    data["name_en"] = data["name_en"] or ""
    data["description"] = data["description"] or ""
    return data


@bp.get("/admin/clusters")
def clusters():
    """Industry clusters with their order, state and number of organisations."""
    require("clusters.manage")
    stmt = sa.select(IndustryCluster).order_by(IndustryCluster.sort_order, IndustryCluster.id)
    page = paginate(stmt, per_page=50)
    ids = [c.id for c in page.items]
    counts = (
        dict(
            db.session.execute(
                sa.select(Organisation.cluster_id, sa.func.count(Organisation.id))
                .where(Organisation.cluster_id.in_(ids))
                .group_by(Organisation.cluster_id)
            ).all()
        )
        if ids
        else {}
    )
    return render_template("orgs/clusters.html", page=page, counts=counts)


@bp.route("/admin/clusters/new", methods=["GET", "POST"])
def new_cluster():
    require("clusters.manage")
    form = ClusterForm()
    if form.validate_on_submit():
        with action(form=form, field="code") as done:
            cluster = ops.create_cluster(_cluster_data(form), current_user)
        if done:
            flash(_("The cluster %(name)s has been created.", name=cluster.name_zh), "success")
            return redirect(url_for("orgs.clusters"))
    return render_template("orgs/cluster_form.html", form=form, cluster=None, usage=0)


@bp.route("/admin/clusters/<int:cluster_id>/edit", methods=["GET", "POST"])
def edit_cluster(cluster_id: int):
    require("clusters.manage")
    cluster = _cluster_or_404(cluster_id)
    form = ClusterForm(obj=cluster)
    if form.validate_on_submit():
        with action(form=form, field="code") as done:
            ops.update_cluster(cluster, _cluster_data(form), current_user)
        if done:
            flash(_("The cluster %(name)s has been saved.", name=cluster.name_zh), "success")
            return redirect(url_for("orgs.clusters"))
    return render_template(
        "orgs/cluster_form.html", form=form, cluster=cluster, usage=ops.cluster_usage(cluster)
    )


@bp.post("/admin/clusters/<int:cluster_id>/active")
def set_cluster_active(cluster_id: int):
    """Deactivate a cluster (it stays on its organisations) or activate it again."""
    require("clusters.manage")
    cluster = _cluster_or_404(cluster_id)
    active = request.form.get("active") == "1"
    with action() as done:
        ops.update_cluster(cluster, {"active": active}, current_user)
    if done and active:
        flash(_("The cluster %(name)s is active again.", name=cluster.name_zh), "success")
    elif done:
        flash(
            _(
                "The cluster %(name)s is deactivated: it is no longer offered for new choices.",
                name=cluster.name_zh,
            ),
            "warning",
        )
    return redirect(url_for("orgs.clusters"))


@bp.post("/admin/clusters/<int:cluster_id>/delete")
def delete_cluster(cluster_id: int):
    require("clusters.manage")
    cluster = _cluster_or_404(cluster_id)
    name = cluster.name_zh
    with action(success=_("The cluster %(name)s has been deleted.", name=name)):
        ops.delete_cluster(cluster, current_user)
    return redirect(url_for("orgs.clusters"))
