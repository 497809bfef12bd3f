"""The consent log (/admin/sites/<site_key>/consents): a site's records, newest first, searched
by visitor id, record id, a pasted receipt, or a person's email or external id; each record's
page with every field, its receipt, and whether its hash and its seal verify; the filtered range
as CSV, the ledger export's own.

One search form posts every kind. A visitor id or record id (and the time range) are no one's
name: the post redirects to the log's own URL with them, which pages by link and can be kept or
shared. An email, an external id or a receipt never goes in a URL (nor so in server logs or the
browser's history): those are answered on the post itself, their next page posted again. The
services do the work: app/services/consent_log.py (pages, receipts, a person, a record's proof),
app/services/export.py (the CSV, audited as the API's `export.read`).
"""
import datetime as dt
import json

from flask import Response, redirect, request, url_for

from app.admin.blueprint import bp
from app.admin.session import signed_in_user
from app.admin.sites import SITE_PAGES, site_page
from app.api.collectors import decode_cursor as decode_export_cursor
from app.api.collectors import encode_cursor as encode_export_cursor
from app.api.collectors import page_headers
from app.errors import Invalid
from app.ledger.rules import is_visitor_id
from app.services import consent_log, export
from app.services.sites.snapshot import build_snapshot
from app.services.users import access

PERMISSION = "consent_log.read"
SITE_PAGES.append(("admin.consent_log_page", "Consent log", PERMISSION))
KINDS = {"visitor_id": "Visitor id", "record_id": "Record id", "receipt": "Receipt", "email": "Email",
         "external_id": "External id"}
LINKED_KINDS = ("visitor_id", "record_id")  # searched by GET, in the log's URL
MAX_QUERY = 16 * 1024  # a receipt is well under 1 KiB; the API takes one of up to 16 KiB
CSV_LIMIT = export.MAX_LIMIT
RECEIPT_REASONS = {
    "bad_signature": "it was not signed with this site's receipt key, or it was changed after it was signed",
    "malformed": "it is not a receipt (cut short, or not what the widget or the API gave)",
    "no_secret": "this site has no receipt key to check it with",
}


def _when(value: str | None, name: str) -> dt.datetime | None:
    """A time from the form (`YYYY-MM-DDTHH:MM[:SS]` as a datetime field sends it, or a date, or
    ISO 8601 with a zone), read as UTC when it has no zone; Invalid names the field."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name.title()} is not a time: use the form YYYY-MM-DD HH:MM.",
                      errors={name: ["not a time"]}) from None
    return when.replace(tzinfo=dt.timezone.utc) if when.tzinfo is None else when


def _range(values) -> tuple[dt.datetime | None, dt.datetime | None]:
    start, end = _when(values.get("from"), "from"), _when(values.get("to"), "to")
    if start and end and end <= start:
        raise Invalid("The end of the range is not after its start.", errors={"to": ["not after From"]})
    return start, end


def _visitor(value: str | None) -> str | None:
    value = (value or "").strip()
    if value and not is_visitor_id(value):
        raise Invalid("That is not a visitor id: 8 to 64 letters, digits and . _ : -",
                      errors={"query": ["not a visitor id"]})
    return value or None


def decisions_summary(decisions: dict | None) -> tuple[list[str], list[str]]:
    """(the purposes granted, those refused), each sorted."""
    items = sorted((decisions or {}).items())
    return [k for k, v in items if v], [k for k, v in items if not v]


def shown(value) -> str:
    """A record's field as the record page shows it: times in UTC ISO 8601, decisions as JSON."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat()  # aware: the column type's
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, separators=(", ", ": "))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _log(site, user, status=200, **context):
    """The log page: the search form as it was filled, and whatever was found."""
    form = {"kind": "visitor_id", "query": "", "from": "", "to": "", **context.pop("form", {})}
    body, _ = site_page("admin/site/consent_log.html", site, user, kinds=KINDS, form=form, summary=decisions_summary,
                        receipt_reasons=RECEIPT_REASONS, csv_limit=CSV_LIMIT, **context)
    return body, status


@bp.route("/sites/<site_key>/consents", methods=["GET", "POST"])
def consent_log_page(site_key):
    """The log (GET) and its search form (POST), one page of the site's navigation."""
    user = signed_in_user()
    site = access.site_for(user, site_key, PERMISSION)
    return _search(site, user) if request.method == "POST" else _listing(site, user)


def _listing(site, user):
    """The site's records, newest first: all of them, or one visitor's, or one record, within an
    optional time range; a page at a time, the next by its cursor."""
    args = request.args
    visitor, record_id = args.get("visitor_id", "").strip(), args.get("record_id", "").strip()
    form = {"kind": "record_id" if record_id else "visitor_id", "query": record_id or visitor,
            "from": args.get("from", ""), "to": args.get("to", "")}
    try:
        start, end = _range(args)
        visitor = _visitor(visitor)
        page = consent_log.log_page(site.id, (visitor,) if visitor else None, record_id[:64] or None, start, end,
                                    args.get("cursor") or None)
    except Invalid as e:
        return _log(site, user, 422, form=form, errors=[e.message])
    filters = {k: v for k, v in (("visitor_id", visitor), ("record_id", record_id), ("from", form["from"]),
                                 ("to", form["to"])) if v}
    csv_filters = {k: v for k, v in filters.items() if k != "record_id"}
    return _log(site, user, form=form, page=page, filters=filters, searched=bool(visitor or record_id),
                csv_url=None if record_id else url_for("admin.consent_log_csv", site_key=site.site_key, **csv_filters),
                older_url=url_for("admin.consent_log_page", site_key=site.site_key, **filters,
                                  cursor=page.next_cursor) if page.next_cursor else None)


def _search(site, user):
    """The search form: a visitor id or record id goes to the log's URL; a receipt, an email or an
    external id is answered here (a person's look-up audited by the service)."""
    values = request.form
    kind = values.get("kind") if values.get("kind") in KINDS else "visitor_id"
    query = values.get("query", "").strip()[:MAX_QUERY]
    form = {"kind": kind, "query": query, "from": values.get("from", "").strip(), "to": values.get("to", "").strip()}
    if kind in LINKED_KINDS or not query:
        linked = {k: v for k, v in ((kind, query), ("from", form["from"]), ("to", form["to"])) if v}
        return redirect(url_for("admin.consent_log_page", site_key=site.site_key, **linked), 303)
    try:
        if kind == "receipt":
            match = consent_log.find_by_receipt(build_snapshot(site), query)
            return _log(site, user, form=form, receipt=match, searched=True,
                        page=consent_log.LogPage([match.record] if match.record else [], None))
        start, end = _range(values)
        found = consent_log.person_records(site.id, kind, query, start, end, values.get("cursor") or None)
    except Invalid as e:
        return _log(site, user, 422, form=form, errors=[e.message])
    return _log(site, user, form=form, person=found, page=found.page, searched=True)


@bp.get("/sites/<site_key>/consents.csv")
def consent_log_csv(site_key):
    """The filtered range as CSV, oldest first: the rows and columns GET /api/v1/consents gives
    for the same `from`, `to` and `visitor_id` (up to CSV_LIMIT; `cursor` and the Link header go
    on from there), its read audited as the API's (`export.read`)."""
    user = signed_in_user()
    site = access.site_for(user, site_key, PERMISSION)
    start, end = _range(request.args)
    visitor = _visitor(request.args.get("visitor_id"))
    after = decode_export_cursor(request.args["cursor"]) if request.args.get("cursor") else 0
    rows, last, more = export.read_page(site.id, site.site_key, "csv", after, start, end, visitor, CSV_LIMIT)
    headers = page_headers(encode_export_cursor(last) if more else None)
    headers["Content-Disposition"] = f'attachment; filename="consents-{site.site_key}.csv"'
    return Response(export.render_csv(rows), 200, headers, mimetype="text/csv")


@bp.get("/sites/<site_key>/consents/<record_id>")
def consent_record(site_key, record_id):
    """One record: every field, its receipt, and whether its hash and its seal verify."""
    user = signed_in_user()
    site = access.site_for(user, site_key, PERMISSION)
    found = consent_log.record_proof(build_snapshot(site), record_id)
    return site_page("admin/site/consent_record.html", site, user, record=found.fields, receipt=found.receipt,
                     proof=found.proof, collected=found.collected, shown=shown, summary=decisions_summary)
