"""One JSON error shape for every error: {"code", "status", "message", "errors"}."""
from flask import current_app
from flask_smorest import Api
from werkzeug.exceptions import HTTPException, InternalServerError


def error_payload(code, status, message, errors=None):
    """Build the one error document every JSON error uses."""
    body = {"code": code, "status": status, "message": message}
    if errors:
        body["errors"] = errors
    return body


class JsonApi(Api):
    """flask-smorest Api whose handler always fills `message` and flattens body field errors."""

    def _register_error_handlers(self):
        self._app.register_error_handler(HTTPException, self.handle_http_exception)
        self._app.register_error_handler(Exception, self.handle_unexpected)

    def handle_http_exception(self, error):
        headers = {}
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages")
        # webargs nests field errors under the location; a body's fields are named directly
        if isinstance(errors, dict) and set(errors) == {"json"}:
            errors = errors["json"]
        message = data.get("message")
        if not message:
            if error.code == 422 and errors:
                message = "Some fields are invalid: " + ", ".join(sorted(map(str, errors)))
            else:
                message = error.description or error.name
        headers.update(data.get("headers") or {})
        if error.code == 405 and getattr(error, "valid_methods", None):
            headers["Allow"] = ", ".join(error.valid_methods)
        return error_payload(error.code, error.name, message, errors), error.code, headers

    def handle_unexpected(self, error):
        if isinstance(error, HTTPException):
            return self.handle_http_exception(error)
        current_app.logger.exception("unhandled error")
        err = InternalServerError()
        return error_payload(500, err.name, "Internal error; it has been logged."), 500
