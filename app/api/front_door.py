"""The front door: the two busiest routes dispatched to their handlers ahead of Flask.

`POST /api/v1/consents` (every visitor's decision) and `POST /api/v1/consent-checks` (every
collector's question) carry most of the traffic. A Flask view costs a request context, a session
and the view machinery on top of its work (see bench/: measured with `OPSIQ_HOT_PATHS=0`, the
same routes through Flask answer about 0.4x and 0.6x a hello-world route, against 0.6x and 1.0x
here). This WSGI layer only dispatches: it reads the body and calls the route's one handler
(`browser.record_decision`, `collectors.check_decision`) with plain values, exactly as the Flask
view does, and renders its reply or error with the one renderer (`api.errors.render_error`).
It hands the request to Flask untouched when it cannot read the whole body itself (no or a
chunked Content-Length, or one over MAX_CONTENT_LENGTH): the view then gives the same answer.
Config HOT_PATHS = False sends everything through Flask (the tests compare the two).
"""
import io
from time import perf_counter

from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from app.api.browser import record_decision
from app.api.collectors import check_decision
from app.api.errors import is_outage, render_error
from app.api.replies import Reply, security_headers
from app.errors import DomainError
from app.metrics import meter_for
from app.services.audit import request_id_from


def _record(environ, raw):
    return record_decision(raw, environ.get("HTTP_ORIGIN"), environ.get("REMOTE_ADDR"),
                           environ.get("HTTP_USER_AGENT", ""), environ.get("HTTP_SEC_GPC"))


def _check(environ, raw):
    return check_decision(raw, environ.get("HTTP_AUTHORIZATION"))


ROUTES = {"/api/v1/consents": _record, "/api/v1/consent-checks": _check}
_STATUS_LINES = {code: f"{code} {name.upper()}" for code, name in HTTP_STATUS_CODES.items()}


class FrontDoor:
    """WSGI middleware: the two routes' handlers called directly, everything else to Flask below."""

    def __init__(self, flask_app, wsgi_app):
        self.flask_app = flask_app
        self.wsgi_app = wsgi_app
        self.headers = security_headers(flask_app.config)
        # what it answers itself is counted here, what it hands to Flask by Flask (app/metrics.py): once
        self.meters = {handler: meter_for(flask_app, "POST", path) for path, handler in ROUTES.items()}

    def __call__(self, environ, start_response):
        route = ROUTES.get(environ.get("PATH_INFO")) if environ.get("REQUEST_METHOD") == "POST" else None
        config = self.flask_app.config
        if route is None or not config["HOT_PATHS"]:
            return self.wsgi_app(environ, start_response)
        started = perf_counter()
        try:
            length = int(environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            length = -1
        if not 0 < length <= config["MAX_CONTENT_LENGTH"]:  # empty, chunked or too big: Flask reads it
            return self.wsgi_app(environ, start_response)
        raw = environ["wsgi.input"].read(length)
        if len(raw) != length:  # a short body: Flask gets what arrived, and says what is wrong with it
            environ["wsgi.input"] = io.BytesIO(raw)
            return self.wsgi_app(environ, start_response)
        with self.flask_app.app_context():
            try:
                reply = route(environ, raw)
            except Exception as e:
                if self.flask_app.testing and not isinstance(e, (HTTPException, DomainError)) and not is_outage(e):
                    raise  # a bug: let the test see it
                payload, status, headers = render_error(e)
                reply = Reply(status, payload, headers)
        data = reply.encode()
        start_response(_STATUS_LINES[reply.status],
                       [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                        *reply.headers.items(), *self.headers,
                        ("X-Request-ID", request_id_from(environ.get("HTTP_X_REQUEST_ID")))])  # as Flask answers
        self.meters[route].answered(reply.status, perf_counter() - started)
        return [data]


def install(app):
    """Put the front door before the app's WSGI callable (inside ProxyFix, which must run first)."""
    app.wsgi_app = FrontDoor(app, app.wsgi_app)
    return app
