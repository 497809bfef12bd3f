"""GET /w/<site_key>.js: the built widget (app/widget_file.py) with the site's configuration, resolved for this visitor, inlined."""
import hashlib
import json
import os

from flask import Blueprint, Response, current_app, request

from app.api.browser import resolved_config
from app.errors import RateLimited
from app.extensions import rate_limits
from app.schemas.sites import SiteConfigOut
from app.services.sites import sightings
from app.services.sites.snapshot import site_snapshot
from app.widget_file import widget_parts

bp = Blueprint("embed", __name__)

JS = "application/javascript; charset=utf-8"


def js_literal(value):
    """JSON that is also safe anywhere in a script: no `</script>`, `<!--`, or JS line terminators."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    # `<` only ever occurs inside JSON strings, where the \u escape means the same character.
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def script_response(body, status=200, cache="private, max-age=300"):
    """A script with an ETag of its body; answers 304 to a matching If-None-Match."""
    resp = Response(body, status=status, content_type=JS)
    resp.headers["Cache-Control"] = cache
    if status == 200:
        resp.headers["Vary"] = "Accept-Language, Sec-GPC"
        resp.set_etag(hashlib.sha256(resp.get_data()).hexdigest()[:32])
        resp.make_conditional(request)
    return resp


@bp.get("/w/<site_key>.js")
def get_widget(site_key):
    """The widget for one site, its configuration resolved for the visitor (regime, language, GPC).

    No Origin check: a script tag sends none. An unknown site gets a 404 script that only warns.
    """
    try:
        rate_limits.browser(request.remote_addr, site_key)
    except RateLimited as e:  # a script tag reads no JSON: a script that only warns, and when to retry
        resp = script_response(f"console.warn({js_literal('OpsIQ Consent: ' + e.message)})\n", 429, "no-store")
        resp.headers["Retry-After"] = str(e.retry_after)
        return resp
    snap = site_snapshot(site_key, current_app.config["SITE_CACHE_SECONDS"])
    if snap is None:
        warning = js_literal(f"OpsIQ Consent: no site with key {site_key!r}; check the script tag.")
        return script_response(f"console.warn({warning})\n", status=404, cache="no-cache")
    before, after = widget_parts(os.path.join(current_app.static_folder, "widget.js"))
    config = SiteConfigOut().dump(resolved_config(snap))
    sightings.saw(snap, sightings.origin_of(request.headers.get("Referer")), "widget")  # the page it is on
    return script_response(before + js_literal(config) + after)
