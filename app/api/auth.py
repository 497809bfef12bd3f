"""Server API authentication: `Authorization: Bearer <api_key>`, one site per key."""
from functools import wraps

from flask import g, request
from flask_smorest import abort

from app.services.sites import site_for_api_key, site_snapshot

BEARER_SCHEME = {"type": "http", "scheme": "bearer", "description": "A site's secret API key (opsiq_sk_...)"}


def register_security(api):
    """Declare the bearer scheme in the OpenAPI document."""
    api.spec.components.security_scheme("ApiKey", BEARER_SCHEME)


def api_key_required(view):
    """Resolve the bearer key to its site (in `g.site` and `g.site_snapshot`) or answer 401.

    Keys are compared in constant time against stored hashes; a revoked key is unknown.
    """

    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            abort(401, message="Send the site's API key as `Authorization: Bearer <api_key>`.",
                  headers={"WWW-Authenticate": 'Bearer realm="opsiq"'})
        site = site_for_api_key(token.strip())
        if site is None:
            abort(401, message="Unknown or revoked API key.", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        g.site = site
        from flask import current_app

        g.site_snapshot = site_snapshot(site.site_key, current_app.config["SITE_CACHE_SECONDS"])
        return view(*args, **kwargs)

    wrapper._apidoc = getattr(view, "_apidoc", {})
    wrapper._apidoc.setdefault("manual_doc", {}).setdefault("security", [{"ApiKey": []}])
    return wrapper
