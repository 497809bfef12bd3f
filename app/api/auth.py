"""Server API authentication: `Authorization: Bearer <api_key>`, one site per key."""
from functools import wraps

from flask import current_app, g, request
from flask_smorest import abort

from app.extensions import rate_limits
from app.services import audit
from app.services.sites.keys import api_key_id, site_key_for_api_key
from app.services.sites.snapshot import site_snapshot

BEARER_SCHEME = {"type": "http", "scheme": "bearer", "description": "A site's secret API key (opsiq_sk_...)"}
SECURITY = [{"ApiKey": []}]


def register_security(api):
    """Declare the bearer scheme in the OpenAPI document."""
    api.spec.components.security_scheme("ApiKey", BEARER_SCHEME)


def bearer_token(header):
    """The token of an `Authorization: Bearer <token>` header; "" for any other header or none."""
    scheme, _, token = (header or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def site_for_authorization(header, max_age):
    """The cached snapshot of the site whose API key an `Authorization` header carries, or a 401.

    Keys are compared in constant time against stored hashes; a revoked key is unknown (other
    processes see a revocation within SITE_CACHE_SECONDS, as they see any site change). A key
    past RATE_LIMIT_SERVER raises RateLimited (429).
    """
    token = bearer_token(header)
    if not token:
        abort(401, message="Send the site's API key as `Authorization: Bearer <api_key>`.",
              headers={"WWW-Authenticate": 'Bearer realm="opsiq"'})
    site_key = site_key_for_api_key(token, max_age)
    snap = site_snapshot(site_key, max_age) if site_key is not None else None
    if snap is None:
        abort(401, message="Unknown or revoked API key.", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    rate_limits.server(token)  # every server endpoint comes through here, the check's front door too
    return snap


def api_key_required(view):
    """Resolve the bearer key to its site or answer 401, before the body is read. `g.site_snapshot`
    (and `g.site`, the same object, with `id`, `site_key`, `name`) is the site's cached snapshot."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        snap = site_for_authorization(request.headers.get("Authorization"), current_app.config["SITE_CACHE_SECONDS"])
        g.site = g.site_snapshot = snap
        audit.identify(audit.api_key_actor(api_key_id(bearer_token(request.headers.get("Authorization")))))
        return view(*args, **kwargs)

    wrapper._apidoc = getattr(view, "_apidoc", {})
    wrapper._apidoc.setdefault("manual_doc", {}).setdefault("security", SECURITY)
    return wrapper
