"""The side chains: email consent records, audit entries and proof packs, sealed and verified like
consent records.

Each chain is one table cut by scope: a site's email consent records (`email`, scope: the site's
id), its proof packs (`proof`, scope: its id; app/services/proof/), and the audit entries of a
site (`audit`, scope: its id) or of the installation itself (`audit`, scope 0: the master key,
every site's dead letters). A seal lists the (row id, row hash) pairs of a batch, is chained by
SHA-256 to the one before it and MAC'd under the ledger's key (app/ledger/macs.py), exactly as
app/ledger/seals.py does for consent records; a row's hash is computed from its content here
(audit entries also store theirs, which must agree; a proof pack's takes in its files' hashes).

Rows leave a chain only lawfully: an erasure deletes a person's email records, a retention purge
deletes old audit entries. Either writes a MAC'd deletion entry (the row-id ranges and how many
rows it deletes) first, so verify tells it from tampering; anything else missing, inserted or
changed is named, and a database-only rewrite fails on the MACs.
"""
import datetime as dt
import hashlib
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.errors import Conflict
from app.extensions import db
from app.hashing import canonical_json, sha256_hex
from app.ledger import macs
from app.ledger.seals import (
    GENESIS,
    SEAL_BATCH,
    SEAL_LOCK,
    aware,
    commit_seal,
    seal_covers,
    sealable_rows,
    sealing_lock,
)
from app.models import AuditEntry, ChainDeletion, ChainSeal, EmailConsentRecord, ProofFile, ProofPack, Site, utcnow
from app.services.audit import entry_fields, entry_hash
from app.services.webhooks.outbox import enqueue

INSTALLATION = 0  # the scope of the audit entries that belong to no site


def _utc_iso(value: dt.datetime) -> str:
    return aware(value).astimezone(dt.timezone.utc).isoformat()


def _email_row_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 of an email consent record's canonical JSON: every column but the row id, times in
    UTC ISO 8601."""
    doc = {k: (_utc_iso(v) if isinstance(v, dt.datetime) else v) for k, v in row.items() if k != "id"}
    return sha256_hex(canonical_json(doc))


def _audit_row_hash(row: Mapping[str, Any]) -> str:
    return entry_hash(entry_fields(row))


def _proof_row_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 of a proof pack's columns (but the row id) and the SHA-256 of each of its stored files,
    so a changed file is caught like a changed manifest or digest. Export's verify_pack.py
    (app/services/proof/) recomputes it from a pack's ZIP."""
    files = {name: hashlib.sha256(content).hexdigest() for name, content in db.session.execute(
        sa.select(ProofFile.name, ProofFile.content).where(ProofFile.pack_id == row["id"]))}
    doc = {k: (_utc_iso(v) if isinstance(v, dt.datetime) else v) for k, v in row.items() if k != "id"}
    return sha256_hex(canonical_json({**doc, "files": files}))


@dataclass(frozen=True)
class Chain:
    name: str
    table: sa.Table
    noun: str  # how a finding names one of its rows
    row_hash: Callable[[Mapping[str, Any]], str]
    stored_hash: str | None  # a column holding the row's own hash, held to the computed one
    lock: int  # advisory lock namespace of its sealers

    def where(self, scope: int):
        """The rows of this chain in `scope`."""
        site = self.table.c.site_id
        return site.is_(None) if scope == INSTALLATION else site == scope


EMAIL = Chain("email", EmailConsentRecord.__table__, "email record", _email_row_hash, None, SEAL_LOCK + 1)
AUDIT = Chain("audit", AuditEntry.__table__, "audit entry", _audit_row_hash, "entry_hash", SEAL_LOCK + 2)
PROOF = Chain("proof", ProofPack.__table__, "proof pack", _proof_row_hash, None, SEAL_LOCK + 3)
CHAINS = {c.name: c for c in (EMAIL, AUDIT, PROOF)}


def scopes(sites: Collection[Site], installation: bool) -> Iterator[tuple[Chain, int]]:
    """Every (chain, scope) of the given sites, and the installation's audit chain if asked."""
    for site in sites:
        yield EMAIL, site.id
        yield AUDIT, site.id
        yield PROOF, site.id
    if installation:
        yield AUDIT, INSTALLATION


def seal_mac(key: bytes, chain: Chain, scope: int, seq: int, digest: str) -> str:
    return macs.mac(key, f"seal:{chain.name}", scope, {"seq": seq, "hash": digest})


def deletion_mac(key: bytes, chain: Chain, scope: int, d: ChainDeletion) -> str:
    return macs.mac(key, f"deletion:{chain.name}", scope, {"at": _utc_iso(d.deleted_at),
                                                            "reason": d.reason, "ranges": d.ranges,
                                                            "count": d.record_count})


def seal_digest(chain: Chain, scope: int, prev: str, seq: int, entries: list) -> str:
    return sha256_hex(canonical_json({"chain": chain.name, "scope": scope, "prev": prev, "seq": seq,
                                      "entries": entries}))


def last_chain_seal(chain: Chain, scope: int) -> ChainSeal | None:
    return db.session.execute(db.select(ChainSeal).where(ChainSeal.chain == chain.name, ChainSeal.scope == scope)
                              .order_by(ChainSeal.seq.desc()).limit(1)).scalar_one_or_none()


def chain_head(seal: ChainSeal) -> dict:
    """What names a side chain's seal outside the database (an anchor, the `ledger.sealed` event)."""
    return {"chain": seal.chain, "seq": seal.seq, "seal_hash": seal.seal_hash, "mac": seal.mac,
            "last_id": seal.last_id, "record_count": seal.record_count,
            "covers_until": aware(seal.covers_until).isoformat(), "sealed_at": aware(seal.sealed_at).isoformat()}


def seal_chain(chain: Chain, scope: int, lag_seconds: float = 5, batch: int = SEAL_BATCH) -> int:
    """Seal the chain's unsealed rows older than `lag_seconds`, in seals of up to `batch` rows.
    Returns how many were sealed. Commits each seal."""
    total, key = 0, None
    t = chain.table
    while True:
        if not sealing_lock(scope, chain.lock):
            return total
        last = last_chain_seal(chain, scope)
        cutoff = utcnow() - dt.timedelta(seconds=lag_seconds)
        rows = [r._mapping for r in sealable_rows(t, chain.where(scope), last.last_id if last else 0, cutoff, batch)]
        if not rows:
            db.session.rollback()
            return total
        entries = [[r["id"], chain.row_hash(r)] for r in rows]
        seq = last.seq + 1 if last else 1
        prev = last.seal_hash if last else GENESIS
        key = key if key is not None else macs.ledger_key()
        digest = seal_digest(chain, scope, prev, seq, entries)
        seal = ChainSeal(chain=chain.name, scope=scope, seq=seq, first_id=rows[0]["id"], last_id=rows[-1]["id"],
                         record_count=len(rows), entries=entries,
                         covers_until=seal_covers(t, chain.where(scope), rows[-1]["id"], cutoff),
                         prev_hash=prev, seal_hash=digest, mac=seal_mac(key, chain, scope, seq, digest),
                         sealed_at=utcnow())
        db.session.add(seal)
        if scope != INSTALLATION:
            enqueue(scope, "ledger.sealed", chain_head(seal), now=seal.sealed_at)
        if not commit_seal():
            return total
        total += len(rows)
        if len(rows) < batch:
            return total


def sealed_up_to(chain: Chain, scope: int) -> int:
    """The last row id of the chain that is sealed (0: none)."""
    head = last_chain_seal(chain, scope)
    return head.last_id if head is not None else 0


def _ranges(ids: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for i in ids:
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def vouch_deletion(chain: Chain, scope: int, row_ids: Collection[int], reason: str) -> ChainDeletion | None:
    """Write the deletion entry for rows about to be deleted from a chain, in the caller's
    transaction (not committed). Returns it, or None for no rows. `reason`: a request id or a
    setting, never personal data."""
    ids = sorted({int(i) for i in row_ids})
    if not ids:
        return None
    d = ChainDeletion(chain=chain.name, scope=scope, deleted_at=utcnow(), reason=reason, ranges=_ranges(ids),
                      record_count=len(ids))
    d.mac = deletion_mac(macs.ledger_key(), chain, scope, d)
    db.session.add(d)
    db.session.flush()
    return d


def _deletions(chain: Chain, scope: int, key: bytes, problems: list) -> list[list]:
    """[[ranges, count allowed, count missing so far, id]] of the chain's valid deletion entries."""
    found = []
    for d in db.session.execute(db.select(ChainDeletion).where(ChainDeletion.chain == chain.name,
                                                              ChainDeletion.scope == scope)
                                .order_by(ChainDeletion.id)).scalars():
        if not macs.matches(deletion_mac(key, chain, scope, d), d.mac):
            problems.append({"kind": "deletion_forged", "chain": chain.name, "deletion": d.id,
                             "detail": f"{chain.name} deletion entry {d.id} does not carry the ledger's MAC"})
            continue
        found.append([d.ranges, d.record_count, 0, d.id])
    return found


def _check_row(chain: Chain, row: Mapping[str, Any]) -> str | None:
    """The row's hash by the rules, or None when its stored hash disagrees with its content."""
    actual = chain.row_hash(row)
    if chain.stored_hash and row[chain.stored_hash] != actual:
        return None
    return actual


def verify_chain(chain: Chain, scope: int, key: bytes, anchor: dict | None = None) -> dict:
    """Check every seal, row and deletion entry of one chain (and the head `anchor` names).
    Returns {ok, sealed, unsealed, seals, deleted, problems}."""
    problems: list[dict] = []
    t = chain.table
    deletions = _deletions(chain, scope, key, problems)
    sealed_ids: set[int] = set()
    prev, expected_seq, deleted, prev_last = GENESIS, 1, 0, 0

    def finding(kind, detail, **extra):
        problems.append({"kind": kind, "chain": chain.name, "detail": detail, **extra})

    for seal in db.session.execute(db.select(ChainSeal).where(ChainSeal.chain == chain.name, ChainSeal.scope == scope)
                                   .order_by(ChainSeal.seq)).scalars():
        label = f"{chain.name} seal {seal.seq}"
        if seal.seq != expected_seq:
            finding("seal_missing", f"{chain.name} seal {expected_seq} is missing before seal {seal.seq}",
                    seq=expected_seq)
        if seal.prev_hash != prev or seal.seal_hash != seal_digest(chain, scope, seal.prev_hash, seal.seq,
                                                                   seal.entries):
            finding("seal_altered", f"{label} does not chain", seq=seal.seq)
        if not macs.matches(seal_mac(key, chain, scope, seal.seq, seal.seal_hash), seal.mac):
            finding("seal_forged", f"{label} does not carry the ledger's MAC (rewritten without the key)",
                    seq=seal.seq)
        prev, expected_seq = seal.seal_hash, seal.seq + 1
        sealed = {int(i): h for i, h in seal.entries}
        sealed_ids.update(sealed)
        seen = set()
        # from the row after the previous seal's last (as app/ledger/verify.py does): a row put between
        # two seals' ranges, at an id another scope's row freed, is in neither
        rows = sa.select(t).where(chain.where(scope), t.c.id > prev_last, t.c.id <= seal.last_id)
        prev_last = seal.last_id
        for row in db.session.execute(rows).mappings():
            seen.add(row["id"])
            if row["id"] not in sealed:
                finding("inserted", f"{chain.noun} {row['id']} was not in {label}", row=row["id"])
            elif _check_row(chain, row) != sealed[row["id"]]:
                finding("altered", f"{chain.noun} {row['id']} differs from what {label} holds", row=row["id"])
        for missing in sorted(set(sealed) - seen):
            vouching = next((d for d in deletions if any(a <= missing <= b for a, b in d[0])), None)
            if vouching is not None:
                vouching[2] += 1
                deleted += 1
            else:
                finding("removed", f"{chain.noun} {missing} sealed in {label} is gone", row=missing)
    for _, allowed, missing, did in deletions:
        if missing > allowed:
            finding("removed", f"{missing} sealed {chain.noun}s are gone from the ranges of {chain.name} deletion "
                               f"entry {did}, which deleted {allowed}", deletion=did)
    head = last_chain_seal(chain, scope)
    unsealed = 0
    for row in db.session.execute(sa.select(t).where(chain.where(scope), t.c.id > max(sealed_ids, default=0))
                                  ).mappings():
        unsealed += 1
        if _check_row(chain, row) is None:
            finding("altered", f"{chain.noun} {row['id']} does not match its own hash (not sealed yet)", row=row["id"])
        elif head is not None and row["created_at"] <= aware(head.covers_until):
            finding("inserted", f"{chain.noun} {row['id']} is dated before the last {chain.name} seal but is in none",
                    row=row["id"])
    if anchor is not None:
        problems += check_chain_head(chain, scope, anchor, key)
    return {"ok": not problems, "sealed": len(sealed_ids), "unsealed": unsealed, "seals": expected_seq - 1,
            "deleted": deleted, "problems": problems}


def check_chain_head(chain: Chain, scope: int, head: dict, key: bytes) -> list[dict]:
    """The findings against a chain's anchored head (as app/ledger/anchors.py check_head)."""
    seq, digest = int(head["seq"]), head["seal_hash"]
    if not macs.matches(seal_mac(key, chain, scope, seq, digest), head.get("mac")):
        return [{"kind": "anchor_forged", "chain": chain.name, "seq": seq,
                 "detail": f"the anchor's {chain.name} seal {seq} does not carry the ledger's MAC"}]
    stored = db.session.execute(db.select(ChainSeal).where(ChainSeal.chain == chain.name, ChainSeal.scope == scope,
                                                           ChainSeal.seq == seq)).scalar_one_or_none()
    if stored is None:
        return [{"kind": "anchor_missing", "chain": chain.name, "seq": seq,
                 "detail": f"{chain.name} seal {seq}, the head the anchor names, is gone (newest seals removed)"}]
    if stored.seal_hash != digest:
        return [{"kind": "anchor_mismatch", "chain": chain.name, "seq": seq,
                 "detail": f"{chain.name} seal {seq} is not the one the anchor names (its hash changed)"}]
    return []


def rekey_chain(chain: Chain, scope: int, key: bytes, old_key: bytes) -> int:
    """Re-make under `key` every seal and deletion MAC of a chain made under `old_key`, once the
    chain verifies under it (Conflict names what stops it). Returns how many seals it re-keyed.
    Commits."""
    report = verify_chain(chain, scope, old_key)
    if report["problems"]:
        raise Conflict(f"the {chain.name} chain does not verify, so it is not re-keyed: "
                       f"{report['problems'][0]['detail']}")
    done = 0
    for seal in db.session.execute(db.select(ChainSeal).where(ChainSeal.chain == chain.name,
                                                              ChainSeal.scope == scope)).scalars():
        seal.mac = seal_mac(key, chain, scope, seal.seq, seal.seal_hash)
        done += 1
    for d in db.session.execute(db.select(ChainDeletion).where(ChainDeletion.chain == chain.name,
                                                              ChainDeletion.scope == scope)).scalars():
        d.mac = deletion_mac(key, chain, scope, d)
    db.session.commit()
    return done
