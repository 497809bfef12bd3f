"""Signing in and out: /admin/login (email and password), /admin/login/code (the second factor),
/admin/logout.

Each attempt is first asked of the sign-in throttle (app/ratelimits.py: failures per client
address and per account; past either, a 429 page) and counted there when it fails. Who is
signing in is named for the audit log before the check: the account's id, or `anonymous` for an
email no user has.
"""
from flask import flash, redirect, request, url_for

from app.admin import safe_next, session as admin_session
from app.admin.blueprint import bp
from app.admin.forms import CodeForm, SignInForm
from app.admin.pages import page, show_errors
from app.extensions import rate_limits
from app.services import audit
from app.services.keyring import normalise_email
from app.services.users import accounts, sign_in
from app.services.users.errors import AccountDisabled, SignInRefused


def _form_status(form):
    return 422 if request.method == "POST" and form.errors else 200


@bp.route("/login", methods=["GET", "POST"], endpoint="sign_in")
def sign_in_page():
    """The sign-in form; a right password signs in, or asks for the second factor's code."""
    target = safe_next(request.args.get("next"))
    if admin_session.signed_in_user() is not None:
        return redirect(target)
    form = SignInForm()
    if form.validate_on_submit():
        email = normalise_email(form.email.data)
        rate_limits.sign_in_allowed(request.remote_addr, email)
        user = accounts.find_user(email)
        audit.identify(audit.user_actor(user.id) if user else audit.ANONYMOUS)
        try:
            sign_in.check_password(user, form.password.data)
        except SignInRefused as e:
            rate_limits.sign_in_failed(request.remote_addr, email)
            show_errors(form, e)
            return page("admin/login.html", 401, form=form)
        except AccountDisabled as e:
            show_errors(form, e)
            return page("admin/login.html", 403, form=form)
        if sign_in.needs_code(user):
            admin_session.start_code_step(user)
            return redirect(url_for("admin.sign_in_code", next=request.args.get("next")))
        admin_session.begin(user, form.password.data)
        rate_limits.sign_in_succeeded(email)
        return redirect(target)
    return page("admin/login.html", _form_status(form), form=form)



@bp.route("/login/code", methods=["GET", "POST"])
def sign_in_code():
    """The second step: a current code of the user's second factor completes the sign-in."""
    target = safe_next(request.args.get("next"))
    user = admin_session.pending_user()
    if user is None:
        flash("Sign in again: the time to type the code ran out, or the sign-in was not started.")
        return redirect(url_for("admin.sign_in", next=request.args.get("next")))
    form = CodeForm()
    if form.validate_on_submit():
        rate_limits.sign_in_allowed(request.remote_addr, user.email)
        audit.identify(audit.user_actor(user.id))
        try:
            sign_in.check_code(user, form.code.data)
        except SignInRefused:
            rate_limits.sign_in_failed(request.remote_addr, user.email)
            form.code.errors = ["That code is not right, or was used already: type the one your app shows now."]
            return page("admin/login_code.html", 401, form=form)
        except AccountDisabled as e:
            show_errors(form, e)
            return page("admin/login_code.html", 403, form=form)
        admin_session.begin(user)
        rate_limits.sign_in_succeeded(user.email)
        return redirect(target)
    return page("admin/login_code.html", _form_status(form), form=form)


@bp.post("/logout")
def sign_out():
    """Sign out (a POST with the page's CSRF token, so no other site can sign anyone out)."""
    sign_in.signed_out(admin_session.signed_in_user())
    admin_session.end()
    flash("You are signed out.")
    return redirect(url_for("admin.sign_in"))
