"""The installation's users (/admin/users), for installation owners (users.manage): who may sign
in, with which role, on which sites; making a user (with a password given, or one generated and
shown once), changing their role and sites, disabling and enabling them, resetting their password
(generated, shown once) and their second factor. Each through app/services/users/accounts.py and
second_factor.py, as `flask users` does, with their audit entries; a step that locks someone out
(disabling, a reset) has a confirmation page first.

A generated password is shown on the answer page only: never in a redirect, a flash or the log.
"""
from flask import flash, redirect, request, url_for

from app.admin.blueprint import bp
from app.admin.pages import page
from app.admin.session import signed_in_user
from app.errors import Conflict, DomainError
from app.services.users import access, accounts, passwords, roles, second_factor, settings

PERMISSION = "users.manage"


def _manager():
    user = signed_in_user()
    access.require(user, PERMISSION)
    return user


def _users_page(status=200, errors=None, form=None):
    return page("admin/users.html", status, users=accounts.list_users(), role_descriptions=roles.ROLE_DESCRIPTIONS,
                required=settings.second_factor_required(), roles=roles.ROLES, sites=access.visible_sites(_manager()),
                errors=errors or {}, form=form or {"role": "viewer"})


def _user_page(user, status=200, errors=None):
    return page("admin/user.html", status, user=user, roles=roles.ROLES, sites=access.visible_sites(_manager()),
                errors=errors or {})


def _errors(error: DomainError) -> dict:
    return {**(error.errors or {}), "": [error.message]}


def _status(error: DomainError) -> int:
    return 409 if isinstance(error, Conflict) else 422


def _confirm(user, heading, message, endpoint, button):
    return page("admin/user_confirm.html", user=user, heading=heading, message=message, button=button,
                action=url_for(endpoint, user_id=user.id), back=url_for("admin.edit_user", user_id=user.id))


def _password_page(user, password, made):
    return page("admin/user_password.html", user=user, password=password, made=made)


@bp.get("/users")
def list_users():
    """Every user: email, role, sites, second factor, state, last sign-in; and the form for a new one."""
    _manager()
    return _users_page()


@bp.post("/users")
def create_user():
    """Make a user; a password left empty is generated and shown on this answer, once."""
    _manager()
    form = {"email": request.form.get("email", "").strip(), "role": request.form.get("role", ""),
            "sites": request.form.getlist("sites"), "password": request.form.get("password", "")}
    generated = not form["password"]
    password = passwords.new_password() if generated else form["password"]
    try:
        user = accounts.create_user(form["email"], form["role"], password, form["sites"])
    except DomainError as e:
        return _users_page(_status(e), _errors(e), {**form, "password": ""})
    if generated:
        return _password_page(user, password, made=True)
    flash(f"{user.email} can now sign in with the password you gave.")
    return redirect(url_for("admin.list_users"))


@bp.get("/users/<int:user_id>")
def edit_user(user_id):
    """One user: their role and sites to change, and the steps that disable or reset them."""
    _manager()
    return _user_page(accounts.get_user(user_id))


@bp.post("/users/<int:user_id>")
def change_user_role(user_id):
    """Give the user the chosen role and sites (an owner with no site is an installation owner)."""
    _manager()
    user = accounts.get_user(user_id)
    try:
        accounts.set_role(user, request.form.get("role", ""), request.form.getlist("sites"))
    except DomainError as e:
        return _user_page(user, _status(e), _errors(e))
    flash(f"{user.email} is now {user.role} on {'every site' if user.all_sites else 'the sites chosen'}.")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.get("/users/<int:user_id>/disable")
def disable_user_form(user_id):
    """The confirmation step before a user is disabled."""
    _manager()
    user = accounts.get_user(user_id)
    return _confirm(user, "Disable a user", f"Disable {user.email}? Every session of theirs ends and they cannot "
                    "sign in until enabled again.", "admin.disable_user", "Disable the user")


@bp.post("/users/<int:user_id>/disable")
def disable_user(user_id):
    """Disable the user (confirmed on the page before)."""
    _manager()
    user = accounts.get_user(user_id)
    try:
        accounts.set_disabled(user, True, keep_an_owner=True)
    except DomainError as e:
        return _user_page(user, _status(e), _errors(e))
    flash(f"{user.email} is disabled.")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.post("/users/<int:user_id>/enable")
def enable_user(user_id):
    """Let a disabled user sign in again."""
    _manager()
    user = accounts.get_user(user_id)
    accounts.set_disabled(user, False)
    flash(f"{user.email} is enabled.")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.get("/users/<int:user_id>/reset-password")
def reset_password_form(user_id):
    """The confirmation step before a user's password is replaced by a generated one."""
    _manager()
    user = accounts.get_user(user_id)
    return _confirm(user, "Reset a password", f"Give {user.email} a new, generated password? Their current one "
                    "stops working and every session of theirs ends.", "admin.reset_user_password",
                    "Reset the password")


@bp.post("/users/<int:user_id>/reset-password")
def reset_user_password(user_id):
    """A generated password, set and shown on this answer once."""
    _manager()
    user = accounts.get_user(user_id)
    password = passwords.new_password()
    accounts.reset_password(user, password)
    return _password_page(user, password, made=False)


@bp.get("/users/<int:user_id>/reset-second-factor")
def reset_second_factor_form(user_id):
    """The confirmation step before a user's second factor is removed."""
    _manager()
    user = accounts.get_user(user_id)
    return _confirm(user, "Reset two-step sign-in", f"Remove the second factor of {user.email} (a lost phone)? "
                    "They sign in with their password and set up a new one where it is required.",
                    "admin.reset_user_second_factor", "Reset two-step sign-in")


@bp.post("/users/<int:user_id>/reset-second-factor")
def reset_user_second_factor(user_id):
    """Remove the user's second factor (confirmed on the page before)."""
    _manager()
    user = accounts.get_user(user_id)
    second_factor.reset(user)
    flash(f"Two-step sign-in of {user.email} is removed.")
    return redirect(url_for("admin.edit_user", user_id=user.id))
