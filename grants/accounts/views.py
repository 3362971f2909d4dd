"""Sign in and out, passwords, and the administrator's user pages."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user

from grants.accounts import hooks as accounts_hooks
from grants.accounts import operations as ops
from grants.accounts import throttle
from grants.accounts.forms import (
    ROLE_LABELS,
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    NewUserForm,
    ResetPasswordForm,
    UserForm,
)
from grants.accounts.models import ROLES, User, UserRole
from grants.core.actions import action
from grants.core.pagination import paginate
from grants.core.permissions import require
from grants.core.redirects import safe_next, safe_referrer
from grants.extensions import db, limiter

bp = Blueprint("accounts", __name__)


def _wait_message(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return ngettext(
        "Too many failed sign-ins for this e-mail address or from your network. Please wait "
        "%(num)d minute and try again, or reset your password: a reset link always works.",
        "Too many failed sign-ins for this e-mail address or from your network. Please wait "
        "%(num)d minutes and try again, or reset your password: a reset link always works.",
        minutes,
    )


@bp.route("/login", methods=["GET", "POST"])
def login():
    """E-mail and password sign-in; a fresh server-side session each time.

    Failed sign-ins back off per e-mail address and per client address
    (:mod:`grants.accounts.throttle`); no account is ever locked.
    """
    if current_user.is_authenticated:
        return redirect(url_for("core.index"))
    form = LoginForm()
    if form.validate_on_submit():
        delayed = None
        with action() as done:  # a failed attempt counts towards the back-off, so it is kept
            try:
                user = ops.authenticate(form.email.data, form.password.data, request.remote_addr)
            except ops.SignInDelayed as exc:
                user, delayed = None, exc.seconds
            if user is not None:
                locale = session.get("locale")
                session.clear()
                ops.log_in(user)
                if user.locale is None and locale:
                    user.locale = locale
        if delayed is not None:
            return render_template(
                "accounts/login.html", form=form, delayed=_wait_message(delayed)
            ), 429
        if done and user is not None:
            login_user(user)
            return redirect(safe_next(request.args.get("next"), url_for("core.index")))
        flash(
            _("The e-mail address or password is not correct, or the account is disabled."),
            "danger",
        )
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        with action():
            ops.log_out(current_user)
        logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    require("account.change_password")
    form = ChangePasswordForm()
    if form.validate_on_submit():
        delayed = wrong = None
        with action(form=form, field="current") as done:
            try:
                ops.change_password(current_user, form.current.data, form.password.data)
            except ops.SignInDelayed as exc:
                delayed = exc.seconds
            except ops.AccountError as exc:
                wrong = str(exc)  # the failure counts towards the back-off, so it is kept
        if delayed is not None:
            form.current.errors.append(_wait_message(delayed))
            return render_template("accounts/change_password.html", form=form), 429
        if wrong is not None:
            form.current.errors.append(wrong)
        elif done:
            flash(_("Your password has been changed. Other sessions were signed out."), "success")
            return redirect(url_for("core.index"))
    return render_template("accounts/change_password.html", form=form)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
@limiter.limit("5 per hour", key_func=throttle.recipient_key, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        with action():
            ops.request_password_reset(form.email.data)
        flash(
            _("If an account uses this address, we have sent it a link to reset the password."),
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot_password.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        ops.user_for_reset_token(token)
    except ops.AccountError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("accounts.forgot_password"))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        with action() as done:
            ops.reset_password(token, form.password.data)
        if not done:  # used meanwhile (another tab, a second click)
            return redirect(url_for("accounts.forgot_password"))
        flash(_("Your new password is set. Please sign in."), "success")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_password.html", form=form), (
        422 if form.is_submitted() else 200
    )


def _organisation_choices():
    return [(0, "—"), *accounts_hooks.organisation_choices.ask()]


@bp.get("/admin/users")
def users():
    require("users.manage")
    q = (request.args.get("q") or "").strip()
    role = request.args.get("role") or ""
    status = request.args.get("status") or ""
    stmt = sa.select(User).order_by(User.email)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(sa.or_(User.email.ilike(like), User.name.ilike(like)))
    if role in ROLES:
        stmt = stmt.where(User.roles.any(UserRole.role == role))
    if status in ("active", "disabled"):
        stmt = stmt.where(User.active.is_(status == "active"))
    return render_template(
        "accounts/users.html",
        page=paginate(stmt),
        q=q,
        role=role,
        status=status,
        role_labels=ROLE_LABELS,
    )


@bp.route("/admin/users/new", methods=["GET", "POST"])
def new_user():
    require("users.manage")
    form = NewUserForm()
    form.organisation_id.choices = _organisation_choices()
    if form.validate_on_submit():
        with action(form=form, field="email") as done:
            user = ops.create_user(
                email=form.email.data,
                name=form.name.data,
                password=form.password.data or None,
                roles=form.roles.data,
                organisation_id=form.organisation_id.data or None,
                phone=form.phone.data,
                actor=current_user,
            )
        if done:
            flash(_("The account %(email)s has been created.", email=user.email), "success")
            return redirect(url_for("accounts.users"))
    return render_template("accounts/user_form.html", form=form, user=None)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int):
    require("users.manage")
    user = db.session.get(User, user_id) or abort(404)
    form = UserForm(obj=user)
    form.organisation_id.choices = _organisation_choices()
    if not request.form:  # shown (or posted empty): the fields hold the account's own values
        form.roles.data = sorted(user.role_names)
        form.organisation_id.data = user.organisation_id or 0
    if form.validate_on_submit():
        with action(form=form, field="email") as done:
            ops.update_user(
                user,
                email=form.email.data,
                name=form.name.data,
                phone=form.phone.data,
                roles=form.roles.data,
                organisation_id=form.organisation_id.data or None,
                actor=current_user,
            )
        if done:
            flash(_("The account has been saved."), "success")
            return redirect(url_for("accounts.users"))
    return render_template("accounts/user_form.html", form=form, user=user)


@bp.post("/admin/users/<int:user_id>/active")
def set_user_active(user_id: int):
    """Disable (ending every session at once) or re-enable an account."""
    user = db.session.get(User, user_id) or abort(404)
    require("users.disable", user)
    active = request.form.get("active") == "1"
    with action() as done:
        ops.set_active(user, active, current_user)
    if done and active:
        flash(_("%(email)s can sign in again.", email=user.email), "success")
    elif done:
        flash(
            _("%(email)s is disabled and has been signed out everywhere.", email=user.email),
            "warning",
        )
    return redirect(safe_referrer(url_for("accounts.users")))
