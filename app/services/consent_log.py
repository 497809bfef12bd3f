"""The consent log: a site's records found by visitor, record id, receipt or person, newest first,
one bounded page at a time; and one record with its receipt and its proof (hash and seal).

A page is at most `size` records (and one more read, to know whether another follows), newest
first by (created_at, id): on the (site_id, created_at) index for a time range or the whole log,
on (site_id, visitor_id, id) for a visitor or a person's visitors. Its cursor is the last row's
(created_at, id), so the next page starts where the last one stopped, whatever was written since.

Looking a person up by email or external id is a read of personal data: each page so read is
audited as `consent_log.searched`, the person named by the identity index's keyed hash (never the
address), committed before the page is returned, as the ledger export audits its pages.
"""
import base64
import binascii
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.errors import Invalid, NotFound
from app.extensions import db
from app.ledger.verify import verify_record
from app.models import ConsentRecord
from app.services import audit, checks
from app.services.identities import find_person, linked_visitors
from app.services.proof.packs import collected_with
from app.services.receipts import payload_for_columns, receipt_for_columns
from app.services.subjects.requests import subject_target

if TYPE_CHECKING:
    from app.services.sites.snapshot import SiteSnapshot

PAGE_SIZE = 50
# what a row of the log shows (the record page shows every column)
LOG_COLUMNS = ("id", "record_id", "visitor_id", "created_at", "method", "event", "regime", "country", "region",
               "policy_version", "decisions", "gpc", "erased_at")
# every column of a record, in the table's order, but the site it belongs to
RECORD_FIELDS = tuple(c.name for c in ConsentRecord.__table__.columns if c.name != "site_id")
PERSON_SELECTORS = ("email", "external_id")
# what each field of a receipt's payload stands for (receipts.receipt_payload)
RECEIPT_FIELDS = {"rid": "record id", "site": "site", "vid": "visitor id", "ev": "event", "m": "method",
                  "d": "decisions", "rg": "regime", "c": "country", "r": "region", "pv": "policy version",
                  "gpc": "GPC", "iat": "time", "exp": "expiry", "v": "receipt version"}
_CURSOR_TAG = "l1"


@dataclass(frozen=True)
class LogPage:
    """A page of the log: its rows (dicts of LOG_COLUMNS), newest first, and the cursor of the next
    page (None on the last)."""

    rows: list[dict[str, Any]]
    next_cursor: str | None


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def encode_cursor(created_at: dt.datetime, row_id: int) -> str:
    """The opaque cursor of the page after the row (created_at, id)."""
    stamp = _aware(created_at).astimezone(dt.timezone.utc).isoformat()
    return base64.urlsafe_b64encode(f"{_CURSOR_TAG}|{stamp}|{row_id}".encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    """(created_at, row id) of a cursor `encode_cursor` made; Invalid for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, stamp, row = raw.split("|")
        at, row_id = dt.datetime.fromisoformat(stamp), int(row)
        if tag != _CURSOR_TAG or at.tzinfo is None or not 0 < row_id < 2**63:
            raise ValueError
        return at, row_id
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Invalid("That is not a page of this log: start again from the newest records.",
                      errors={"cursor": ["not a cursor this log issued"]}) from None


def log_page(site_id: int, visitor_ids: Sequence[str] | None = None, record_id: str | None = None,
             start: dt.datetime | None = None, end: dt.datetime | None = None, cursor: str | None = None,
             size: int = PAGE_SIZE) -> LogPage:
    """A page of the site's records, newest first: those of `visitor_ids` (None: every visitor;
    empty: none), of one `record_id`, created in [start, end), after `cursor`."""
    if visitor_ids is not None and not visitor_ids:
        return LogPage([], None)
    t = ConsentRecord.__table__
    cond = [t.c.site_id == site_id]
    if visitor_ids is not None:
        cond.append(t.c.visitor_id.in_(list(visitor_ids)) if len(visitor_ids) > 1 else t.c.visitor_id == visitor_ids[0])
    if record_id is not None:
        cond.append(t.c.record_id == record_id)
    if start is not None:
        cond.append(t.c.created_at >= start)
    if end is not None:
        cond.append(t.c.created_at < end)
    if cursor:
        at, row_id = decode_cursor(cursor)
        # the first term bounds the index walk; the second breaks ties of one instant by id
        cond += [t.c.created_at <= at, sa.or_(t.c.created_at < at, t.c.id < row_id)]
    rows = db.session.execute(
        sa.select(*[t.c[c] for c in LOG_COLUMNS]).where(*cond)
        .order_by(t.c.created_at.desc(), t.c.id.desc()).limit(size + 1)
    ).mappings().all()
    page = [dict(r, created_at=_aware(r["created_at"])) for r in rows[:size]]
    more = len(rows) > size
    return LogPage(page, encode_cursor(page[-1]["created_at"], page[-1]["id"]) if more else None)


@dataclass(frozen=True)
class PersonRecords:
    """A person's page of the log: who they are in the index (None: no one has that email or
    external id here), the visitors linked to them, and the page."""

    person_id: str | None
    visitor_ids: list[str]
    page: LogPage


def person_records(site_id: int, selector: str, value: str, start: dt.datetime | None = None,
                   end: dt.datetime | None = None, cursor: str | None = None, size: int = PAGE_SIZE) -> PersonRecords:
    """A page of the records of every visitor linked to the person with this email or external id
    (`selector`), newest first; audited as `consent_log.searched` (found or not) and committed."""
    value = (value or "").strip()
    if selector not in PERSON_SELECTORS or not value:
        raise Invalid(f"Give an {' or '.join(PERSON_SELECTORS)} to look a person up by.",
                      errors={"query": ["give an email or an external id"]})
    person = find_person(site_id, **{selector: value})
    visitors = linked_visitors(person) if person is not None else []
    page = log_page(site_id, visitors, None, start, end, cursor, size)
    audit.record("consent_log.searched", subject_target(site_id, {selector: value}), site_id, {
        "by": selector, "found": person is not None, "visitors": len(visitors), "records": len(page.rows),
        "from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
        "next_page": bool(cursor)})
    db.session.commit()
    return PersonRecords(person.person_id if person is not None else None, visitors, page)


@dataclass(frozen=True)
class ReceiptMatch:
    """A pasted receipt: the server's verdict on it (checks.verify_receipt_token), the record it
    names as the site holds it now (None when it names none of the site's), which fields of the
    receipt the stored record no longer says alike (by RECEIPT_FIELDS' names), and whether that
    record was erased since (its visitor id is then gone, lawfully: not counted as a difference)."""

    check: dict[str, Any]
    record: dict[str, Any] | None
    differs: list[str]
    erased: bool = False


def find_by_receipt(snap: "SiteSnapshot", token: str, now: dt.datetime | None = None) -> ReceiptMatch:
    """Verify a receipt as POST /api/v1/receipts/verify does and, when this site signed it, find
    the record it names and compare the two."""
    token = (token or "").strip()
    if not token:
        raise Invalid("Paste a receipt to verify.", errors={"query": ["paste a receipt"]})
    check = checks.verify_receipt_token(snap, token, now)
    if not check["authentic"]:
        return ReceiptMatch(check, None, [])
    t = ConsentRecord.__table__
    named = str(check["record"].get("rid"))
    row = db.session.execute(sa.select(t).where(t.c.site_id == snap.id, t.c.record_id == named)).mappings().first()
    if row is None:
        return ReceiptMatch(check, None, [])
    erased = row["erased_at"] is not None
    stored = payload_for_columns(row, snap.site_key)
    differs = [RECEIPT_FIELDS.get(k, k) for k, v in stored.items()
               if check["record"].get(k) != v and not (erased and k == "vid")]
    shown = {c: row[c] for c in LOG_COLUMNS} | {"created_at": _aware(row["created_at"])}
    return ReceiptMatch(check, shown, differs, erased)


@dataclass(frozen=True)
class RecordProof:
    """One record as the log's record page shows it: every field (RECORD_FIELDS), its receipt
    (None once erased: the visitor's receipt named them), its proof (verify.verify_record), and
    what it was collected with."""

    fields: dict[str, Any]
    receipt: str | None
    proof: dict[str, Any]
    collected: dict[str, Any]  # its widget build and its policy version's proof pack (packs.collected_with)


def record_proof(snap: "SiteSnapshot", record_id: str) -> RecordProof:
    """The record with this id on this site, its receipt and its proof; NotFound if the site has none."""
    rec = db.session.execute(db.select(ConsentRecord).where(
        ConsentRecord.site_id == snap.id, ConsentRecord.record_id == record_id)).scalar_one_or_none()
    if rec is None:
        raise NotFound("This site has no record with that id.")
    fields = {name: getattr(rec, name) for name in RECORD_FIELDS}
    receipt = receipt_for_columns(snap, fields) if rec.erased_at is None else None
    return RecordProof(fields, receipt, verify_record(rec), collected_with(snap.id, rec.policy_version, rec.widget_build))
