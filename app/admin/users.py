"""The installation's users (/admin/users), for installation owners (users.manage): who may sign
in, with which role, on which sites. Read only for now: `flask users` makes and changes them."""
from app.admin.blueprint import bp
from app.admin.pages import page
from app.admin.session import signed_in_user
from app.services.users import access, accounts, roles, settings


@bp.get("/users")
def list_users():
    """Every user: email, role, sites, second factor, state, last sign-in."""
    access.require(signed_in_user(), "users.manage")
    return page("admin/users.html", users=accounts.list_users(), role_descriptions=roles.ROLE_DESCRIPTIONS,
                required=settings.second_factor_required())
