"""Tamper evidence for the consent ledger.

Each record carries the SHA-256 of its canonical content. Records are sealed in batches: a seal
lists the (row id, record hash) pairs it covers and is chained by SHA-256 to the seal before it.
Writers never wait on a shared row: sealing runs apart from the insert, at most every few
seconds, and two sealers racing for the same sequence number simply lose to each other.
`verify` recomputes every hash and names each record altered, inserted into a sealed range, or
removed from one, and any broken link of the seal chain.
"""
import datetime as dt

import sqlalchemy as sa

from app.extensions import db
from app.ledger.rules import HASHED_COLUMNS, hash_in_stored_form, seal_hash
from app.models import ConsentRecord, LedgerSeal, utcnow

GENESIS = "0" * 64
SEAL_BATCH = 5000
AUTO_SEAL_LIMIT = 500  # records a seal made from the write path takes at most, so no write waits long
CROSSING_WINDOW = 1000  # how many records past a seal may carry an earlier time (concurrent writers)


def _aware(value):
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


SEAL_LOCK = 0x0C5EA1  # advisory lock namespace of the sealers (with the site id as second key)


def _sealing_lock(site_id):
    """On PostgreSQL, this transaction's claim on sealing the site (False: another sealer has it);
    two sealers would only race for the same seq. Elsewhere (SQLite writes one at a time) True."""
    if db.engine.dialect.name != "postgresql":
        return True
    got = db.session.execute(sa.text("SELECT pg_try_advisory_xact_lock(:ns, :site)"),
                             {"ns": SEAL_LOCK, "site": site_id}).scalar()
    if not got:
        db.session.rollback()
    return bool(got)


def _last_seal(site_id):
    return db.session.execute(
        db.select(LedgerSeal).where(LedgerSeal.site_id == site_id).order_by(LedgerSeal.seq.desc()).limit(1)
    ).scalar_one_or_none()


def seal_site(site_id: int, lag_seconds: float = 5, limit: int | None = None, batch: int = SEAL_BATCH) -> int:
    """Seal the site's unsealed records older than `lag_seconds`, in seals of up to `batch` records,
    stopping after about `limit` records (None: all). Returns how many were sealed."""
    total = 0
    while limit is None or total < limit:
        size = batch if limit is None else min(batch, limit - total)
        if not _sealing_lock(site_id):
            return total  # another process is sealing this site right now
        last = _last_seal(site_id)
        after = last.last_id if last else 0
        cutoff = utcnow() - dt.timedelta(seconds=lag_seconds)
        # Writers take their created_at a moment before their row id, so ids and times can cross
        # between concurrent writers. A seal stops before the first record younger than the cutoff
        # (by id), never skipping an older one that got a later id.
        young = db.session.execute(
            db.select(sa.func.min(ConsentRecord.id))
            .where(ConsentRecord.site_id == site_id, ConsentRecord.id > after, ConsentRecord.created_at > cutoff)
        ).scalar()
        query = (db.select(ConsentRecord.id, ConsentRecord.record_hash, ConsentRecord.created_at)
                 .where(ConsentRecord.site_id == site_id, ConsentRecord.id > after))
        if young is not None:
            query = query.where(ConsentRecord.id < young)
        rows = db.session.execute(query.order_by(ConsentRecord.id).limit(size)).all()
        if not rows:
            db.session.rollback()  # ends the read (and frees the sealing lock)
            return total
        entries = [[r.id, r.record_hash] for r in rows]
        seq = (last.seq + 1) if last else 1
        prev = last.seal_hash if last else GENESIS
        # The seal vouches that no record dated up to `covers` is missing from the seals: it claims
        # no further than just before the oldest record it leaves for later (among the next ones
        # by id, where crossings happen).
        following = (db.select(ConsentRecord.created_at)
                     .where(ConsentRecord.site_id == site_id, ConsentRecord.id > rows[-1].id)
                     .order_by(ConsentRecord.id).limit(CROSSING_WINDOW).subquery())
        left = db.session.execute(db.select(sa.func.min(following.c.created_at))).scalar()
        covers = cutoff if left is None else min(cutoff, _aware(left) - dt.timedelta(microseconds=1))
        db.session.add(LedgerSeal(
            site_id=site_id, seq=seq, first_id=rows[0].id, last_id=rows[-1].id, record_count=len(rows),
            entries=entries, covers_until=covers, prev_hash=prev, seal_hash=seal_hash(prev, site_id, seq, entries),
        ))
        try:
            db.session.commit()
        except sa.exc.IntegrityError:
            db.session.rollback()  # another process sealed this batch first
            return total
        total += len(rows)
        if len(rows) < size:
            return total
    return total


def verify_site(site_id: int) -> dict:
    """Check every record and seal of a site. Returns a report dict; `ok` is False on any finding."""
    problems = []
    sealed_ids = set()
    prev = GENESIS
    expected_seq = 1
    seals = db.session.execute(
        db.select(LedgerSeal).where(LedgerSeal.site_id == site_id).order_by(LedgerSeal.seq)
    ).scalars()
    for seal in seals:
        if seal.seq != expected_seq:
            problems.append({"kind": "seal_missing", "seq": expected_seq,
                             "detail": f"seal {expected_seq} is missing before seal {seal.seq}"})
        if seal.prev_hash != prev or seal.seal_hash != seal_hash(seal.prev_hash, site_id, seal.seq, seal.entries):
            problems.append({"kind": "seal_altered", "seq": seal.seq, "detail": f"seal {seal.seq} does not chain"})
        prev = seal.seal_hash
        expected_seq = seal.seq + 1
        sealed = {int(i): h for i, h in seal.entries}
        sealed_ids.update(sealed)
        rows = db.session.execute(
            db.select(ConsentRecord).where(ConsentRecord.site_id == site_id,
                                           ConsentRecord.id.between(seal.first_id, seal.last_id))
        ).scalars()
        seen = set()
        for rec in rows:
            seen.add(rec.id)
            actual = hash_in_stored_form(_columns(rec), rec.record_hash)
            if rec.id not in sealed:
                problems.append({"kind": "inserted", "record_id": rec.record_id,
                                 "detail": f"record {rec.record_id} was not in seal {seal.seq}"})
            elif actual != sealed[rec.id] or actual != rec.record_hash:
                problems.append({"kind": "altered", "record_id": rec.record_id,
                                 "detail": f"record {rec.record_id} differs from what seal {seal.seq} holds"})
        for missing in sorted(set(sealed) - seen):
            problems.append({"kind": "removed", "row": missing,
                             "detail": f"row {missing} sealed in seal {seal.seq} is gone"})
    last_id = max(sealed_ids) if sealed_ids else 0
    covers_until = last_seal.covers_until if (last_seal := _last_seal(site_id)) else None
    unsealed = 0
    for rec in db.session.execute(
        db.select(ConsentRecord).where(ConsentRecord.site_id == site_id, ConsentRecord.id > last_id)
    ).scalars():
        unsealed += 1
        if hash_in_stored_form(_columns(rec), rec.record_hash) != rec.record_hash:
            problems.append({"kind": "altered", "record_id": rec.record_id,
                             "detail": f"record {rec.record_id} does not match its own hash (not sealed yet)"})
        elif covers_until and rec.created_at <= covers_until:
            problems.append({"kind": "inserted", "record_id": rec.record_id,
                             "detail": f"record {rec.record_id} is dated before the last seal but is in none"})
    return {"ok": not problems, "sealed": len(sealed_ids), "unsealed": unsealed, "seals": expected_seq - 1,
            "problems": problems}


def _columns(rec):
    return {c: getattr(rec, c) for c in HASHED_COLUMNS}
