"""The demo customer site served by `make run`: /demo embeds the widget the way the README says."""
import json
import os

from flask import Blueprint, current_app, render_template, request
from flask_smorest import abort

from app import page_policies

bp = Blueprint("demo", __name__, url_prefix="/demo")


def demo_site_key():
    """`?site=KEY`, else DEMO_SITE_KEY, else the site `flask demo ensure` made (instance/demo-site.json)."""
    key = request.args.get("site") or current_app.config.get("DEMO_SITE_KEY")
    if key:
        return key
    try:
        with open(os.path.join(current_app.instance_path, "demo-site.json")) as f:
            return json.load(f)["site_key"]
    except (OSError, ValueError, KeyError):
        return None


@bp.before_request
def demo_enabled():
    """The demo pages are for development; production serves them only with DEMO_PAGES set."""
    if current_app.config.get("OPSIQ_ENV") == "production" and not current_app.config.get("DEMO_PAGES"):
        abort(404)


def render(template, **context):
    """A demo page under the demo's policy, its inline scripts allowed by a nonce of this answer only."""
    key = demo_site_key()
    if not key:
        abort(404, message="No demo site: run `flask demo ensure` (make run does).")
    keep = {"site": request.args["site"]} if request.args.get("site") else {}
    nonce = page_policies.new_nonce()
    html = render_template(template, site_key=key, keep=keep, nonce=nonce, **context)
    return html, {"Content-Security-Policy": page_policies.demo(nonce)}


@bp.get("")
def show_demo():
    """A customer-like page: the widget tag first in <head>, a gated analytics script and ad iframe."""
    return render("demo/index.html")


@bp.get("/privacy")
def show_privacy():
    """The demo site's privacy policy."""
    return render("demo/privacy.html")


@bp.get("/ad")
def show_ad():
    """What the gated marketing iframe loads once marketing is allowed; only the demo may frame it."""
    return render_template("demo/ad.html"), {"Content-Security-Policy": page_policies.DEMO_AD}
