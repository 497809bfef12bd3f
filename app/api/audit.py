"""The audit log over HTTP, and who is acting in each request.

Every request gets a request id (the caller's `X-Request-ID` when well formed, else a new one),
answered back in `X-Request-ID`, and is audited as `visitor` from its truncated address until
`api_key_required` names the API key (app/services/audit.py holds the context).
"""

from flask import Response, g, request

from app.api.auth import SECURITY, api_key_required
from app.api.collectors import EXPORT_PAGE_HEADERS, decode_cursor, encode_cursor, format_from_accept, page_headers
from app.api.parsing import ApiBlueprint
from app.schemas.audit import AuditLogArgs, AuditLogOut
from app.services import audit

PAGE = "A page of entries: JSON, or CSV (a header row, then a row per entry) with `Accept: text/csv` / `format=csv`"
blp = ApiBlueprint("audit", __name__, url_prefix="/api/v1", description="Who did what: the site's audit log")


@blp.before_app_request
def begin_request():
    """Start the request's audit context: its id, its address, and `visitor` until a key is known."""
    g.request_id = audit.request_id_from(request.headers.get("X-Request-ID"))
    g.audit_token = audit.begin(audit.VISITOR, g.request_id, request.remote_addr)


@blp.after_app_request
def answer_request_id(response):
    """Every answer through Flask says its request id, as the audit entries do."""
    if "request_id" in g:
        response.headers["X-Request-ID"] = g.request_id
    return response


@blp.teardown_app_request
def end_request(_error):
    """End the request's audit context, so the next request on this thread or greenlet starts clean."""
    token = g.pop("audit_token", None)
    if token is not None:
        audit.end(token)


@blp.get("/audit-log")
@api_key_required
@blp.doc(security=SECURITY)
@blp.arguments(AuditLogArgs, location="query")
@blp.response(200, AuditLogOut, description=PAGE, headers=EXPORT_PAGE_HEADERS)
@blp.alt_response(200, schema={"type": "string"}, content_type="text/csv", success=True, description=PAGE)
@blp.error_response(400, "A cursor this API did not issue")
def list_audit_log(args):
    """The site's audit log, oldest first: filtered by time, action and actor, paged by cursor."""
    fmt = args["format"] or format_from_accept()
    after = decode_cursor(args["cursor"]) if args["cursor"] else 0
    entries, more = audit.list_entries(g.site.id, after=after, start=args["from_"], end=args["to"],
                                       action=args["action"], actor=args["actor"], limit=args["limit"])
    next_cursor = encode_cursor(entries[-1]["id"]) if more else None
    headers = page_headers(next_cursor)
    if fmt == "csv":
        headers["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
        return Response(audit.render_csv(entries), 200, headers, mimetype="text/csv")
    return {"entries": entries, "next_cursor": next_cursor}, 200, headers
