"""Lawful erasure of records' personal fields, leaving every hash and seal verifiable.

A record of the current form commits to its personal fields (rules.PERSONAL_COLUMNS) through its
personal digest; erasure removes the fields and the salt, keeps the digest and the record hash,
and writes an erasure entry (the rows, when, why; no personal data) MAC'd under the ledger's key.
verify accepts a record as erased only when a valid entry lists it, so someone with database
access alone cannot "erase" a record to hide whose it was, nor edit an erased one.

The visitor id column stays NOT NULL (every read path and index assumes one): an erased record's
is `erased:<its record id>`, which names no one (the record id is in the row already) and which
verify can check exactly. Records hashed in the older forms hash their personal fields
themselves: the entry holds, MAC'd, the hash of what they keep (rules.residual_hash), taken only
if the record verified when erased.
"""
from collections.abc import Collection

import sqlalchemy as sa

from app.extensions import db
from app.ledger import macs, rules
from app.models import ConsentRecord, LedgerErasure, utcnow

ERASED_PREFIX = "erased:"
_ERASED = {"client_record_id": None, "ip_truncated": None, "user_agent": None, "page_url": None,
           "personal_salt": None, "secret_hash": None}


def erased_visitor_id(record_id: str) -> str:
    """The visitor id an erased record holds in place of its visitor's."""
    return ERASED_PREFIX + record_id


def is_erased_form(columns) -> bool:
    """Whether a record's personal fields are exactly what erasure leaves."""
    return (columns.get("visitor_id") == erased_visitor_id(columns.get("record_id"))
            and all(columns.get(k) is None for k in rules.PERSONAL_COLUMNS if k != "visitor_id")
            and columns.get("personal_salt") is None)


def erasure_mac(key: bytes, site_id: int, erased_at, reason: str, entries: list) -> str:
    """An erasure entry's MAC: its time, reason and rows."""
    return macs.mac(key, "erasure", site_id, {"at": erased_at.isoformat(), "reason": reason, "entries": entries})


def erase_personal(site_id: int, row_ids: Collection[int], reason: str) -> LedgerErasure | None:
    """Erase the personal fields of a site's records (row ids; those already erased are skipped)
    and write the erasure entry that vouches for it, in the caller's transaction (not committed:
    the caller commits it with whatever else the erasure changes). Returns the entry, or None
    when there was nothing left to erase. `reason` is stored as given: a request id, never a name."""
    t = ConsentRecord.__table__
    ids = sorted({int(i) for i in row_ids})
    rows = []
    for start in range(0, len(ids), 5000):  # SQLite's bound-variable limit
        rows += db.session.execute(
            sa.select(t).where(t.c.site_id == site_id, t.c.id.in_(ids[start:start + 5000]), t.c.erased_at.is_(None))
        ).mappings().all()
    if not rows:
        return None
    now = utcnow()
    entries = []
    for row in sorted(rows, key=lambda r: r["id"]):
        residual = None
        if row["personal_digest"] is None and rules.hash_in_stored_form(row, row["record_hash"]) == row["record_hash"]:
            residual = rules.residual_hash(row)
        entries.append([row["id"], row["record_id"], residual])
        db.session.execute(sa.update(t).where(t.c.id == row["id"]).values(
            visitor_id=erased_visitor_id(row["record_id"]), erased_at=now, **_ERASED))
    erasure = LedgerErasure(site_id=site_id, erased_at=now, reason=reason, record_count=len(entries), entries=entries,
                            mac=erasure_mac(macs.ledger_key(), site_id, now, reason, entries))
    db.session.add(erasure)
    db.session.flush()
    return erasure
