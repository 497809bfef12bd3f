"""Browser-facing API: a site's resolved configuration and recording decisions."""
import json

from flask import Response, current_app, request, url_for
from flask_smorest import abort

from app.api.parsing import ApiBlueprint
from app.errors import Invalid
from app.extensions import geo
from app.schemas.consent import ConsentIn, ConsentOut
from app.schemas.sites import SiteConfigOut
from app.services.consent import record_consent, response_body
from app.services.geo import truncate_ip
from app.services.sites import resolve_config, site_snapshot

blp = ApiBlueprint("browser", __name__, url_prefix="/api/v1", description="Called by the widget in visitors' browsers")


def gpc_header():
    """Only the exact value `1` of Sec-GPC counts (W3C Global Privacy Control)."""
    return request.headers.get("Sec-GPC", "").strip() == "1"


def load_site(site_key):
    snap = site_snapshot(site_key, current_app.config["SITE_CACHE_SECONDS"])
    if snap is None:
        abort(404, message=f"No site with key {site_key!r}.")
    return snap


def check_origin(snap):
    """A browser call from an origin the site did not list is refused; server calls send none."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and origin.lower() not in snap.origins:
        abort(403, message=f"Origin {origin} is not allowed for this site.")
    return origin


def allow_cors(response, origin):
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


def resolved_config(snap):
    """The site configuration for the current request's visitor (shared with the embed)."""
    loc = geo.locate(truncate_ip(request.remote_addr))
    endpoint = url_for("browser.create_consent", _external=True)
    return resolve_config(snap, loc, request.headers.get("Accept-Language"), gpc_header(), endpoint)


@blp.get("/sites/<site_key>/config")
@blp.response(200, SiteConfigOut)
def get_site_config(site_key):
    """The site's configuration resolved for the caller: regime, language, texts, purposes."""
    snap = load_site(site_key)
    origin = check_origin(snap)
    headers = {"Cache-Control": "private, max-age=300", "Vary": "Accept-Language, Sec-GPC, Origin"}
    if origin:
        headers["Access-Control-Allow-Origin"] = origin
    return resolved_config(snap), 200, headers


@blp.post("/consents")
@blp.arguments(ConsentIn())  # an instance: webargs would build (and deep-copy) a class per request
@blp.response(201, ConsentOut)
@blp.alt_response(200, schema=ConsentOut, description="The same client_record_id again: the first record")
def create_consent(data):
    """Record a visitor's decision. JSON or text/plain; a repeated client_record_id writes nothing."""
    snap = load_site(data["site_key"])
    origin = check_origin(snap)
    try:
        result = record_consent(snap, data, request.remote_addr, request.user_agent.string, gpc_header())
    except Invalid as e:  # until domain errors are mapped once for the API
        abort(422, errors=e.errors)
    body = response_body(result)
    headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {}
    return Response(json.dumps(body, separators=(",", ":")), 201 if result.created else 200, headers,
                    mimetype="application/json")


@blp.after_app_request
def preflight_headers(response):
    """Answer CORS preflights for callers that send application/json instead of text/plain."""
    if request.method == "OPTIONS" and request.path.startswith("/api/v1/") and request.headers.get("Origin"):
        response.headers.update({
            "Access-Control-Allow-Origin": request.headers["Origin"], "Vary": "Origin",
            "Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "86400",
        })
    return response
