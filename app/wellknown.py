"""Well-known resources served at the site root."""
from flask import Blueprint, jsonify

bp = Blueprint("wellknown", __name__)

GPC_LAST_UPDATE = "2026-11-27"


@bp.get("/.well-known/gpc.json")
def gpc_json():
    """Declares that this service honours Global Privacy Control (W3C GPC section 3.2)."""
    return jsonify({"gpc": True, "lastUpdate": GPC_LAST_UPDATE})


@bp.get("/healthz")
def healthz():
    """Liveness for load balancers; touches nothing."""
    return jsonify({"ok": True})
