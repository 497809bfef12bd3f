"""One JSON error shape for every error: {"code", "status", "message", "errors"}.

Domain errors (`app/errors.py`) get their HTTP status here, once; HTTP errors raised by the API
layer itself (`flask_smorest.abort`: a body that is not JSON, a missing API key) keep theirs.
`render_error` is the one renderer: Flask's error handlers and the front door both call it.
"""
from http import HTTPStatus

import marshmallow as ma
import psycopg
import sqlalchemy as sa
from flask import current_app
from flask_smorest import Api
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from app.api.document import RulesPlugin
from app.errors import Conflict, DomainError, Forbidden, Gone, Invalid, NotFound, RateLimited, TooLarge, Unauthorized
from app.metrics import count_database_error

STATUS = {Invalid: 422, NotFound: 404, Gone: 410, Unauthorized: 401, Forbidden: 403, Conflict: 409, TooLarge: 413,
          RateLimited: 429}


def status_for(error):
    """The HTTP status of a domain error (its nearest mapped class)."""
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_payload(code, status, message, errors=None):
    """Build the one error document every JSON error uses."""
    body = {"code": code, "status": status, "message": message}
    if errors:
        body["errors"] = errors
    return body


def fields_message(errors):
    """The message of a 422 that names fields: which ones are at fault."""
    return "Some fields are invalid: " + ", ".join(sorted(map(str, errors)))


RETRY_AFTER_SECONDS = 2  # how soon a client may try again while the database is out of reach


def is_outage(error):
    """Whether an exception says the database is out of reach (not that a request was wrong): a lost
    or refused connection, or none free in time. Such a request is answered 503: nothing was stored."""
    if isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated:
        return True
    # TimeoutError: no hot connection free in time (app/ledger/connections.py)
    return isinstance(error, (sa.exc.OperationalError, sa.exc.TimeoutError, psycopg.OperationalError, TimeoutError))


def render_error(error):
    """(payload, status, headers) for any exception: a domain error, an HTTP error, the database out
    of reach (503 with Retry-After), or a bug (500, logged)."""
    if is_outage(error):
        count_database_error("outage")
        current_app.logger.warning("database out of reach: %s: %s", type(error).__name__, error)
        return (error_payload(503, HTTP_STATUS_CODES[503], "The database cannot be reached right now; nothing "
                              "was stored. Retry shortly."), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    if isinstance(error, DomainError):
        code = status_for(error)
        message = error.message or (fields_message(error.errors) if code == 422 and error.errors else
                                    HTTP_STATUS_CODES.get(code, ""))
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else {}
        return error_payload(code, HTTP_STATUS_CODES[code], message, error.errors), code, headers
    if isinstance(error, HTTPException):
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages")
        # webargs nests field errors under the location; a body's fields are named directly
        if isinstance(errors, dict) and set(errors) == {"json"}:
            errors = errors["json"]
        message = data.get("message")
        if not message:
            message = fields_message(errors) if error.code == 422 and errors else error.description or error.name
        headers = dict(data.get("headers") or {})
        if error.code == 405 and getattr(error, "valid_methods", None):
            headers["Allow"] = ", ".join(error.valid_methods)
        return error_payload(error.code, error.name, message, errors), error.code, headers
    if isinstance(error, (sa.exc.SQLAlchemyError, psycopg.Error)):
        count_database_error("failed")
    current_app.logger.error("unhandled error", exc_info=error)
    return error_payload(500, HTTP_STATUS_CODES[500], "Internal error; it has been logged."), 500, {}


API_DESCRIPTION = (
    "Every error has one shape: `{\"code\", \"status\", \"message\", \"errors\"}`. Beside what each field "
    "states, no string anywhere (body, path or query) may hold a NUL character or a lone surrogate, which no "
    "database stores: in a body or a query that is a 422 naming the field, in a path a 404.")
RETRY_AFTER_HEADER = {"description": "Seconds to wait before trying again", "required": True,
                      "schema": {"type": "integer", "minimum": 0}}


class JsonApi(Api):
    """flask-smorest Api whose every error, domain errors included, is rendered by `render_error`.

    Its document lists each operation's answers (`parsing.common_responses` adds those every
    operation can give), with no catch-all `default`: a status the document does not name is a
    fault that schemathesis finds (tests/api/test_schemathesis.py)."""

    DEFAULT_ERROR_RESPONSE_NAME = None

    def __init__(self, app=None, *, spec_kwargs=None, **kwargs):
        spec_kwargs = {"marshmallow_plugin": RulesPlugin(), "info": {"description": API_DESCRIPTION}, **(spec_kwargs or {})}
        super().__init__(app, spec_kwargs=spec_kwargs, **kwargs)

    def _init_spec(self, **kwargs):
        super()._init_spec(**kwargs)
        self.register_field(ma.fields.IP, "string", None)  # its formats are the schema's: IP_ADDRESS

    def _register_responses(self):
        super()._register_responses()
        # the two answers that say when to try again: a rate limit, and the database out of reach
        self.spec.components.header("RETRY_AFTER", RETRY_AFTER_HEADER, lazy=True)
        for status, description in ((429, "A rate limit was reached; nothing was done. Retry after Retry-After."),
                                    (503, "The database cannot be reached; nothing was stored. Retry after Retry-After.")):
            self.spec.components.response(HTTPStatus(status).name, {
                "description": description, "headers": {"Retry-After": "RETRY_AFTER"},
                "content": {"application/json": {"schema": self.ERROR_SCHEMA}},
            }, lazy=True)

    def _register_error_handlers(self):
        self._app.register_error_handler(Exception, self.handle_error)

    def handle_error(self, error):
        return render_error(error)
