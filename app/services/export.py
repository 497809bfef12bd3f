"""The ledger export: a site's records, filtered, paged by row id (the API wraps it in an opaque cursor), and streamed.

Rows come from a server-side cursor in batches (`yield_per`), so a million-record export holds
one batch in memory, never the ledger. A page's upper bound is found first with one index walk,
so the next cursor can be sent in headers before the body starts.
"""
import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import ConsentRecord
from app.services import audit  # as modules: audit reads this one's csv_cell
from app.services import keyring as keyring_service
from app.services.subjects.controller import kantara_controller

DEFAULT_LIMIT = 10_000
MAX_LIMIT = 1_000_000
STREAM_BATCH = 2_000

# Every column of a record but the internal row and site ids, in this order.
STORED_COLUMNS = (
    "record_id", "visitor_id", "client_record_id", "event", "method", "decisions", "created_at", "expires_at",
    "config_hash", "policy_version", "policy_url", "language", "regime", "country", "region", "geoip_build",
    "ip_truncated", "user_agent", "page_url", "gpc", "prev_record_id", "source", "record_hash", "widget_build",
)
# What an export gives of each record (the CSV header): its columns, and the digest of the proof pack
# of its policy version (what the visitor was shown, app/services/proof/), None until it is built.
EXPORT_COLUMNS = STORED_COLUMNS + ("proof_pack",)
KANTARA_VERSION = "KI-CR-v1.1.0"
EXPLICIT_METHODS = ("accept_all", "reject_all", "custom", "api")


def _where(site_id: int, after: int, start: dt.datetime | None, end: dt.datetime | None,
           visitor_id: str | None) -> list[sa.ColumnElement[bool]]:
    t = ConsentRecord.__table__
    cond = [t.c.site_id == site_id, t.c.id > after]
    if start is not None:
        cond.append(t.c.created_at >= start)
    if end is not None:
        cond.append(t.c.created_at < end)
    if visitor_id is not None:
        cond.append(t.c.visitor_id == visitor_id)
    return cond


def plan_page(site_id: int, after: int = 0, start: dt.datetime | None = None, end: dt.datetime | None = None,
              visitor_id: str | None = None, limit: int = DEFAULT_LIMIT) -> tuple[int | None, bool]:
    """(last row id of the page after row `after`, or None if it is empty; whether another page follows)."""
    t = ConsentRecord.__table__
    cond = _where(site_id, after, start, end, visitor_id)
    last = db.session.execute(
        sa.select(t.c.id).where(*cond).order_by(t.c.id).offset(limit - 1).limit(1)
    ).scalar()
    if last is None:
        # a short page: it runs to the last matching row, and there is no next one
        return db.session.execute(sa.select(sa.func.max(t.c.id)).where(*cond)).scalar(), False
    more = db.session.execute(sa.select(t.c.id).where(*_where(site_id, last, start, end, visitor_id)).limit(1)).scalar()
    return last, more is not None


def count_page(site_id: int, after: int, last: int | None, start: dt.datetime | None = None,
               end: dt.datetime | None = None, visitor_id: str | None = None) -> int:
    """How many records the page `plan_page` planned holds (what the audit log says was read)."""
    if last is None:
        return 0
    t = ConsentRecord.__table__
    cond = _where(site_id, after, start, end, visitor_id) + [t.c.id <= last]
    return db.session.execute(sa.select(sa.func.count()).select_from(t).where(*cond)).scalar()


def audit_page(site_id: int, site_key: str, fmt: str, after: int, last: int | None, start: dt.datetime | None = None,
               end: dt.datetime | None = None, visitor_id: str | None = None) -> None:
    """Audit the read of a planned page as `export.read`, committed before its first byte is sent:
    its filters (a visitor only by keyed hash) and how many records it holds, never the records."""
    visitor = keyring_service.keyring(site_id).lookup_hash("visitor_id", visitor_id) if visitor_id else None
    audit.record("export.read", audit.Target("ledger", site_key), site_id, {
        "format": fmt, "from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
        "visitor": visitor, "after": after, "records": count_page(site_id, after, last, start, end, visitor_id)})
    db.session.commit()


def proof_packs(site_id: int) -> dict[str, str]:
    """{policy version: its proof pack's digest} for the site's versions that have one (read in an
    app context, before the records are streamed)."""
    from app.services.proof.packs import pack_digests  # a cycle: the packs module audits through audit

    return pack_digests(site_id)


def stream_rows(engine: sa.Engine, query: sa.Select, packs: Mapping[str, str], batch: int) -> Iterator[dict]:
    """The query's rows (STORED_COLUMNS) as dicts with their `proof_pack`, through a server-side cursor."""
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(query)
        for partition in result.mappings().partitions():
            for row in partition:
                yield {**row, "proof_pack": packs.get(row["policy_version"])}
        result.close()


def iter_records(engine: sa.Engine, site_id: int, after: int, last: int | None, start: dt.datetime | None = None,
                 end: dt.datetime | None = None, visitor_id: str | None = None,
                 packs: Mapping[str, str] | None = None) -> Iterator[dict]:
    """Yield the page's records as plain dicts (EXPORT_COLUMNS; `packs` from proof_packs), in id
    order, through a server-side cursor.

    It takes the engine rather than reaching for the app context, so it can run after the view
    has returned (a streamed body) and be dropped unread without disturbing any context.
    """
    if last is None:
        return
    t = ConsentRecord.__table__
    cond = _where(site_id, after, start, end, visitor_id) + [t.c.id <= last]
    query = sa.select(*[t.c[c] for c in STORED_COLUMNS]).where(*cond).order_by(t.c.id)
    yield from stream_rows(engine, query, packs or {}, STREAM_BATCH)


def read_page(site_id: int, site_key: str, fmt: str, after: int = 0, start: dt.datetime | None = None,
              end: dt.datetime | None = None, visitor_id: str | None = None,
              limit: int = DEFAULT_LIMIT) -> tuple[Iterator[sa.RowMapping], int | None, bool]:
    """One page of the export as the API and the dashboard give it: planned, its read audited
    (`audit_page`, committed before any row is read), and its records to stream (`iter_records`).
    Returns (rows, the page's last row id or None, whether another page follows)."""
    last, more = plan_page(site_id, after, start, end, visitor_id, limit)
    audit_page(site_id, site_key, fmt, after, last, start, end, visitor_id)
    packs = proof_packs(site_id) if last is not None else {}
    return iter_records(db.engine, site_id, after, last, start, end, visitor_id, packs), last, more


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def record_doc(row: sa.RowMapping) -> dict[str, Any]:
    """One record as JSON-ready values."""
    return {k: _plain(v) for k, v in row.items()}


def kantara_doc(row: sa.RowMapping, site_name: str | None, controller: dict | None = None) -> dict[str, Any]:
    """One record as a Kantara Consent Receipt v1.1 document (REGULATIONS.md section 6).

    `services[].purposes` lists what the visitor consented to; the full decision map, event and
    expiry travel in an `x-opsiq` extension so nothing of the proof is lost. The controller entry
    is the site's (`kantara_controller`), naming what the site has not given.
    """
    created = row["created_at"]
    granted = [slug for slug, on in (row["decisions"] or {}).items() if on]
    consent_type = "EXPLICIT" if row["method"] in EXPLICIT_METHODS else "IMPLICIT"
    return {
        "version": KANTARA_VERSION,
        "jurisdiction": row["region"] or row["country"] or "",
        "consentTimestamp": int(created.timestamp()),
        "collectionMethod": row["method"],
        "consentReceiptID": row["record_id"],
        "publicKey": None,
        "language": row["language"],
        "piiPrincipalId": row["visitor_id"],
        "piiControllers": [kantara_controller(site_name or "", controller)],
        "policyUrl": row["policy_url"] or "",
        "services": [{
            "service": site_name,
            "purposes": [{
                "purpose": slug, "purposeCategory": [slug], "consentType": consent_type,
                "piiCategory": ["online identifier"], "primaryPurpose": slug == "necessary",
                "termination": _plain(row["expires_at"]), "thirdPartyDisclosure": slug == "marketing",
            } for slug in granted],
        }],
        "sensitive": False,
        "spiCat": [],
        "x-opsiq": {
            "event": row["event"], "decisions": row["decisions"], "regime": row["regime"],
            "policy_version": row["policy_version"], "gpc": row["gpc"], "expires_at": _plain(row["expires_at"]),
            "record_hash": row["record_hash"], "widget_build": row["widget_build"], "proof_pack": row["proof_pack"],
        },
    }


def render_json(rows: Iterable[sa.RowMapping], next_cursor: str | None, site_name: str | None = None,
                kantara: bool = False, controller: dict | None = None) -> Iterator[str]:
    """Yield a JSON document {"records": [...], "next_cursor": ...} in pieces (Kantara receipts name
    the site's `controller`)."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    yield '{"records":['
    first = True
    buf = []
    for row in rows:
        doc = kantara_doc(row, site_name, controller) if kantara else record_doc(row)
        buf.append(dumps(doc) if first else "," + dumps(doc))
        first = False
        if len(buf) >= 500:
            yield "".join(buf)
            buf.clear()
    if buf:
        yield "".join(buf)
    yield '],"next_cursor":' + dumps(next_cursor) + "}\n"


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as a formula (OWASP)


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: one beginning like a formula gets a leading `'`
    (a user agent or page URL is the visitor's own text)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def render_csv(rows: Iterable[sa.RowMapping]) -> Iterator[str]:
    """Yield CSV text: a header, then one line per record (decisions as compact JSON), every cell
    that would start a formula neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    n = 0
    for row in rows:
        values = [_plain(row[c]) for c in EXPORT_COLUMNS]
        values[5] = json.dumps(row["decisions"], separators=(",", ":"), sort_keys=True)
        writer.writerow([csv_cell(v) for v in values])
        n += 1
        if n % 500 == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()
