"""The user's own account (/admin/account): their password, and their second factor (TOTP), set
up by typing the secret (or the otpauth URI) into an app and proving a code, or removed.

Changing the password or the second factor ends the user's other sessions (their session version
is raised) and gives this one a new session. Where a password is proved, a wrong one counts
against the sign-in throttle, so a session left open does not let anyone guess it.
"""
from flask import flash, redirect, request, url_for

from app.admin import session as admin_session
from app.admin.blueprint import bp
from app.admin.forms import EnableSecondFactorForm, PasswordForm, RemoveSecondFactorForm, SetUpSecondFactorForm
from app.admin.pages import page, show_errors
from app.errors import DomainError
from app.extensions import rate_limits
from app.services.users import accounts, second_factor, settings


def _account_page(status=200, **forms):
    """The account page, with these forms (those with errors to show) and fresh ones for the rest."""
    user = admin_session.signed_in_user()
    pending = second_factor.pending_secret(user) if not user.has_second_factor else None
    forms = {"password_form": PasswordForm(formdata=None), "setup_form": SetUpSecondFactorForm(formdata=None),
             "enable_form": EnableSecondFactorForm(formdata=None), "remove_form": RemoveSecondFactorForm(formdata=None),
             **forms}
    return page("admin/account.html", status, user=user, pending_secret=pending,
                otpauth_uri=second_factor.provisioning_uri(user, pending) if pending else None,
                required=settings.second_factor_required(), **forms)


def _proving_password(user, change, form, form_name):
    """Run `change` (which checks the user's password); a wrong password counts as a failed sign-in."""
    rate_limits.sign_in_allowed(request.remote_addr, user.email)
    try:
        change()
    except DomainError as e:
        if e.errors and ("current_password" in e.errors or "password" in e.errors):
            rate_limits.sign_in_failed(request.remote_addr, user.email)
        show_errors(form, e)
        return _account_page(422, **{form_name: form})
    admin_session.renew(user)
    return None


@bp.get("/account")
def account():
    """The account page: change the password; set up, or remove, two-step sign-in."""
    return _account_page()


@bp.post("/account/password")
def change_password():
    """Change the password, proving the current one."""
    user, form = admin_session.signed_in_user(), PasswordForm()
    if not form.validate_on_submit():
        return _account_page(422, password_form=form)
    failed = _proving_password(user, lambda: accounts.change_password(
        user, form.current_password.data, form.new_password.data), form, "password_form")
    if failed:
        return failed
    flash("Your password is changed. Your other sessions are signed out.")
    return redirect(url_for("admin.account"))


@bp.post("/account/second-factor/setup")
def set_up_second_factor():
    """Start setting up two-step sign-in: a new secret to type into an authenticator app."""
    form = SetUpSecondFactorForm()
    if not form.validate_on_submit():
        return _account_page(422, setup_form=form)
    try:
        second_factor.start_setup(admin_session.signed_in_user())
    except DomainError as e:
        show_errors(form, e)
        return _account_page(422, setup_form=form)
    return redirect(url_for("admin.account", _anchor="second-factor"))


@bp.post("/account/second-factor/enable")
def enable_second_factor():
    """Turn two-step sign-in on, once a code from the app proves it was set up."""
    user, form = admin_session.signed_in_user(), EnableSecondFactorForm()
    if not form.validate_on_submit():
        return _account_page(422, enable_form=form)
    try:
        second_factor.enable(user, form.code.data)
    except DomainError as e:
        show_errors(form, e)
        return _account_page(422, enable_form=form)
    admin_session.renew(user)
    flash("Two-step sign-in is on: each sign-in now asks for a code from your app.")
    return redirect(url_for("admin.account"))


@bp.post("/account/second-factor/remove")
def remove_second_factor():
    """Turn two-step sign-in off, proving the password (refused where the installation requires it)."""
    user, form = admin_session.signed_in_user(), RemoveSecondFactorForm()
    if not form.validate_on_submit():
        return _account_page(422, remove_form=form)
    failed = _proving_password(user, lambda: second_factor.remove(user, form.password.data), form, "remove_form")
    if failed:
        return failed
    flash("Two-step sign-in is off.")
    return redirect(url_for("admin.account"))
