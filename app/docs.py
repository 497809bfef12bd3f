"""GET /api/v1/docs: the API reference, rendered by Redoc from the OpenAPI document.

Our view rather than flask-smorest's, which renders the same page but offers no place for its
headers: the script comes from static/docs/ (built from the npm package by apidocs/build.mjs), so
the page loads nothing from another host and carries a policy that says so.
"""
from flask import Blueprint, current_app, render_template, url_for

from app import page_policies

bp = Blueprint("docs", __name__)


@bp.get("/api/v1/docs")
def show_docs():
    """The API reference page: Redoc from our origin, reading /api/v1/openapi.json."""
    html = render_template("docs.html", title=current_app.config["API_TITLE"],
                           spec_url=url_for("api-docs.openapi_json"))
    return html, {"Content-Security-Policy": page_policies.API_DOCS}
