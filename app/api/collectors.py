"""Server API for the systems that act on visitors: consent checks, visitor state, the ledger
export and receipt verification. Every view needs the site's API key (`Authorization: Bearer`);
a key only ever sees its own site, and another site's data is simply not found."""
import json
import time

from flask import Response, current_app, g, request
from flask_smorest import abort
from marshmallow import ValidationError

from app.api.auth import api_key_required
from app.api.parsing import ApiBlueprint
from app.errors import Invalid
from app.extensions import db
from app.schemas.checks import (ConsentCheckBatchIn, ConsentCheckBatchOut, ConsentCheckIn, ConsentCheckOut, ReceiptVerifyIn,
                                ReceiptVerifyOut, VisitorConsentOut)
from app.schemas.ledger import LedgerExportArgs, LedgerExportOut
from app.services import checks, email_consent, export

blp = ApiBlueprint("collectors", __name__, url_prefix="/api/v1",
                   description="Called by the site's own servers with its secret API key")

# A batch of 10,000 items is about 1 MB of JSON; everything else keeps the app's 16 KiB limit.
BATCH_MAX_BYTES = 4 * 1024 * 1024
SECURITY = [{"ApiKey": []}]


@blp.before_request
def allow_large_batches():
    """Raise the body limit for the batch check only (Flask 3.1: per-request max_content_length)."""
    if request.endpoint == "collectors.check_consent_batch":
        request.max_content_length = BATCH_MAX_BYTES


def now():
    """The current time; tests set config CLOCK (a callable) to move it, as a fake at the edge."""
    clock = current_app.config.get("CLOCK")
    return clock() if clock else None  # None: the services read the real clock


def json_response(body, status=200, headers=None):
    """A compact JSON response built without a response schema (hot paths)."""
    return Response(json.dumps(body, separators=(",", ":")), status, headers, mimetype="application/json")


@blp.get("/visitors/<visitor_id>/consent")
@api_key_required  # before parsing: no key, 401, whatever the body
@blp.doc(security=SECURITY)
@blp.response(200, VisitorConsentOut)
@blp.alt_response(404, description="The site has never seen this visitor")
def get_visitor_consent(visitor_id):
    """A visitor's current state per purpose, each with the record that decided it."""
    state = checks.visitor_state(g.site_snapshot, visitor_id, now())
    if state is None:
        abort(404, message="This site has no record of that visitor.")
    return state


@blp.post("/consent-checks")
@api_key_required  # before parsing: no key, 401, whatever the body
@blp.doc(security=SECURITY)
@blp.arguments(ConsentCheckIn())
@blp.response(200, ConsentCheckOut)
def check_consent(data):
    """Whether one purpose is allowed for one visitor now, why, and which record decided it.
    With `email` and purpose `email_marketing`: whether that address may be emailed."""
    if "email" in data:
        return json_response(email_consent.jsonable(email_consent.check_email(g.site_snapshot, data["email"])))
    try:
        answer = checks.check_consent(g.site_snapshot, data["visitor_id"], data["purpose"], now(), ip=data["ip"],
                                      country=data["country"], region=data["region"], gpc=data["gpc"])
    except Invalid as e:  # until domain errors are mapped once for the API
        abort(422, errors=e.errors)
    return json_response(answer.as_dict())


@blp.post("/consent-checks/batch")
@api_key_required  # before parsing: no key, 401, whatever the body
@blp.doc(security=SECURITY, requestBody={"content": {"application/json": {"schema": ConsentCheckBatchIn}}})
@blp.response(200, ConsentCheckBatchOut)
@blp.alt_response(413, description="More than 10,000 items, or a body over 4 MiB")
def check_consent_batch():
    """Up to 10,000 checks in one call; results in the same order. An unknown purpose answers
    `unknown_purpose` for its item only."""
    started = time.perf_counter()
    items = _batch_items(request.get_data(cache=False))
    if any("email" in it for it in items):  # email_marketing items are answered by the email consent service
        results = email_consent.check_mixed(
            g.site_snapshot, items, lambda rest: [a.as_dict() for a in checks.check_batch(g.site_snapshot, rest, now())])
    else:
        results = [a.as_dict() for a in checks.check_batch(g.site_snapshot, items, now())]
    body = json.dumps({"results": results}, separators=(",", ":"))
    # the server's own time for the batch (parse, query, rules, encoding), for callers and bench/
    took = (time.perf_counter() - started) * 1000
    return Response(body, 200, {"Server-Timing": f"app;dur={took:.1f}"}, mimetype="application/json")


_item_schema = ConsentCheckIn()
_ITEM_FIELDS = frozenset(("visitor_id", "purpose"))
_EMAIL_FIELDS = frozenset(("email", "purpose"))


def _batch_items(raw):
    """The validated items of a batch body. The plain {visitor_id, purpose} shape is checked
    inline (10,000 marshmallow loads cost ~100 ms); anything else goes through the schema."""
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        abort(400, message="The body is not valid JSON.")
    if not isinstance(body, dict):
        abort(400, message="The body must be a JSON object.")
    unknown = set(body) - {"items"}
    if unknown:
        abort(422, errors={k: ["Unknown field."] for k in sorted(unknown)})
    items = body.get("items")
    if not isinstance(items, list):
        abort(422, errors={"items": ["Missing data for required field." if items is None else "Not a valid list."]})
    if len(items) > checks.MAX_BATCH:
        abort(413, message=f"A batch holds at most {checks.MAX_BATCH:,} items; this one has {len(items):,}. "
                           "Split it into several calls.")
    errors = {}
    out = []
    match = checks.VISITOR_ID_RE.match
    for i, it in enumerate(items):
        if (isinstance(it, dict) and it.keys() == _ITEM_FIELDS and isinstance(it["visitor_id"], str)
                and isinstance(it["purpose"], str) and match(it["visitor_id"]) and 0 < len(it["purpose"]) <= 64):
            out.append(it)
            continue
        if (isinstance(it, dict) and it.keys() == _EMAIL_FIELDS and isinstance(it["email"], str)
                and it["purpose"] == "email_marketing" and 0 < len(it["email"]) <= 320):
            out.append(it)
            continue
        try:
            out.append(_item_schema.load(it))
        except ValidationError as e:
            errors[str(i)] = e.normalized_messages()
    if errors:
        abort(422, errors={"items": errors})
    return out


@blp.get("/consents")
@api_key_required  # before parsing: no key, 401, whatever the body
@blp.doc(security=SECURITY)
@blp.arguments(LedgerExportArgs, location="query")
@blp.response(200, LedgerExportOut, description="JSON, or CSV with `Accept: text/csv` / `format=csv`")
def export_consents(args):
    """The site's ledger for export and audits: filtered by time and visitor, paged by cursor, streamed."""
    fmt = args["format"] or _format_from_accept()
    site = g.site_snapshot
    try:
        after, last, next_cursor = export.plan_page(site.id, args["cursor"], args["from_"], args["to"],
                                                    args["visitor_id"], args["limit"])
    except export.ExportError as e:
        abort(400, message=str(e), errors={e.field: [str(e)]})
    rows = export.iter_records(db.engine, site.id, after, last, args["from_"], args["to"], args["visitor_id"])
    headers = {"Cache-Control": "no-store"}
    if next_cursor:
        headers["X-Next-Cursor"] = next_cursor
        nxt = request.args.copy()
        nxt["cursor"] = next_cursor
        headers["Link"] = f'<{request.base_url}?{_query(nxt)}>; rel="next"'
    if fmt == "csv":
        body, mimetype = export.render_csv(rows), "text/csv"
        headers["Content-Disposition"] = 'attachment; filename="consents.csv"'
    else:
        body, mimetype = export.render_json(rows, next_cursor, site.name, kantara=fmt == "kantara"), "application/json"
    # the generator holds its own connection and needs no request context: an unread body is harmless
    return Response(body, 200, headers, mimetype=mimetype)


def _format_from_accept():
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"], default="application/json")
    return "csv" if best == "text/csv" else "json"


def _query(args):
    from urllib.parse import urlencode

    return urlencode(list(args.items(multi=True)))


@blp.post("/receipts/verify")
@api_key_required  # before parsing: no key, 401, whatever the body
@blp.doc(security=SECURITY)
@blp.arguments(ReceiptVerifyIn)
@blp.response(200, ReceiptVerifyOut)
def verify_receipt(data):
    """Whether a receipt is authentic (this site signed it), unexpired, and still the visitor's
    current decision; with the decoded record. A bad receipt is a 200 that says why, not an error."""
    return checks.verify_receipt_token(g.site_snapshot, data["receipt"], now())
