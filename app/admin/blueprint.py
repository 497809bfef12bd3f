"""The dashboard's blueprint; the view modules (auth, sites, account) add their routes to it."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
