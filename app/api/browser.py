"""Browser-facing API: a site's resolved configuration and recording decisions.

`record_decision` is the one handler of `POST /api/v1/consents`: the Flask view below and the
front door (`app/api/front_door.py`) both call it with plain values, so the origin check, CORS,
validation and the answer's shape exist once.
"""
import os

from flask import current_app, request, url_for
from flask_smorest import abort

from app.api.parsing import ApiBlueprint, load_body, read_body
from app.api.replies import Reply, to_response
from app.errors import NotFound
from app.extensions import geo, rate_limits
from app.schemas.consent import ConsentIn, ConsentOut, fast_consent_input
from app.schemas.sites import SiteConfigOut
from app.services import widget_builds
from app.services.consent import record_consent
from app.services.geo import truncate_ip
from app.services.scanner.override import REGION_HEADER, location_from
from app.services.sites import sightings
from app.services.sites.resolution import resolve_config
from app.services.sites.snapshot import site_snapshot
from app.widget_file import widget_build

blp = ApiBlueprint("browser", __name__, url_prefix="/api/v1", description="Called by the widget in visitors' browsers")

_consent_in = ConsentIn()  # one instance: building a schema per request costs more than loading with it


def gpc_from(header):
    """Only the exact value `1` of Sec-GPC counts (W3C Global Privacy Control)."""
    return (header or "").strip() == "1"


def require_snapshot(site_key, max_age):
    """The site's cached snapshot, or a 404 naming the key."""
    snap = site_snapshot(site_key, max_age)
    if snap is None:
        raise NotFound(f"No site with key {site_key!r}.")
    return snap


def browser_site(site_key, origin, address):
    """What every browser endpoint does first: count the call against RATE_LIMIT_BROWSER (429 past
    it), then the site's snapshot (404) and the origin check (403)."""
    rate_limits.browser(address, site_key)
    snap = require_snapshot(site_key, current_app.config["SITE_CACHE_SECONDS"])
    check_origin(snap, origin)
    return snap


def check_origin(snap, origin):
    """A browser call from an origin the site did not list is refused; server calls send none.
    `Origin: null` (a sandboxed iframe, a file: page, a redirect) is an origin no site lists."""
    if origin and origin.lower() not in snap.origins:
        abort(403, message=f"Origin {origin} is not allowed for this site.")


def cors_headers(origin, vary="Origin"):
    """The headers that let the calling page read an answer (none for a call without an Origin)."""
    return {"Access-Control-Allow-Origin": origin, "Vary": vary} if origin else {}


def consent_answer(result):
    """The body of a recorded decision: ConsentOut's shape (tests hold the two equal), built directly."""
    rec = result.record
    return {
        "record_id": rec.record_id, "receipt": result.receipt, "event": rec.event, "regime": rec.regime,
        "country": rec.country, "region": rec.region, "decisions": rec.decisions,
        "decided_at": rec.created_at.isoformat(), "expires_at": rec.expires_at.isoformat(),
    }


def record_decision(raw, origin, ip, user_agent, sec_gpc) -> Reply:
    """Record one decision from its raw body and the request's Origin, address, User-Agent and Sec-GPC."""
    body = read_body(raw)
    data = fast_consent_input(body) or load_body(_consent_in, body)
    snap = browser_site(data["site_key"], origin, ip)
    result = record_consent(snap, data, ip, user_agent, gpc_from(sec_gpc))
    sightings.saw(snap, origin, "decision")
    return Reply(201 if result.created else 200, consent_answer(result), cors_headers(origin))


def resolved_config(snap):
    """The site configuration for the current request's visitor (shared with the embed), naming the
    widget build it goes with (noted as served: decisions collected with it may name it)."""
    # a scan's signed region (app/services/scanner/override.py) places it without a proxy there
    loc = (location_from(request.headers.get(REGION_HEADER), current_app.config["SECRET_KEY"])
           or geo.locate(truncate_ip(request.remote_addr)))
    endpoint = url_for("browser.create_consent", _external=True)
    config = resolve_config(snap, loc, request.headers.get("Accept-Language"),
                            gpc_from(request.headers.get("Sec-GPC")), endpoint)
    config["widget_build"] = build = widget_build(os.path.join(current_app.static_folder, "widget.js"))
    widget_builds.note_served(build)
    return config


@blp.get("/sites/<site_key>/config")
@blp.response(200, SiteConfigOut)
@blp.error_response(403, "Called from an origin the site does not list")
@blp.error_response(404, "No site has this key")
def get_site_config(site_key):
    """The site's configuration resolved for the caller: regime, language, texts, purposes."""
    origin = request.headers.get("Origin")
    snap = browser_site(site_key, origin, request.remote_addr)
    headers = {"Cache-Control": "private, max-age=300", "Vary": "Accept-Language, Sec-GPC, Origin"}
    headers.update(cors_headers(origin, vary=headers["Vary"]))
    config = resolved_config(snap)
    sightings.saw(snap, origin, "widget")
    return config, 200, headers


@blp.post("/consents")
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": ConsentIn}}})
@blp.response(201, ConsentOut)
@blp.alt_response(200, schema=ConsentOut, description="The same client_record_id again: the first record")
@blp.error_response(403, "Called from an origin the site does not list, or without the visitor's secret")
@blp.error_response(404, "No site has this key")
def create_consent():
    """Record a visitor's decision. JSON or text/plain; a repeated client_record_id writes nothing."""
    return to_response(record_decision(request.get_data(), request.headers.get("Origin"), request.remote_addr,
                                       request.user_agent.string, request.headers.get("Sec-GPC")))


@blp.after_app_request
def preflight_headers(response):
    """Answer CORS preflights for callers that send application/json instead of text/plain."""
    origin = request.headers.get("Origin")
    if request.method == "OPTIONS" and request.path.startswith("/api/v1/") and origin and origin != "null":
        response.headers.update({
            **cors_headers(origin),
            "Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "86400",
        })
    return response
