"""The ledger's rules, with no database: what a record holds, which event it is, and its hashes.

Everything that writes or checks a record takes these from here. Where PostgreSQL must finish a
record in the statement that reads the visitor's previous one (the event and the chained hash),
its SQL is held equal to these functions by tests/ledger/test_sql_rules.py.
"""
import datetime as dt
import os
import re
from collections.abc import Mapping

from app.errors import Forbidden, Invalid
from app.hashing import canonical_json, sha256_hex
from app.ledger.records import RECORD_COLUMNS, Draft, LatestRecord, Record, Written
from app.services.purposes import effective_default, is_sale_or_share

# What a visitor id may look like, wherever one is given: what can be recorded can be checked. Written in
# the dialect ECMA-262 (the OpenAPI document's) and Python share, and matched whole: Python's `$` alone
# would also let a final newline through.
VISITOR_ID_PATTERN = r"^[A-Za-z0-9_.:-]{8,64}$"
is_visitor_id = re.compile(VISITOR_ID_PATTERN).fullmatch
# The secret a browser keeps for its visitor id: long and random (the widget's is a UUID, 122 random bits).
VISITOR_SECRET_PATTERN = r"^[A-Za-z0-9_-]{22,128}$"
is_visitor_secret = re.compile(VISITOR_SECRET_PATTERN).fullmatch
METHODS = ("accept_all", "reject_all", "custom", "dismiss", "gpc", "api")
EVENTS = ("given", "refused", "updated", "withdrawn", "gpc_optout", "expired")
# The webhook events a consent record sends.
OUTBOX_TYPES = ("consent.recorded", "consent.withdrawn")

# The columns a record hash reads, in any of its forms: every column but the hash itself and the
# visitor's secret hash, which authenticates the next write and is no part of the decision (and no
# row id: no record holds it).
# Columns added since the first form: hashed only where a record has a value, so that the records
# stored before each existed keep their hashes (and one set to NULL afterwards changes its hash).
OPTIONAL_COLUMNS = ("widget_build",)
HASHED_COLUMNS = tuple(c for c in RECORD_COLUMNS if c not in ("record_hash", "secret_hash"))
# What a record holds of the person who took the decision, committed to through personal_digest so
# that erasure can remove it and the record still verify: their browser's id, its own id for the
# record (random, but kept by that browser), the address prefix, user agent and page. What stays
# (decision, time, regime, country and region, policy, configuration) describes no one on its own.
PERSONAL_COLUMNS = ("visitor_id", "client_record_id", "ip_truncated", "user_agent", "page_url")
DIGEST_COLUMNS = ("personal_salt", "personal_digest")
# The columns of the two older forms, which hash the personal fields themselves.
LEGACY_COLUMNS = tuple(c for c in HASHED_COLUMNS if c not in DIGEST_COLUMNS + OPTIONAL_COLUMNS)
# The two that depend on the visitor's previous record; the rest are known before the ledger is read.
CHAINED_COLUMNS = ("prev_record_id", "event")
BASE_COLUMNS = tuple(c for c in LEGACY_COLUMNS if c not in CHAINED_COLUMNS)
# The base of the current form: the personal fields replaced by their digest.
DIGESTED_BASE_COLUMNS = tuple(c for c in BASE_COLUMNS if c not in PERSONAL_COLUMNS) + ("personal_digest",)
SALT_BYTES = 16

def resolve_decisions(snap, regime: str, method: str, given: Mapping[str, bool], gpc: bool) -> dict[str, bool]:
    """The full decision map stored on a record: one boolean per purpose of the site.

    Necessary is always true; the method fixes the rest for accept/reject/dismiss; a purpose the
    client left out keeps its default for the regime; GPC turns sale-and-share purposes off.
    Raises Invalid for a purpose the site does not have.
    """
    unknown = sorted(set(given) - snap.slugs)
    if unknown:
        raise Invalid(errors={"decisions": [f"unknown purpose: {s}" for s in unknown]})
    out = {}
    for p in snap.purposes:
        slug = p["slug"]
        if p["legal_basis"] == "necessary":
            out[slug] = True
        elif method == "accept_all":
            out[slug] = True
        elif method == "reject_all" or (method == "dismiss" and regime == "opt_in"):
            out[slug] = False
        elif slug in given:
            out[slug] = bool(given[slug])
        else:
            out[slug] = effective_default(p, regime)
        if gpc and is_sale_or_share(p):
            out[slug] = False  # under CCPA the opt-out wins over a conflicting opt-in
    return out


def grants_any(decisions: Mapping[str, bool], necessary: frozenset[str]) -> bool:
    """Whether a decision map grants anything beyond the necessary purposes."""
    return any(v for k, v in decisions.items() if k not in necessary)


def event_for(method: str, granted: bool, had_grant: bool | None) -> str:
    """The event of a record: gpc_optout for GPC; given / refused for a first decision (`had_grant`
    None); after one, withdrawn when a grant is taken back to nothing, else updated."""
    if method == "gpc":
        return "gpc_optout"
    if had_grant is None:
        return "given" if granted else "refused"
    return "withdrawn" if had_grant and not granted else "updated"


def classify_event(method: str, decisions: Mapping[str, bool], previous: Mapping[str, bool] | None,
                   necessary: frozenset[str]) -> str:
    """The event of a record with these decisions, after the visitor's previous decisions (or None)."""
    had = None if previous is None else grants_any(previous, necessary)
    return event_for(method, grants_any(decisions, necessary), had)


def event_choices(method: str, decisions: Mapping[str, bool], necessary: frozenset[str]) -> tuple[str, str, str]:
    """The event in each case the ledger can hold for the visitor: (no previous record, a previous
    record granting something, a previous record granting nothing). SQL picks one of the three."""
    granted = grants_any(decisions, necessary)
    return event_for(method, granted, None), event_for(method, granted, True), event_for(method, granted, False)


def secret_hash(secret: str) -> str:
    """What the ledger keeps of a visitor's secret: SHA-256, hex. The secret is random and long
    (VISITOR_SECRET_PATTERN), so an unkeyed hash cannot be reversed by guessing."""
    return sha256_hex("opsiq-visitor-secret|" + secret)


VISITOR_MISMATCH = "This visitor's consent is bound to another browser: the visitor secret does not match."


def check_visitor_secret(bound: str | None, given: str | None) -> None:
    """Forbidden unless a write may speak for its visitor: knowing a visitor id is not enough.

    The first write for a visitor binds its secret hash (trust on first use: the widget makes the
    id and the secret together, at the first choice, and sends both in that first write, so the id
    cannot be known to anyone before it is bound). Every later write, and every answer to a repeated
    client_record_id, must carry the same secret. A visitor whose records carry no hash (written
    before secrets existed) is bound by its next write. PostgreSQL applies the same comparison in
    the statement that reads the previous record (tests/ledger/test_sql_rules.py)."""
    if bound is not None and bound != given:
        raise Forbidden(VISITOR_MISMATCH)


def repeat_answer(found: Record, draft: Draft) -> "Written | Forbidden":
    """The answer to a draft whose client_record_id already made `found`: that record, for the
    browser that wrote it only (a repeated id is no way around the visitor's secret)."""
    try:
        check_visitor_secret(found.secret_hash, draft.secret_hash)
    except Forbidden as refused:
        return refused
    return Written(found, False)


def finish_record(draft: Draft, previous: LatestRecord | None, now: dt.datetime) -> Record:
    """The record a draft becomes when written at `now` after the visitor's latest record (or None).
    Forbidden if the draft's secret is not the one the visitor is bound to."""
    if previous is not None:
        check_visitor_secret(previous.secret_hash, draft.secret_hash)
    columns = new_columns(draft, now)
    event = classify_event(draft.method, draft.decisions, previous.decisions if previous else None, draft.necessary)
    prev_id = previous.record_id if previous else None
    return Record(**columns, event=event, prev_record_id=prev_id,
                  record_hash=chain_hash(base_hash(columns), prev_id, event))


def outbox_event(draft: Draft, event: str, created_at: dt.datetime) -> tuple[str, dict]:
    """The webhook event a consent record sends, (type, data): withdrawals have their own type."""
    data = {
        "record_id": draft.record_id, "visitor_id": draft.visitor_id, "event": event, "method": draft.method,
        "decisions": draft.decisions, "regime": draft.regime, "country": draft.country, "region": draft.region,
        "gpc": draft.gpc, "policy_version": draft.policy_version, "source": draft.source,
        "created_at": created_at.isoformat(),
    }
    return ("consent.withdrawn" if event == "withdrawn" else "consent.recorded"), data


def _plain(value):
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def personal_digest(salt: str, columns: Mapping) -> str:
    """SHA-256 (hex) of a record's PERSONAL_COLUMNS under its own random salt: what its hash commits
    to in their place. Without the salt (erased with them) no one who knows a visitor id can
    recompute it and find that person's records."""
    return sha256_hex(salt + "|" + canonical_json({k: columns.get(k) for k in PERSONAL_COLUMNS}))


def new_columns(draft: Draft, created_at: dt.datetime) -> dict:
    """The columns of a new record that do not depend on the ledger: the draft's, dated, with a
    fresh salt and the personal digest (one os.urandom and one hash per record)."""
    columns = draft.columns(created_at)
    salt = columns["personal_salt"] = os.urandom(SALT_BYTES).hex()
    columns["personal_digest"] = personal_digest(salt, columns)
    return columns


def base_hash(columns: Mapping) -> str:
    """SHA-256 of the canonical JSON of a record's base columns (a mapping of its columns): with a
    personal digest, DIGESTED_BASE_COLUMNS (the current form); without, BASE_COLUMNS (the form of
    records stored before digests); either with those OPTIONAL_COLUMNS that hold a value."""
    get = columns.get
    names = BASE_COLUMNS if get("personal_digest") is None else DIGESTED_BASE_COLUMNS
    names += tuple(c for c in OPTIONAL_COLUMNS if get(c) is not None)
    return sha256_hex(canonical_json({k: _plain(v) if isinstance(v := get(k), dt.date) else v for k in names}))


def chain_hash(base: str, prev_record_id: str | None, event: str) -> str:
    """The record hash from its base hash and the two chained columns (PostgreSQL builds this same
    string in the statement that reads the previous record)."""
    return sha256_hex(f"{base}|{prev_record_id or ''}|{event}")


def record_hash(columns: Mapping) -> str:
    """A record's hash, in two steps: chain_hash(base_hash, prev_record_id, event), over the stored digest."""
    return chain_hash(base_hash(columns), columns.get("prev_record_id"), columns.get("event"))


def legacy_record_hash(columns: Mapping) -> str:
    """The one-step hash records were written with before 2026-11-27 (every column in one JSON)."""
    return sha256_hex(canonical_json({k: _plain(columns.get(k)) for k in LEGACY_COLUMNS}))


def hash_in_stored_form(columns: Mapping, stored: str) -> str:
    """The hash of these columns in the form the stored hash uses, else the current form.

    Records with a digest: the digest is recomputed from the personal fields while their salt is
    there (an edited visitor id or address changes the hash); once erased (no salt), the stored
    digest stands, and verify asks an erasure entry to vouch for it. Records without: the
    two-step form, or the one-step legacy form when that is the stored one."""
    if columns.get("personal_digest") is not None:
        if (salt := columns.get("personal_salt")) is not None:
            columns = dict(columns, personal_digest=personal_digest(salt, columns))
        return record_hash(columns)
    current = record_hash(columns)
    if current != stored and legacy_record_hash(columns) == stored:
        return stored
    return current


def residual_hash(columns: Mapping) -> str:
    """SHA-256 of what a record of the older forms keeps after erasure (its LEGACY_COLUMNS but the
    personal ones): an erasure entry holds it, MAC'd, in place of the fields its hash needed."""
    return sha256_hex(canonical_json({k: _plain(columns.get(k)) for k in LEGACY_COLUMNS
                                      if k not in PERSONAL_COLUMNS}))


def seal_hash(prev_hash: str, site_id: int, seq: int, entries: list) -> str:
    """The hash of a seal: its entries ([row id, record hash] pairs), chained to the seal before it."""
    return sha256_hex(canonical_json({"prev": prev_hash, "site": site_id, "seq": seq, "entries": entries}))
