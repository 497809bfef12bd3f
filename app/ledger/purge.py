"""Purging sealed records (retention), leaving a MAC'd checkpoint that lets verify tell the purge
from a deletion.

The checkpoint is written, and committed, before the first record goes: a purge interrupted
midway has already said what it was deleting, and deleting in bounded batches (each its own
transaction) never holds a lock that stalls the writers. verify then accepts up to
`record_count` sealed records missing from the checkpoint's range; one more missing, or one
missing anywhere else, is still a deletion it names.
"""
from collections.abc import Collection

import sqlalchemy as sa

from app.errors import Conflict, Invalid
from app.extensions import db
from app.ledger import macs
from app.ledger.seals import last_seal
from app.models import ConsentRecord, LedgerCheckpoint, LedgerSeal, utcnow

PURGE_BATCH = 1000


def checkpoint_mac(key: bytes, site_id: int, first_id: int, last_id: int, count: int, setting: str, at) -> str:
    """A checkpoint's MAC: its range, count, setting and time."""
    return macs.mac(key, "checkpoint", site_id, {"first": first_id, "last": last_id, "count": count,
                                                  "setting": setting, "at": at.isoformat()})


def _sealed_ids(site_id: int, first_id: int, last_id: int) -> set[int]:
    seals = db.session.execute(db.select(LedgerSeal.entries).where(
        LedgerSeal.site_id == site_id, LedgerSeal.last_id >= first_id, LedgerSeal.first_id <= last_id)).scalars()
    return {int(i) for entries in seals for i, _ in entries if first_id <= int(i) <= last_id}


def purge_sealed_range(site_id: int, first_id: int, last_id: int, setting: str, keep: Collection[int] = (),
                       batch: int = PURGE_BATCH) -> LedgerCheckpoint:
    """Delete a site's records with row ids in [first_id, last_id] but those in `keep` (say, the
    consents still in force), after a checkpoint naming the range, how many it deletes and the
    `setting` that caused it. The range must be sealed (Conflict otherwise: an unsealed record's
    deletion could not be told from tampering). Commits the checkpoint, then each batch."""
    if first_id > last_id:
        raise Invalid("an empty row-id range")
    head = last_seal(site_id)
    if head is None or head.last_id < last_id:
        raise Conflict(f"rows up to {last_id} are not all sealed yet: seal before purging")
    keep = {int(i) for i in keep}
    t = ConsentRecord.__table__
    present = set(db.session.execute(sa.select(t.c.id).where(t.c.site_id == site_id,
                                                              t.c.id.between(first_id, last_id))).scalars())
    # only what is there and sealed: a record already missing stays a deletion for verify to name
    doomed = sorted((_sealed_ids(site_id, first_id, last_id) & present) - keep)
    now = utcnow()
    checkpoint = LedgerCheckpoint(site_id=site_id, first_id=first_id, last_id=last_id, record_count=len(doomed),
                                  setting=setting, created_at=now,
                                  mac=checkpoint_mac(macs.ledger_key(), site_id, first_id, last_id, len(doomed),
                                                     setting, now))
    db.session.add(checkpoint)
    db.session.commit()
    for start in range(0, len(doomed), batch):
        db.session.execute(sa.delete(t).where(t.c.site_id == site_id, t.c.id.in_(doomed[start:start + batch])))
        db.session.commit()
    return checkpoint
