"""The owner dashboard at /admin: server-rendered pages (app/templates/admin/), one module per concern.

- `auth`: sign in (password, then a second factor's code where the user has one), sign out
- `sites`: the sites a user may see, and each site's overview
- `banner`: the banner editor, its live preview of the real widget, and publishing
- `statistics`: the overview's figures and charts (the stats API's, from the rollups)
- `subject_requests`: the register of data-subject requests, with export and erasure
- `audit_log`: a site's audit log, filtered, and as CSV
- `consent_log`: the consent log: records searched and paged, each record's proof, the CSV export
- `proof_packs`: each policy version's proof pack: its facts, seal and screenshots, its ZIP, a rebuild
- `account`: the user's own password and second factor
- `users`: the installation's users, for installation owners: made, changed, disabled, reset
- `keys`, `webhooks`, `settings`: a site's API keys, webhook endpoints, and email double-opt-in default
- `session`: Flask-Login's wiring, session rotation, the idle timeout
- `forms`, `pages`: the forms (each with its CSRF token) and how a page or an error is answered

Every request to the blueprint passes `guard` first: a POST without a valid CSRF token is a 400
(CSRFProtect, on this blueprint only: the JSON API and the widget's endpoints take none); a page
other than sign-in needs a signed-in user; an idle session is signed out; a user whom the
installation requires to have a second factor can only set one up. Which sites and actions a user
may reach is app/services/users/roles.py's, asked by each view through access.site_for.
"""
from urllib.parse import urlsplit

from flask import flash, redirect, request, url_for
from flask_login import current_user

from app.admin import pages, session as admin_session
from app.admin.blueprint import bp
from app.extensions import csrf
from app.services import audit
from app.services.users import roles, sign_in

PUBLIC = {"admin.sign_in", "admin.sign_in_code"}  # reached without a session
SETUP_ONLY = {"admin.account", "admin.set_up_second_factor", "admin.enable_second_factor", "admin.sign_out"}


def init_app(app):
    """Register the dashboard, its sessions and its CSRF checks, and send `/` to it."""
    from app.admin import account, auth, banner, sites, statistics, users  # noqa: F401  (their routes join bp)
    from app.admin import consent_log, subject_requests, audit_log  # noqa: F401  (after the others: in their navigation's order)
    from app.admin import proof_packs  # noqa: F401
    from app.admin import keys, webhooks, scans, settings  # noqa: F401

    csrf.init_app(app)
    admin_session.init_app(app)
    app.register_blueprint(bp)
    app.add_url_rule("/", "index", lambda: redirect(url_for("admin.home")))


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a dashboard path given in `next`, else the home page (never
    another host: an open redirect would send people from our sign-in to anyone's page)."""
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin/") or parts.path.startswith("//"):
        return url_for("admin.home")
    return parts.path + (f"?{parts.query}" if parts.query else "")


@bp.before_request
def guard():
    """CSRF, then who is signed in: the idle timeout, the audit actor, a required second factor."""
    csrf.protect()
    user = admin_session.signed_in_user()
    if user is not None:
        audit.identify(audit.user_actor(user.id))
        if admin_session.idle_expired():
            sign_in.signed_out(user, "idle")
            admin_session.end()
            flash(f"You were signed out after {admin_session.idle_minutes()} minutes without activity.")
            return redirect(url_for("admin.sign_in", next=request.full_path.rstrip("?")))
        admin_session.touch()
        if request.endpoint not in SETUP_ONLY and sign_in.must_set_up_second_factor(user):
            flash("This installation requires two-step sign-in: set it up to continue.")
            return redirect(url_for("admin.account"))
    elif request.endpoint not in PUBLIC:
        return redirect(url_for("admin.sign_in", next=request.full_path.rstrip("?")))
    return None


bp.after_request(pages.add_headers)
bp.register_error_handler(Exception, pages.error_page)


@bp.context_processor
def template_globals():
    """`current_user`, and `may(permission, site_id=None)` so a page shows only what the user may use."""
    user = admin_session.signed_in_user()
    return {"current_user": current_user,
            "may": lambda permission, site_id=None: user is not None and roles.may(user, permission, site_id)}
