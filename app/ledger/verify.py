"""`flask ledger verify`: recompute every record hash, seal hash and MAC of a site.

Names each record altered, inserted into a sealed range or removed from one; each broken link of
the seal chain; each seal, erasure entry or purge checkpoint whose MAC the ledger's key does not
give (a rewrite by someone without OPSIQ_MASTER_KEY), and each seal still unkeyed (made before
keyed seals: `flask ledger rekey` keys them). Lawful changes pass: a record erased by an entry
that lists it (app/ledger/erasure.py), sealed records purged within a checkpoint's range and
count (app/ledger/purge.py). Given an anchor (app/ledger/anchors.py), the seal it names must
still be there, unchanged: removing the newest seals with their records is caught.
`verify_record` checks one record (and its seal) by the same rules, for the dashboard's record page.
"""
from app.errors import Conflict
from app.extensions import db
from app.ledger import macs, rules
from app.ledger.erasure import erasure_mac, is_erased_form
from app.ledger.purge import checkpoint_mac
from app.ledger.seals import GENESIS, last_seal
from app.models import ConsentRecord, LedgerCheckpoint, LedgerErasure, LedgerSeal


def _erasures(site_id, key, problems, row_id=None, entry_of=None):
    """{row id: residual hash or None} of the rows the site's valid erasure entries list (given
    `row_id`, only the entries that list that row are checked); `entry_of` gets {row id: entry id}."""
    listed = {}
    for e in db.session.execute(db.select(LedgerErasure).where(LedgerErasure.site_id == site_id)
                                .order_by(LedgerErasure.id)).scalars():
        if row_id is not None and not any(int(row) == row_id for row, _, _ in e.entries):
            continue
        if not macs.matches(erasure_mac(key, site_id, e.erased_at, e.reason, e.entries), e.mac):
            problems.append({"kind": "erasure_forged", "erasure": e.id,
                             "detail": f"erasure entry {e.id} does not carry the ledger's MAC"})
            continue
        listed.update({int(row): residual for row, _, residual in e.entries})
        if entry_of is not None:
            entry_of.update({int(row): e.id for row, _, _ in e.entries})
    return listed


def _checkpoints(site_id, key, problems):
    """[[first id, last id, count allowed, count missing so far, id]] of the site's valid checkpoints."""
    found = []
    for c in db.session.execute(db.select(LedgerCheckpoint).where(LedgerCheckpoint.site_id == site_id)
                                .order_by(LedgerCheckpoint.id)).scalars():
        expected = checkpoint_mac(key, site_id, c.first_id, c.last_id, c.record_count, c.setting, c.created_at)
        if not macs.matches(expected, c.mac):
            problems.append({"kind": "checkpoint_forged", "checkpoint": c.id,
                             "detail": f"purge checkpoint {c.id} does not carry the ledger's MAC"})
            continue
        found.append([c.first_id, c.last_id, c.record_count, 0, c.id])
    return found


def _actual_hash(rec, erased, problems):
    """The hash a stored record has by the rules (None: none it could have), noting an erasure
    no entry vouches for."""
    columns = {c: getattr(rec, c) for c in rules.HASHED_COLUMNS}
    lost_salt = rec.personal_digest is not None and rec.personal_salt is None
    if rec.erased_at is None and not lost_salt:
        return rules.hash_in_stored_form(columns, rec.record_hash)
    if rec.id not in erased:
        problems.append({"kind": "erased_unlisted", "record_id": rec.record_id,
                         "detail": f"record {rec.record_id} is erased but no erasure entry lists it"})
        return None
    if not is_erased_form(columns):
        return None  # personal fields written back onto an erased record
    if rec.personal_digest is not None:
        return rules.record_hash(columns)  # over the digest, which erasure kept
    residual = erased[rec.id]  # a record of the older forms: the entry vouches for what it kept
    return rec.record_hash if residual is not None and residual == rules.residual_hash(columns) else None


def seal_problems(seal: LedgerSeal, prev_hash: str, key: bytes) -> list[dict]:
    """What is wrong with one seal, given the hash of the seal before it (GENESIS for the first):
    it does not chain (its hash is not the one its entries and that seal give), or its MAC is
    missing or not the ledger's. Empty when the seal verifies."""
    problems = []
    site_id = seal.site_id
    digest = rules.seal_hash(seal.prev_hash, site_id, seal.seq, seal.entries)
    if seal.prev_hash != prev_hash or seal.seal_hash != digest:
        problems.append({"kind": "seal_altered", "seq": seal.seq, "detail": f"seal {seal.seq} does not chain"})
    if seal.mac is None:
        problems.append({"kind": "unkeyed", "seq": seal.seq,
                         "detail": f"seal {seal.seq} has no MAC (made before keyed seals: run `flask ledger rekey`)"})
    elif not macs.matches(macs.seal_mac(key, site_id, seal.seq, seal.seal_hash), seal.mac):
        problems.append({"kind": "seal_forged", "seq": seal.seq,
                         "detail": f"seal {seal.seq} does not carry the ledger's MAC (rewritten without the key)"})
    return problems


def verify_site(site_id: int, anchor: dict | None = None, key: bytes | None = None) -> dict:
    """Check every record, seal, erasure and checkpoint of a site (and the seal head `anchor`
    names, if given). Returns a report dict; `ok` is False on any finding."""
    from app.ledger.anchors import check_head  # anchors names seals; verify only asks it

    key = macs.ledger_key() if key is None else key
    problems = []
    erased = _erasures(site_id, key, problems)
    checkpoints = _checkpoints(site_id, key, problems)
    sealed_ids = set()
    prev = GENESIS
    prev_last = 0  # a seal answers for its chain's rows after the seal before it, up to its last one
    expected_seq = 1
    unkeyed = erased_count = purged = 0
    seals = db.session.execute(
        db.select(LedgerSeal).where(LedgerSeal.site_id == site_id).order_by(LedgerSeal.seq)
    ).scalars()
    for seal in seals:
        if seal.seq != expected_seq:
            problems.append({"kind": "seal_missing", "seq": expected_seq,
                             "detail": f"seal {expected_seq} is missing before seal {seal.seq}"})
        found = seal_problems(seal, prev, key)
        unkeyed += any(p["kind"] == "unkeyed" for p in found)
        problems += found
        prev = seal.seal_hash
        expected_seq = seal.seq + 1
        sealed = {int(i): h for i, h in seal.entries}
        sealed_ids.update(sealed)
        # from the row after the previous seal's last, not its own first: a row put between two seals'
        # ranges (at an id another site's row freed, or the sequence skipped) is in neither
        rows = db.session.execute(
            db.select(ConsentRecord).where(ConsentRecord.site_id == site_id, ConsentRecord.id > prev_last,
                                           ConsentRecord.id <= seal.last_id)
        ).scalars()
        prev_last = seal.last_id
        seen = set()
        for rec in rows:
            seen.add(rec.id)
            erased_count += rec.erased_at is not None
            actual = _actual_hash(rec, erased, problems)
            if rec.id not in sealed:
                problems.append({"kind": "inserted", "record_id": rec.record_id,
                                 "detail": f"record {rec.record_id} was not in seal {seal.seq}"})
            elif actual != sealed[rec.id] or actual != rec.record_hash:
                problems.append({"kind": "altered", "record_id": rec.record_id,
                                 "detail": f"record {rec.record_id} differs from what seal {seal.seq} holds"})
        for missing in sorted(set(sealed) - seen):
            covering = next((c for c in checkpoints if c[0] <= missing <= c[1]), None)
            if covering is not None:
                covering[3] += 1
                purged += 1
                continue
            problems.append({"kind": "removed", "row": missing,
                             "detail": f"row {missing} sealed in seal {seal.seq} is gone"})
    for first, last, allowed, missing, cid in checkpoints:
        if missing > allowed:
            problems.append({"kind": "removed", "checkpoint": cid,
                             "detail": f"{missing} sealed rows are gone from rows {first}-{last}, "
                                       f"but purge checkpoint {cid} deleted {allowed}"})
    last_id = max(sealed_ids) if sealed_ids else 0
    covers_until = head.covers_until if (head := last_seal(site_id)) else None
    unsealed = 0
    for rec in db.session.execute(
        db.select(ConsentRecord).where(ConsentRecord.site_id == site_id, ConsentRecord.id > last_id)
    ).scalars():
        unsealed += 1
        erased_count += rec.erased_at is not None
        if _actual_hash(rec, erased, problems) != rec.record_hash:
            problems.append({"kind": "altered", "record_id": rec.record_id,
                             "detail": f"record {rec.record_id} does not match its own hash (not sealed yet)"})
        elif covers_until and rec.created_at <= covers_until:
            problems.append({"kind": "inserted", "record_id": rec.record_id,
                             "detail": f"record {rec.record_id} is dated before the last seal but is in none"})
    if anchor is not None:
        problems += check_head(site_id, anchor, key)
    return {"ok": not problems, "sealed": len(sealed_ids), "unsealed": unsealed, "seals": expected_seq - 1,
            "unkeyed": unkeyed, "erased": erased_count, "purged": purged, "problems": problems}


def verify_record(rec: ConsentRecord, key: bytes | None = None) -> dict:
    """One record checked as verify_site checks each: its hash recomputed by the rules (an erased
    record's with the erasure entry that lists it), the seal that holds it, whether that seal
    chains to the one before it and carries the ledger's MAC, and whether it holds this hash.

    Returns {"ok", "hash_ok", "erasure" (the entry's id, or None), "seal" (the LedgerSeal that
    answers for the record's row, or None while none does), "sealed" (whether that seal lists it),
    "seal_ok", "problems"} with the problems named as verify_site names them. Reads that seal and
    the one before it, and for an erased record the site's erasure entries."""
    key = macs.ledger_key() if key is None else key
    site_id = rec.site_id
    problems = []
    entry_of = {}
    erased = _erasures(site_id, key, problems, rec.id, entry_of) if rec.erased_at is not None else {}
    actual = _actual_hash(rec, erased, problems)
    hash_ok = actual is not None and actual == rec.record_hash
    # the seal answering for the record's row: the first to end at or after it (as verify_site reads them)
    seal = db.session.execute(db.select(LedgerSeal).where(LedgerSeal.site_id == site_id, LedgerSeal.last_id >= rec.id)
                              .order_by(LedgerSeal.seq).limit(1)).scalar()
    seal_ok = in_seal = False
    if seal is not None:
        before = db.session.execute(db.select(LedgerSeal.seal_hash).where(
            LedgerSeal.site_id == site_id, LedgerSeal.seq == seal.seq - 1)).scalar() if seal.seq > 1 else GENESIS
        if before is None:
            problems.append({"kind": "seal_missing", "seq": seal.seq - 1,
                             "detail": f"seal {seal.seq - 1} is missing before seal {seal.seq}"})
        found = seal_problems(seal, seal.prev_hash if before is None else before, key)
        problems += found
        seal_ok = before is not None and not found
        sealed = {int(i): h for i, h in seal.entries}
        in_seal = rec.id in sealed
        if not in_seal:
            problems.append({"kind": "inserted", "record_id": rec.record_id,
                             "detail": f"record {rec.record_id} was not in seal {seal.seq}"})
        elif not hash_ok or sealed[rec.id] != rec.record_hash:
            hash_ok = False
            problems.append({"kind": "altered", "record_id": rec.record_id,
                             "detail": f"record {rec.record_id} differs from what seal {seal.seq} holds"})
    elif not hash_ok:
        problems.append({"kind": "altered", "record_id": rec.record_id,
                         "detail": f"record {rec.record_id} does not match its own hash (not sealed yet)"})
    elif (head := last_seal(site_id)) is not None and rec.created_at <= head.covers_until:
        problems.append({"kind": "inserted", "record_id": rec.record_id,
                         "detail": f"record {rec.record_id} is dated before the last seal but is in none"})
    return {"ok": not problems, "hash_ok": hash_ok, "erasure": entry_of.get(rec.id), "seal": seal,
            "sealed": in_seal, "seal_ok": seal_ok, "problems": problems}


def rekey_site(site_id: int, key: bytes, old_key: bytes | None = None) -> int:
    """MAC the site's seals that carry no MAC with `key` and, given `old_key` (after `flask keys
    rotate-master`), re-make with `key` every seal, erasure and checkpoint MAC made under it;
    only once the ledger verifies otherwise (keying a tampered chain would vouch for it). Returns
    how many seals it keyed; Conflict names what stops it. Commits."""
    report = verify_site(site_id, key=old_key or key)
    blocking = [p for p in report["problems"] if p["kind"] != "unkeyed"]
    if blocking:
        raise Conflict(f"the ledger does not verify, so it is not keyed: {blocking[0]['detail']}")
    done = 0
    for seal in db.session.execute(db.select(LedgerSeal).where(LedgerSeal.site_id == site_id)).scalars():
        if seal.mac is None or old_key is not None:
            seal.mac = macs.seal_mac(key, site_id, seal.seq, seal.seal_hash)
            done += 1
    if old_key is not None:  # each verified under the old key above
        for e in db.session.execute(db.select(LedgerErasure).where(LedgerErasure.site_id == site_id)).scalars():
            e.mac = erasure_mac(key, site_id, e.erased_at, e.reason, e.entries)
        for c in db.session.execute(db.select(LedgerCheckpoint).where(LedgerCheckpoint.site_id == site_id)).scalars():
            c.mac = checkpoint_mac(key, site_id, c.first_id, c.last_id, c.record_count, c.setting, c.created_at)
    db.session.commit()
    return done
