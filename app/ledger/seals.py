"""Sealing the consent ledger.

Each record carries the SHA-256 of its canonical content (app/ledger/rules.py). Records are
sealed in batches: a seal lists the (row id, record hash) pairs it covers, is chained by SHA-256
to the seal before it, and carries a MAC of its hash under the ledger's key (app/ledger/macs.py).
Writers never wait on a shared row: sealing runs apart from the insert, at most every few
seconds, and two sealers racing for the same sequence number simply lose to each other. Each
seal sends a `ledger.sealed` webhook event with its head, so a copy lives outside the database.
app/ledger/verify.py checks it all.
"""
import datetime as dt

import sqlalchemy as sa

from app.extensions import db
from app.ledger import macs
from app.ledger.rules import seal_hash
from app.models import ConsentRecord, LedgerSeal, utcnow
from app.services.webhooks.outbox import enqueue

GENESIS = "0" * 64
SEAL_BATCH = 5000
AUTO_SEAL_LIMIT = 500  # records a seal made from the write path takes at most, so no write waits long
CROSSING_WINDOW = 1000  # how many records past a seal may carry an earlier time (concurrent writers)


def aware(value):
    """A stored time as an aware UTC one (a driver may hand back a naive UTC time)."""
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


SEAL_LOCK = 0x0C5EA1  # advisory lock namespace of the sealers (with the site id as second key)


def sealing_lock(scope: int, namespace: int = SEAL_LOCK) -> bool:
    """On PostgreSQL, this transaction's claim on sealing one chain (False: another sealer has it);
    two sealers would only race for the same seq. Elsewhere (SQLite writes one at a time) True."""
    if db.engine.dialect.name != "postgresql":
        return True
    got = db.session.execute(sa.text("SELECT pg_try_advisory_xact_lock(:ns, :scope)"),
                             {"ns": namespace, "scope": scope}).scalar()
    if not got:
        db.session.rollback()
    return bool(got)


def first_young_id(table: sa.Table, where, after: int, cutoff: dt.datetime) -> int | None:
    """The lowest row id after `after` of the rows `where` picks that are younger than `cutoff`.
    `id + 0`: PostgreSQL then finds it from the (site, created_at) index among the few young rows; a
    plain min(id) walks the primary key from `after` through every row when none is young, which
    made sealing (or rolling up) a large backlog quadratic."""
    return db.session.execute(sa.select(sa.func.min(table.c.id + 0)).where(
        where, table.c.id > after, table.c.created_at > cutoff)).scalar()


def sealable_rows(table: sa.Table, where, after: int, cutoff: dt.datetime, size: int, columns=None) -> list:
    """The next rows of one chain (`where` picks it out of `table`) after row id `after` that a
    seal may take: at most `size`, older than `cutoff`. Writers take their created_at a moment
    before their row id, so ids and times can cross between concurrent writers: a seal stops
    before the first row younger than the cutoff (by id), never skipping an older one that got a
    later id."""
    young = first_young_id(table, where, after, cutoff)
    query = sa.select(*(columns if columns is not None else [table])).where(where, table.c.id > after)
    if young is not None:
        query = query.where(table.c.id < young)
    return db.session.execute(query.order_by(table.c.id).limit(size)).all()


def seal_covers(table: sa.Table, where, last_id: int, cutoff: dt.datetime) -> dt.datetime:
    """The time up to which a seal ending at row `last_id` vouches that no row of its chain is
    missing from the seals: no further than just before the oldest row it leaves for later (among
    the next ones by id, where crossings happen)."""
    following = (sa.select(table.c.created_at).where(where, table.c.id > last_id)
                 .order_by(table.c.id).limit(CROSSING_WINDOW).subquery())
    left = db.session.execute(sa.select(sa.func.min(following.c.created_at))).scalar()
    return cutoff if left is None else min(cutoff, aware(left) - dt.timedelta(microseconds=1))


def last_seal(site_id: int) -> LedgerSeal | None:
    """The site's newest seal, or None."""
    return db.session.execute(
        db.select(LedgerSeal).where(LedgerSeal.site_id == site_id).order_by(LedgerSeal.seq.desc()).limit(1)
    ).scalar_one_or_none()


def seal_site(site_id: int, lag_seconds: float = 5, limit: int | None = None, batch: int = SEAL_BATCH) -> int:
    """Seal the site's unsealed records older than `lag_seconds`, in seals of up to `batch` records,
    stopping after about `limit` records (None: all). Returns how many were sealed."""
    total, key = 0, None
    while limit is None or total < limit:
        size = batch if limit is None else min(batch, limit - total)
        if not sealing_lock(site_id):
            return total  # another process is sealing this site right now
        last = last_seal(site_id)
        after = last.last_id if last else 0
        cutoff = utcnow() - dt.timedelta(seconds=lag_seconds)
        t = ConsentRecord.__table__
        rows = sealable_rows(t, t.c.site_id == site_id, after, cutoff, size, (t.c.id, t.c.record_hash))
        if not rows:
            db.session.rollback()  # ends the read (and frees the sealing lock)
            return total
        entries = [[r.id, r.record_hash] for r in rows]
        seq = (last.seq + 1) if last else 1
        prev = last.seal_hash if last else GENESIS
        # the seal vouches that no record dated up to `covers` is missing from the seals
        covers = seal_covers(t, t.c.site_id == site_id, rows[-1].id, cutoff)
        key = key if key is not None else macs.ledger_key()
        digest = seal_hash(prev, site_id, seq, entries)
        new = LedgerSeal(site_id=site_id, seq=seq, first_id=rows[0].id, last_id=rows[-1].id, record_count=len(rows),
                         entries=entries, covers_until=covers, prev_hash=prev, seal_hash=digest,
                         mac=macs.seal_mac(key, site_id, seq, digest), sealed_at=utcnow())
        db.session.add(new)
        enqueue(site_id, "ledger.sealed", seal_head(new), now=new.sealed_at)
        if not commit_seal():
            return total
        total += len(rows)
        if len(rows) < size:
            return total
    return total


def commit_seal() -> bool:
    """Commit a new seal; False (rolled back) when another process took its sequence number first."""
    try:
        db.session.commit()
        return True
    except sa.exc.IntegrityError:
        db.session.rollback()  # another process sealed this batch first
        return False


def seal_head(seal: LedgerSeal) -> dict:
    """What names a seal outside the database (an anchor, the `ledger.sealed` event): enough to
    find it again and to tell whether it is still the one stored."""
    return {"chain": "consent", "seq": seal.seq, "seal_hash": seal.seal_hash, "mac": seal.mac, "last_id": seal.last_id,
            "record_count": seal.record_count, "covers_until": aware(seal.covers_until).isoformat(),
            "sealed_at": aware(seal.sealed_at).isoformat()}
