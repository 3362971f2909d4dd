"""Organisation pages: self-registration, invitations, profile, bureau list, clusters."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user

from grants.accounts import operations as account_ops
from grants.core.workflow import WorkflowError, can_fire
from grants.extensions import db, limiter
from grants.orgs import operations as ops
from grants.orgs.forms import InvitationSignupForm, RegistrationForm

bp = Blueprint("orgs", __name__)


def cluster_choices(blank=_l("— choose —")):
    return [(0, str(blank))] + [(c.id, c.display_name()) for c in ops.active_clusters()]


def _sign_in(user) -> None:
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    account_ops.log_in(user)
    db.session.commit()
    login_user(user)


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def register():
    """An applicant registers their organisation (validated USCC) and their account."""
    if current_user.is_authenticated:
        return redirect(url_for("core.index"))
    form = RegistrationForm()
    form.cluster_id.choices = cluster_choices()
    if form.validate_on_submit():
        org = {k: getattr(form, k).data for k in ops.PROFILE_FIELDS}
        org["uscc"] = form.uscc.data
        org["cluster_id"] = org["cluster_id"] or None
        person = {"name": form.person_name.data, "email": form.email.data, "phone": form.phone.data,
                  "password": form.password.data, "locale": session.get("locale")}
        try:
            user = ops.register_organisation(org=org, person=person)
        except ops.OrganisationError as exc:
            getattr(form, exc.field or "name").errors.append(exc.message)
        else:
            _sign_in(user)
            flash(_("Welcome! Your organisation %(name)s is registered.", name=user.organisation.name), "success")
            return redirect(url_for("core.index"))
    return render_template("orgs/register.html", form=form)


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
            try:
                ops.accept_invitation(invitation, current_user)
            except WorkflowError as exc:
                db.session.rollback()
                flash(exc.message, "danger")
            else:
                db.session.commit()
                flash(_("You have joined %(org)s.", org=invitation.organisation.name), "success")
                return redirect(url_for("core.index"))
        return render_template("orgs/accept_invitation.html", invitation=invitation, form=form, mode="join")
    if existing is not None:
        flash(_("Please sign in with %(email)s to accept the invitation.", email=invitation.email), "info")
        return redirect(url_for("accounts.login", next=url_for("orgs.accept_invitation", token=token)))
    if form.validate_on_submit():
        try:
            user = ops.register_from_invitation(invitation, name=form.person_name.data,
                                                password=form.password.data, phone=form.phone.data,
                                                locale=session.get("locale"))
        except (WorkflowError, account_ops.AccountError) as exc:
            db.session.rollback()
            flash(getattr(exc, "message", str(exc)), "danger")
        else:
            _sign_in(user)
            flash(_("Welcome! You have joined %(org)s.", org=invitation.organisation.name), "success")
            return redirect(url_for("core.index"))
    return render_template("orgs/accept_invitation.html", invitation=invitation, form=form, mode="signup")
