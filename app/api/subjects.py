"""Data-subject requests: a person's export (from the site's server, or a browser's own), and the
register of requests with their due dates."""
from flask import Response, g, request

from app.api.auth import api_key_required
from app.api.browser import browser_site, cors_headers
from app.api.collectors import now
from app.api.parsing import ApiBlueprint
from app.extensions import db
from app.schemas.subjects import (
    BrowserExportIn,
    SubjectErasedOut,
    SubjectEraseIn,
    SubjectExportIn,
    SubjectExportOut,
    SubjectRequestArgs,
    SubjectRequestIn,
    SubjectRequestListOut,
    SubjectRequestOut,
)
from app.services.subjects.erasure import erase_subject
from app.services.subjects.export import subject_document
from app.services.subjects.requests import list_requests, record_request
from app.services.visitors import require_bound_visitor_secret

blp = ApiBlueprint("subjects", __name__, url_prefix="/api/v1",
                   description="Data-subject requests: access (export) and the register of requests")

EXPORT_HEADERS = {"Cache-Control": "no-store", "Content-Disposition": 'attachment; filename="subject-export.json"'}


def streamed(pieces, headers=None):
    """A streamed JSON answer (the generator holds its own connection and needs no request context)."""
    return Response(pieces, 200, {**EXPORT_HEADERS, **(headers or {})}, mimetype="application/json")


@blp.post("/subjects/export")
@api_key_required  # before parsing: no key, 401, whatever the body
@blp.arguments(SubjectExportIn)
@blp.response(200, SubjectExportOut, description="Streamed JSON")
@blp.error_response(404, "No person on this site has this external_id or person_id, or no request this id")
@blp.error_response(409, "The request named was fulfilled already")
def export_subject(data):
    """Everything the site holds of one person or browser, as one JSON document (GDPR 15 and 20).
    With `request_id`, the register's access request about this subject is marked fulfilled."""
    return streamed(subject_document(db.engine, g.site_snapshot, data, now(), data["request_id"]))


@blp.post("/subjects/browser-export")
@blp.arguments(BrowserExportIn)
@blp.response(200, SubjectExportOut, description="Streamed JSON: the export of this browser's visitor")
@blp.error_response(403, "An origin the site does not list, or not the secret the visitor's records carry")
@blp.error_response(404, "No site has this key")
def export_browser_subject(data):
    """A browser's own export (JSON or text/plain): the same document as the server's export by
    `visitor_id`, for this visitor only, proved by the secret its consent writes carry."""
    origin = request.headers.get("Origin")
    snap = browser_site(data["site_key"], origin, request.remote_addr)
    require_bound_visitor_secret(snap.id, data["visitor_id"], data["visitor_secret"])
    pieces = subject_document(db.engine, snap, {"visitor_id": data["visitor_id"]}, now())
    return streamed(pieces, cors_headers(origin))


@blp.post("/subject-requests")
@api_key_required
@blp.arguments(SubjectRequestIn)
@blp.response(201, SubjectRequestOut)
def create_subject_request(data):
    """Register a data subject's request; it is due 30 days after it was received."""
    return record_request(g.site.id, data["kind"], data, data["received_at"], now())


@blp.get("/subject-requests")
@api_key_required
@blp.arguments(SubjectRequestArgs, location="query")
@blp.response(200, SubjectRequestListOut)
def list_subject_requests(args):
    """The site's requests, oldest due first, each flagged when overdue (`status=open`: what is still due)."""
    return {"requests": [req for _, req in list_requests(g.site.id, args["status"], now())]}


@blp.post("/subjects/erase")
@api_key_required  # before parsing: no key, 401, whatever the body
@blp.arguments(SubjectEraseIn)
@blp.response(200, SubjectErasedOut)
@blp.error_response(404, "No person on this site has this external_id or person_id, or no request this id")
@blp.error_response(409, "The request named was fulfilled already")
def erase_subject_data(data):
    """Erase one person or browser (GDPR 17): afterwards nothing in the database links a row to
    them; decisions stay as anonymous statistics and the ledger still verifies. A `subject.erased`
    webhook event tells the site's systems to erase too. With `request_id`, the register's erasure
    request about this subject is marked fulfilled."""
    return erase_subject(g.site_snapshot, data, data["request_id"], now())


@blp.post("/subjects/browser-erase")
@blp.arguments(BrowserExportIn)
@blp.response(200, SubjectErasedOut)
@blp.error_response(403, "An origin the site does not list, or not the secret the visitor's records carry")
@blp.error_response(404, "No site has this key")
def erase_browser_subject(data):
    """A browser erasing its own visitor (the widget's `opsiqConsent.erase()`), proved by the secret
    its consent writes carry; JSON or text/plain."""
    origin = request.headers.get("Origin")
    snap = browser_site(data["site_key"], origin, request.remote_addr)
    require_bound_visitor_secret(snap.id, data["visitor_id"], data["visitor_secret"])
    return erase_subject(snap, {"visitor_id": data["visitor_id"]}, None, now()), 200, cors_headers(origin)
