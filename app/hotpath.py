"""The two busiest routes, answered in front of Flask's request machinery.

`POST /api/v1/consents` (every visitor's decision) and `POST /api/v1/consent-checks` (every
collector's question) carry most of the traffic. Through Flask, flask-smorest and webargs they
spend more CPU on the framework than on the work (see bench/): a request context, a session
opened and saved, a marshmallow load, decorator stacks. This WSGI layer answers the ordinary,
well-formed case of each route itself, with the same services the Flask views call, and hands
everything else to Flask untouched:

- only a body it can read whole (a Content-Length within MAX_CONTENT_LENGTH);
- only input that passes a strict subset of the schema's rules (`consent_input`, `check_input`;
  tests hold that whatever they accept, the schema accepts with the same result);
- never an error: an unknown site or key, a refused origin, a field the site does not have are
  all left to Flask, so every error keeps the one JSON error shape and its exact wording.

A handed-on request gets its body back, byte for byte; nothing has been written for it. Set
config HOT_PATHS = False to send everything through Flask (tests compare the two).
"""
import io
import json
import re

from app.api.errors import error_payload
from app.errors import Invalid
from app.ledger.rules import VISITOR_ID_PATTERN
from app.schemas.consent import BROWSER_METHODS, is_page_url
from app.services import checks
from app.services.consent import record_consent, response_body
from app.services.sites import site_key_for_api_key, site_snapshot

_VISITOR = re.compile(VISITOR_ID_PATTERN).match
# the canonical form fields.UUID loads to (str(uuid.UUID(...))): any other spelling goes to Flask
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z").match
_CONSENT_REQUIRED = frozenset(("site_key", "visitor_id", "client_record_id", "decisions", "method"))
_CONSENT_FIELDS = _CONSENT_REQUIRED | {"policy_version", "language", "page_url", "gpc"}
_CHECK_FIELDS = frozenset(("visitor_id", "purpose", "gpc"))
_METHODS = frozenset(BROWSER_METHODS)
_JSON = [("Content-Type", "application/json")]


def _text(value, lo, hi):
    return type(value) is str and lo <= len(value) <= hi


def _optional_text(value, lo, hi):
    return value is None or _text(value, lo, hi)


def consent_input(body):
    """ConsentIn's result for a body it certainly accepts, else None (let the schema speak)."""
    if type(body) is not dict or not _CONSENT_REQUIRED <= body.keys() or not body.keys() <= _CONSENT_FIELDS:
        return None
    decisions = body["decisions"]
    if not (_text(body["site_key"], 1, 32) and type(body["visitor_id"]) is str and _VISITOR(body["visitor_id"])
            and type(body["client_record_id"]) is str and _UUID(body["client_record_id"])
            and type(decisions) is dict and type(body["method"]) is str and body["method"] in _METHODS):
        return None
    for slug, value in decisions.items():
        if not (1 <= len(slug) <= 64 and type(value) is bool):
            return None
    page_url = body.get("page_url")
    if not (_optional_text(body.get("policy_version"), 1, 64) and _optional_text(body.get("language"), 2, 16)
            and (page_url is None or (_text(page_url, 0, 2048) and is_page_url(page_url)))
            and type(body.get("gpc", False)) is bool):
        return None
    return {
        "site_key": body["site_key"], "visitor_id": body["visitor_id"], "client_record_id": body["client_record_id"],
        "decisions": decisions, "method": body["method"], "policy_version": body.get("policy_version"),
        "language": body.get("language"), "page_url": page_url, "gpc": body.get("gpc", False),
    }


def check_input(body):
    """ConsentCheckIn's result for a plain {visitor_id, purpose[, gpc]} body, else None."""
    if type(body) is not dict or not body.keys() <= _CHECK_FIELDS or "visitor_id" not in body or "purpose" not in body:
        return None
    vid, purpose, gpc = body["visitor_id"], body["purpose"], body.get("gpc", False)
    if not (type(vid) is str and _VISITOR(vid) and _text(purpose, 1, 64) and type(gpc) is bool):
        return None
    return {"visitor_id": vid, "purpose": purpose, "gpc": gpc, "ip": None, "country": None, "region": None}


class HotPaths:
    """WSGI middleware: the ordinary case of the two hot routes, else the Flask app below."""

    def __init__(self, flask_app, wsgi_app):
        self.flask_app = flask_app
        self.wsgi_app = wsgi_app
        self.routes = {"/api/v1/consents": self.record, "/api/v1/consent-checks": self.check}

    def __call__(self, environ, start_response):
        handler = self.routes.get(environ.get("PATH_INFO")) if environ.get("REQUEST_METHOD") == "POST" else None
        config = self.flask_app.config
        if handler is None or not config["HOT_PATHS"]:
            return self.wsgi_app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            length = -1
        if not 0 < length <= config["MAX_CONTENT_LENGTH"]:  # chunked, empty or too big: Flask says so
            return self.wsgi_app(environ, start_response)
        raw = environ["wsgi.input"].read(length)
        answer = None
        if len(raw) == length:
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                body = None
            if body is not None:
                with self.flask_app.app_context():
                    try:
                        answer = handler(environ, body)
                    except Exception:
                        if self.flask_app.testing:
                            raise
                        self.flask_app.logger.exception("unhandled error")
                        answer = 500, error_payload(500, "Internal Server Error", "Internal error; it has been logged."), []
        if answer is None:  # Flask reads the same bytes
            environ["wsgi.input"] = io.BytesIO(raw)
            return self.wsgi_app(environ, start_response)
        status, payload, headers = answer
        data = json.dumps(payload, separators=(",", ":")).encode()
        start_response(_STATUS[status], _JSON + [("Content-Length", str(len(data)))] + headers)
        return [data]

    def record(self, environ, body):
        data = consent_input(body)
        if data is None:
            return None
        config = self.flask_app.config
        snap = site_snapshot(data["site_key"], config["SITE_CACHE_SECONDS"])
        if snap is None:
            return None
        origin = environ.get("HTTP_ORIGIN")
        if origin and origin != "null" and origin.lower() not in snap.origins:
            return None
        gpc = environ.get("HTTP_SEC_GPC", "").strip() == "1"
        try:
            result = record_consent(snap, data, environ.get("REMOTE_ADDR"), environ.get("HTTP_USER_AGENT", ""), gpc)
        except Invalid:  # raised before anything is written: Flask answers the 422
            return None
        headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")] if origin else []
        return 201 if result.created else 200, response_body(result), headers

    def check(self, environ, body):
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        token = token.strip()
        data = check_input(body)
        if scheme.lower() != "bearer" or not token or data is None:
            return None
        config = self.flask_app.config
        max_age = config["SITE_CACHE_SECONDS"]
        site_key = site_key_for_api_key(token, max_age)
        snap = site_snapshot(site_key, max_age) if site_key is not None else None
        if snap is None or data["purpose"] not in snap.slugs:
            return None
        clock = config.get("CLOCK")
        answer = checks.check_consent(snap, data["visitor_id"], data["purpose"], clock() if clock else None,
                                      gpc=data["gpc"])
        return 200, answer.as_dict(), []


_STATUS = {200: "200 OK", 201: "201 CREATED", 500: "500 INTERNAL SERVER ERROR"}


def install(app):
    """Put the hot paths in front of the app's WSGI callable (inside ProxyFix, which must run first)."""
    app.wsgi_app = HotPaths(app, app.wsgi_app)
    return app

