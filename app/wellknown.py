"""Well-known resources served at the site root."""
import sqlalchemy as sa
from flask import Blueprint, jsonify

from app.api.errors import RETRY_AFTER_SECONDS
from app.extensions import db

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


@bp.get("/readyz")
def readyz():
    """Readiness: whether this process can reach its database now (503 while it cannot)."""
    try:
        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as e:
        return (jsonify({"database": "unreachable", "error": type(e).__name__}), 503,
                {"Retry-After": str(RETRY_AFTER_SECONDS)})
    return jsonify({"database": "ok"})
