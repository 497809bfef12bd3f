"""A site's settings (/admin/sites/<site_key>/settings), for the roles that edit its banner
(banner.edit: editors and owners): the email double-opt-in default, saved through
app/services/sites/administration.py as `flask email-consents double-opt-in` saves it (audited as
site.updated)."""
from flask import flash, redirect, request, url_for

from app.admin.blueprint import bp
from app.admin.session import signed_in_user
from app.admin.sites import SITE_PAGES, site_page
from app.errors import Invalid
from app.services.sites.administration import set_email_double_opt_in
from app.services.users import access

SITE_PAGES.append(("admin.site_settings", "Settings", "banner.edit"))
PERMISSION = "banner.edit"
CHOICES = {"on": True, "off": False}


@bp.get("/sites/<site_key>/settings")
def site_settings(site_key):
    """The site's email double-opt-in default, as a choice of two."""
    user = signed_in_user()
    site = access.site_for(user, site_key, PERMISSION)
    return site_page("admin/site/settings.html", site, user)


@bp.post("/sites/<site_key>/settings")
def save_site_settings(site_key):
    """Save the double-opt-in default (nothing is written when it is unchanged)."""
    user = signed_in_user()
    site = access.site_for(user, site_key, PERMISSION)
    choice = request.form.get("email_double_opt_in")
    if choice not in CHOICES:
        raise Invalid("Choose on or off.", {"email_double_opt_in": ["Choose on or off."]})
    if CHOICES[choice] != site.email_double_opt_in:
        set_email_double_opt_in(site, CHOICES[choice])
        flash(f"Email double opt-in is now {choice} for new signups.")
    else:
        flash("Nothing changed.")
    return redirect(url_for("admin.site_settings", site_key=site.site_key))
