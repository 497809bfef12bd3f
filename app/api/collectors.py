"""Server API for the systems that act on visitors: consent checks, visitor state, the ledger
export and receipt verification. Every view needs the site's API key (`Authorization: Bearer`);
a key only ever sees its own site, and another site's data is simply not found.

`check_decision` is the one handler of `POST /api/v1/consent-checks`, called by its Flask view
and by the front door (`app/api/front_door.py`) alike.
"""
import base64
import binascii
import json
import time
from urllib.parse import urlencode

from flask import Response, current_app, g, request
from flask_smorest import abort
from marshmallow import ValidationError

from app.api.auth import SECURITY, api_key_required, site_for_authorization
from app.api.parsing import NOT_OBJECT, ApiBlueprint, load_body, read_body
from app.api.replies import Reply, to_response
from app.schemas.checks import (
    CHECK_ANSWER,
    ConsentCheckBatchIn,
    ConsentCheckBatchOut,
    ConsentCheckIn,
    ReceiptVerifyIn,
    ReceiptVerifyOut,
    VisitorConsentOut,
    fast_check_input,
)
from app.schemas.ledger import LedgerExportArgs, LedgerExportOut
from app.services import checks, export
from app.services.email_consent import checks as email_checks

blp = ApiBlueprint("collectors", __name__, url_prefix="/api/v1",
                   description="Called by the site's own servers with its secret API key")

# A batch of 10,000 items is about 1 MB of JSON; everything else keeps the app's 16 KiB limit.
BATCH_MAX_BYTES = 4 * 1024 * 1024
_check_in = ConsentCheckIn()


@blp.before_request
def allow_large_batches():
    """Raise the body limit for the batch check only (Flask 3.1: per-request max_content_length)."""
    if request.endpoint == "collectors.check_consent_batch":
        request.max_content_length = BATCH_MAX_BYTES


def now():
    """The current time; tests set config CLOCK (a callable) to move it, as a fake at the edge."""
    clock = current_app.config.get("CLOCK")
    return clock() if clock else None  # None: the services read the real clock


def check_decision(raw, authorization) -> Reply:
    """Answer one check from its raw body and the request's Authorization header."""
    snap = site_for_authorization(authorization, current_app.config["SITE_CACHE_SECONDS"])  # before the body
    body = read_body(raw)
    data = fast_check_input(body) or load_body(_check_in, body)
    if "email" in data:
        return Reply(200, email_checks.jsonable(email_checks.check_email(snap, data["email"])))
    answer = checks.check_consent(snap, data["visitor_id"], data["purpose"], now(), ip=data["ip"],
                                  country=data["country"], region=data["region"], gpc=data["gpc"])
    return Reply(200, answer.as_dict())


@blp.get("/visitors/<visitor_id>/consent")
@api_key_required  # before parsing: no key, 401, whatever the body
@blp.doc(security=SECURITY)
@blp.response(200, VisitorConsentOut)
@blp.error_response(404, "The site has never seen this visitor")
def get_visitor_consent(visitor_id):
    """A visitor's current state per purpose, each with the record that decided it."""
    return checks.visitor_state(g.site_snapshot, visitor_id, now())


@blp.post("/consent-checks")
@blp.doc(security=SECURITY, requestBody={"required": True, "content": {"application/json": {"schema": ConsentCheckIn}}},
         responses={200: {"description": "OK", "content": {"application/json": {"schema": CHECK_ANSWER}}}})
def check_consent():
    """Whether one purpose is allowed for one visitor now, why, and which record decided it.
    With `email` and purpose `email_marketing`: whether that address may be emailed."""
    return to_response(check_decision(request.get_data(), request.headers.get("Authorization")))


@blp.post("/consent-checks/batch")
@api_key_required  # before parsing: no key, 401, whatever the body
@blp.doc(security=SECURITY, requestBody={"required": True, "content": {"application/json": {"schema": ConsentCheckBatchIn}}})
@blp.response(200, ConsentCheckBatchOut)
@blp.error_response(413, "More than 10,000 items, or a body over 4 MiB")
def check_consent_batch():
    """Up to 10,000 checks in one call; results in the same order. An unknown purpose answers
    `unknown_purpose` for its item only."""
    started = time.perf_counter()
    items = _batch_items(request.get_data(cache=False))
    snap = g.site_snapshot
    if any("email" in it for it in items):  # email_marketing items are answered by the email consent service
        results = email_checks.check_mixed(snap, items,
                                           lambda rest: [a.as_dict() for a in checks.check_batch(snap, rest, now())])
    else:
        results = [a.as_dict() for a in checks.check_batch(snap, items, now())]
    body = json.dumps({"results": results}, separators=(",", ":"))
    # the server's own time for the batch (parse, query, rules, encoding), for callers and bench/
    took = (time.perf_counter() - started) * 1000
    return Response(body, 200, {"Server-Timing": f"app;dur={took:.1f}"}, mimetype="application/json")


def _batch_items(raw):
    """The validated items of a batch body: the ordinary shapes by the fast validator (10,000
    marshmallow loads cost ~100 ms), anything else through the schema, with every fault named."""
    body = read_body(raw)
    if not isinstance(body, dict):
        abort(400, message=NOT_OBJECT)
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
    for i, it in enumerate(items):
        data = fast_check_input(it)
        if data is None:
            try:
                data = _check_in.load(it)
            except ValidationError as e:
                errors[str(i)] = e.normalized_messages()
                continue
        out.append(data)
    if errors:
        abort(422, errors={"items": errors})
    return out


# --- the ledger export -----------------------------------------------------------------------

EXPORT_PAGE = "A page of records: JSON, or CSV (a header row, then a row per record) with `Accept: text/csv` / `format=csv`"
EXPORT_PAGE_HEADERS = {
    "X-Next-Cursor": {"description": "The next page's cursor (not on the last page)", "schema": {"type": "string"}},
    "Link": {"description": 'The next page\'s URL, rel="next" (not on the last page)', "schema": {"type": "string"}},
}


def encode_cursor(row_id):
    """The opaque cursor of the page after a row id."""
    return base64.urlsafe_b64encode(f"r1:{row_id}".encode()).rstrip(b"=").decode()


def decode_cursor(cursor):
    """The row id a cursor stands for; a 400 if it is not one this API issued."""
    try:
        tag, _, value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition(":")
        row_id = int(value)
        if tag != "r1" or not 0 <= row_id < 2**63:  # a row id PostgreSQL's bigint holds
            raise ValueError
        return row_id
    except (binascii.Error, ValueError, UnicodeDecodeError):
        abort(400, message="not a cursor this API issued", errors={"cursor": ["not a cursor this API issued"]})


@blp.get("/consents")
@api_key_required  # before parsing: no key, 401, whatever the body
@blp.doc(security=SECURITY)
@blp.arguments(LedgerExportArgs, location="query")
@blp.response(200, LedgerExportOut, description=EXPORT_PAGE, headers=EXPORT_PAGE_HEADERS)
@blp.alt_response(200, schema={"type": "string"}, content_type="text/csv", success=True, description=EXPORT_PAGE)
@blp.error_response(400, "A cursor this API did not issue")
def export_consents(args):
    """The site's ledger for export and audits: filtered by time and visitor, paged by cursor, streamed."""
    fmt = args["format"] or format_from_accept()
    site = g.site_snapshot
    after = decode_cursor(args["cursor"]) if args["cursor"] else 0
    rows, last, more = export.read_page(site.id, site.site_key, fmt, after, args["from_"], args["to"],
                                        args["visitor_id"], args["limit"])
    next_cursor = encode_cursor(last) if more else None
    headers = page_headers(next_cursor)
    if fmt == "csv":
        body, mimetype = export.render_csv(rows), "text/csv"
        headers["Content-Disposition"] = 'attachment; filename="consents.csv"'
    else:
        body = export.render_json(rows, next_cursor, site.name, kantara=fmt == "kantara", controller=site.controller)
        mimetype = "application/json"
    # the generator holds its own connection and needs no request context: an unread body is harmless
    return Response(body, 200, headers, mimetype=mimetype)


def format_from_accept():
    """`csv` when the caller's Accept prefers text/csv, else `json` (a page's `format` wins over it)."""
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"], default="application/json")
    return "csv" if best == "text/csv" else "json"


def page_headers(next_cursor):
    """The headers of a page of a paged export: no caching, and where there is a next page, its cursor
    (X-Next-Cursor) and its URL (Link, rel="next": this request's with the cursor replaced)."""
    headers = {"Cache-Control": "no-store"}
    if next_cursor:
        headers["X-Next-Cursor"] = next_cursor
        nxt = request.args.copy()
        nxt["cursor"] = next_cursor
        headers["Link"] = f'<{request.base_url}?{urlencode(list(nxt.items(multi=True)))}>; rel="next"'
    return headers


@blp.post("/receipts/verify")
@api_key_required  # before parsing: no key, 401, whatever the body
@blp.doc(security=SECURITY)
@blp.arguments(ReceiptVerifyIn)
@blp.response(200, ReceiptVerifyOut)
def verify_receipt(data):
    """Whether a receipt is authentic (this site signed it), unexpired, and still the visitor's
    current decision; with the decoded record. A bad receipt is a 200 that says why, not an error."""
    return checks.verify_receipt_token(g.site_snapshot, data["receipt"], now())
