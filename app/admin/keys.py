"""A site's API keys (/admin/sites/<site_key>/keys), for its owners (keys.manage): the keys by id,
a new key (its secret shown on the answer page once, never again: only its hash is kept), and
revoking one after a confirmation step. app/services/sites/keys.py does the work and the audit
entries (key.created, key.revoked), as for `flask keys`."""
from flask import flash, redirect, request, url_for

from app.admin.blueprint import bp
from app.admin.session import signed_in_user
from app.admin.sites import SITE_PAGES, site_page
from app.errors import NotFound
from app.services.sites import keys
from app.services.users import access

SITE_PAGES.append(("admin.api_keys", "API keys", "keys.manage"))
PERMISSION = "keys.manage"


def _active_key(site, key_id):
    """The site's unrevoked key with this id, or NotFound (another site's keys are not found either)."""
    for key in keys.list_api_keys(site):
        if key.prefix == key_id and key.revoked_at is None:
            return key
    raise NotFound("This site has no active API key with this id.")


@bp.get("/sites/<site_key>/keys")
def api_keys(site_key):
    """The site's API keys: id, label, created, revoked; and the form for a new one."""
    user = signed_in_user()
    site = access.site_for(user, site_key, PERMISSION)
    return site_page("admin/site/keys.html", site, user, keys=keys.list_api_keys(site))


@bp.post("/sites/<site_key>/keys")
def create_api_key(site_key):
    """Make a key and show its secret, once, on this answer (never put in a redirect or the session)."""
    user = signed_in_user()
    site = access.site_for(user, site_key, PERMISSION)
    secret = keys.create_api_key(site, request.form.get("name", "").strip()[:100])
    return site_page("admin/site/key_created.html", site, user, secret=secret, key_id=keys.api_key_id(secret))


@bp.get("/sites/<site_key>/keys/<key_id>/revoke")
def revoke_api_key_form(site_key, key_id):
    """The confirmation step before a key is revoked."""
    user = signed_in_user()
    site = access.site_for(user, site_key, PERMISSION)
    key = _active_key(site, key_id)
    return site_page("admin/site/confirm.html", site, user, heading="Revoke an API key",
                     message=f"Revoke the key {key.prefix}…{' (' + key.name + ')' if key.name else ''}? "
                             "Servers that use it are refused from now on; this cannot be undone.",
                     action=url_for("admin.revoke_api_key", site_key=site.site_key, key_id=key.prefix),
                     button="Revoke the key", back=url_for("admin.api_keys", site_key=site.site_key))


@bp.post("/sites/<site_key>/keys/<key_id>/revoke")
def revoke_api_key(site_key, key_id):
    """Revoke the key (confirmed on the page before)."""
    user = signed_in_user()
    site = access.site_for(user, site_key, PERMISSION)
    key = _active_key(site, key_id)
    keys.revoke_api_key(key.prefix, site)
    flash(f"The key {key.prefix}… is revoked.")
    return redirect(url_for("admin.api_keys", site_key=site.site_key))
