"""How a dashboard page is answered: the template rendered, the headers every page carries, the
error page, and a service's field errors shown on the form they belong to."""
from flask import render_template
from flask_wtf.csrf import CSRFError

from app import page_policies
from app.api.errors import render_error
from app.errors import DomainError

# every dashboard answer: its policy; never cached (pages show who is signed in and their data);
# the Referer kept to our own origin, where Flask-WTF checks it on https POSTs
HEADERS = {"Content-Security-Policy": page_policies.ADMIN, "Cache-Control": "no-store",
           "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}
TITLES = {400: "This form could not be accepted", 401: "Not signed in", 403: "Not allowed", 404: "Not found",
          405: "Not allowed", 409: "Already there", 410: "Gone", 413: "Too large", 422: "Not accepted",
          429: "Too many attempts", 500: "Something went wrong", 503: "Unavailable for a moment"}


def add_headers(response):
    """The headers of every dashboard answer (an after_request of the blueprint)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def page(template, status=200, **context):
    """A page of the dashboard (the blueprint adds its headers)."""
    return render_template(template, **context), status


def error_page(error):
    """Any error under /admin as a page: its status and message as the API would answer them
    (api/errors.render_error, so a CSRF failure is 400, a throttled sign-in 429 with Retry-After)."""
    payload, status, headers = render_error(error)
    if isinstance(error, CSRFError):
        payload["message"] = ("The form had expired or did not come from this dashboard. "
                              "Go back, reload it and try again.")
    body = render_template("admin/error.html", title=TITLES.get(status, payload["status"]), status=status,
                           message=payload["message"], retry_after=headers.get("Retry-After"))
    return body, status, headers


def show_errors(form, error: DomainError) -> None:
    """The service's message above the form, and its field errors on the fields of those names."""
    for name, messages in (error.errors or {}).items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, *messages]
    form.form_errors.append(error.message)
