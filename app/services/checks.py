"""Consent answers for the systems that act on a visitor: checks, current state, receipt checks.

The rules, in the order they apply to one purpose:
  1. `necessary` is always allowed (reason `necessary`).
  2. A Global Privacy Control opt-out (the deciding record's `gpc` flag, or `gpc: true` sent with
     the check) denies sale-and-share purposes (marketing, `ad_*` keys), whatever was accepted
     before: under CCPA the opt-out wins (reason `gpc_optout`).
  3. With no record, the regime decides: `opt_in` denies (`no_record_opt_in`); `opt_out` and
     `notice` apply the purpose's default (`default_on` / `default_off`). The regime comes from the
     check's `ip`, else its `country`/`region`, else it fails safe to `opt_in`.
  4. The visitor's latest record decides, under the regime it was recorded in. A record past its
     `expires_at` (`expired`) or made under a policy version that a later one has superseded
     (`policy_superseded`) no longer allows anything but `necessary`; a stale decision is never
     silently replaced by a default.
  5. A purpose the record does not mention (added to the site later) is treated as never asked.
  6. Otherwise the record's decision: `granted` or `refused`.
"""
import datetime as dt
import json
import re
from dataclasses import dataclass

import sqlalchemy as sa
from opsiq_client import receipts as offline

from app.errors import Invalid
from app.extensions import db, geo
from app.ledger.rules import VISITOR_ID_PATTERN
from app.models import ConsentRecord, utcnow
from app.ledger import connections
from app.services.consent import _psycopg, with_autocommit
from app.services.geo import truncate_ip
from app.ledger.group_commit import GroupCommit
from app.services.purposes import is_sale_or_share
from app.services.regimes import OPT_IN, UNKNOWN_RULE, decide_regime

MAX_BATCH = 10_000
VISITOR_ID_RE = re.compile(VISITOR_ID_PATTERN)

# What an answer rests on.
BASIS_NECESSARY, BASIS_RECORD, BASIS_DEFAULT, BASIS_GPC = "necessary", "record", "default", "gpc"

# The columns a decision needs from a visitor's latest record.
DECIDING_COLUMNS = ("id", "record_id", "decisions", "created_at", "expires_at", "regime", "policy_version", "gpc")


@dataclass(frozen=True)
class Answer:
    """Whether one purpose is allowed for one visitor, why, and the record that decided it."""

    allowed: bool
    basis: str
    reason: str
    regime: str
    record_id: str | None = None
    decided_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    policy_version: str | None = None

    def as_dict(self):
        return {
            "allowed": self.allowed, "basis": self.basis, "reason": self.reason, "regime": self.regime,
            "record_id": self.record_id,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "policy_version": self.policy_version,
        }


def _aware(value):
    # SQLite hands back naive datetimes from raw Core selects of UTCDateTime columns in some paths
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def latest_records(site_id, visitor_ids):
    """{visitor_id: latest record (DECIDING_COLUMNS)} for many visitors, in one query per dialect chunk."""
    ids = list(dict.fromkeys(visitor_ids))
    if not ids:
        return {}
    latest = _latest_postgres if db.engine.dialect.name == "postgresql" else _latest_portable
    return with_autocommit(lambda conn: latest(conn, site_id, ids))


# one index descent per visitor on (site_id, visitor_id, id): LATERAL ... ORDER BY id DESC LIMIT 1
_LATEST_PG = sa.text(
    "SELECT r.id, r.visitor_id, r.record_id, r.decisions, r.created_at, r.expires_at, r.regime,"
    " r.policy_version, r.gpc FROM unnest(CAST(:ids AS varchar[])) AS v(vid)"
    " CROSS JOIN LATERAL (SELECT * FROM consent_records c WHERE c.site_id = :site AND c.visitor_id = v.vid"
    " ORDER BY c.id DESC LIMIT 1) AS r"
)


_LATEST_ONE_PG = (
    "SELECT id, visitor_id, record_id, decisions, created_at, expires_at, regime, policy_version, gpc"
    " FROM consent_records WHERE site_id = %(site)s AND visitor_id = %(vid)s ORDER BY id DESC LIMIT 1"
)


def _latest_postgres(conn, site_id, ids):
    raw = _psycopg(conn)
    if raw is not None:
        # straight to the driver: SQLAlchemy's per-execution work is most of a single check
        from psycopg.rows import dict_row

        with raw.cursor(row_factory=dict_row) as cur:
            if len(ids) == 1:
                rows = cur.execute(_LATEST_ONE_PG, {"site": site_id, "vid": ids[0]}).fetchall()
            else:
                rows = cur.execute(_LATEST_PG.text.replace(":ids", "%(ids)s").replace(":site", "%(site)s"),
                                   {"ids": ids, "site": site_id}).fetchall()
        return {row["visitor_id"]: row for row in rows}
    return {row["visitor_id"]: dict(row) for row in conn.execute(_LATEST_PG, {"ids": ids, "site": site_id}).mappings()}


def _latest_portable(conn, site_id, ids):
    out = {}
    t = ConsentRecord.__table__
    for start in range(0, len(ids), 5000):  # SQLite allows 32,766 bound variables
        chunk = ids[start:start + 5000]
        newest = (sa.select(sa.func.max(t.c.id).label("id"))
                  .where(t.c.site_id == site_id, t.c.visitor_id.in_(chunk)).group_by(t.c.visitor_id).subquery())
        rows = conn.execute(
            sa.select(t.c.visitor_id, *[t.c[c] for c in DECIDING_COLUMNS]).join(newest, newest.c.id == t.c.id)
        ).mappings()
        for row in rows:
            out[row["visitor_id"]] = dict(row)
    return out


def latest_record(site_id, visitor_id):
    """The visitor's latest record (DECIDING_COLUMNS), or None if the site never saw them.

    On PostgreSQL, lookups arriving together in one process share one query (group_commit's
    leader/follower: no timer, a lone lookup runs at once); each still sees every record
    committed before it was asked."""
    engine = db.engine
    if connections.serves(engine):
        group = _read_groups.get(engine)
        if group is None:
            group = _read_groups.setdefault(engine, GroupCommit(_read_latest, max_batch=256))
        return group.submit((site_id, visitor_id))
    return latest_records(site_id, [visitor_id]).get(visitor_id)


_read_groups = {}

# the latest record of each (n, site, visitor) asked, one index descent each
_LATEST_KEYED_PG = (
    "SELECT k.n, r.id, r.visitor_id, r.record_id, r.decisions, r.created_at, r.expires_at, r.regime,"
    " r.policy_version, r.gpc FROM json_to_recordset(%s) AS k(n int, s int, v varchar)"
    " CROSS JOIN LATERAL (SELECT * FROM consent_records c WHERE c.site_id = k.s AND c.visitor_id = k.v"
    " ORDER BY c.id DESC LIMIT 1) AS r"
)


def _read_latest(keys):
    """latest_record for each (site_id, visitor_id) in `keys`, in their order (None: no record)."""
    if len(keys) == 1:
        site_id, visitor_id = keys[0]
        return [latest_records(site_id, [visitor_id]).get(visitor_id)]
    from psycopg.rows import dict_row

    doc = json.dumps([{"n": n, "s": s, "v": v} for n, (s, v) in enumerate(keys)])

    def run(conn):
        with conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(_LATEST_KEYED_PG, (doc,)).fetchall()

    found = {row.pop("n"): row for row in with_autocommit(run)}
    return [found.get(n) for n in range(len(keys))]


def regime_without_record(snap, ip=None, country=None, region=None):
    """The regime for a visitor with no record: from their address, else a country/region, else opt-in."""
    if ip:
        loc = geo.locate(truncate_ip(ip))
        country, region = loc.country, loc.region
    if not country:
        return UNKNOWN_RULE.regime
    return decide_regime(country.upper(), region.upper() if region else None,
                         snap.regime_overrides, snap.uses_google).regime


def is_superseded(snap, version, now):
    """Whether a record's policy version has been replaced by one that took effect after it."""
    current = snap.policy_at(now)
    if current is None or version == current:
        return False
    then = snap.policy_effective_at(version) if version is not None else None
    return then is None or then < snap.policy_effective_at(current)


def purpose_doc(snap, slug):
    for p in snap.purposes:
        if p["slug"] == slug:
            return p
    raise Invalid(errors={"purpose": [f"not a purpose of this site: {slug}"]})


def decide(snap, purpose, record, now, regime=OPT_IN, gpc=False):
    """The answer for one purpose doc given the visitor's latest record (or None); see the module doc."""
    if record is not None:
        regime = record["regime"]
        ctx = dict(regime=regime, record_id=record["record_id"], decided_at=_aware(record["created_at"]),
                   expires_at=_aware(record["expires_at"]), policy_version=record["policy_version"])
    else:
        ctx = dict(regime=regime)
    if purpose["legal_basis"] == "necessary":
        return Answer(True, BASIS_NECESSARY, "necessary", **ctx)
    if (gpc or (record is not None and record["gpc"])) and is_sale_or_share(purpose):
        return Answer(False, BASIS_GPC, "gpc_optout", **ctx)
    slug = purpose["slug"]
    if record is not None:
        if ctx["expires_at"] <= now:
            return Answer(False, BASIS_RECORD, "expired", **ctx)
        if is_superseded(snap, record["policy_version"], now):
            return Answer(False, BASIS_RECORD, "policy_superseded", **ctx)
        decision = record["decisions"].get(slug)
        if decision is not None:
            return Answer(bool(decision), BASIS_RECORD, "granted" if decision else "refused", **ctx)
    if regime == OPT_IN:
        return Answer(False, BASIS_DEFAULT, "no_record_opt_in", **ctx)
    on = bool(purpose["default_on"])
    return Answer(on, BASIS_DEFAULT, "default_on" if on else "default_off", **ctx)


def check_consent(snap, visitor_id, purpose, now=None, ip=None, country=None, region=None, gpc=False):
    """Answer one check. Raises Invalid for a purpose the site does not have."""
    p = purpose_doc(snap, purpose)
    now = now or utcnow()
    record = latest_record(snap.id, visitor_id)
    regime = regime_without_record(snap, ip, country, region) if record is None else OPT_IN
    return decide(snap, p, record, now, regime, gpc)


def check_batch(snap, items, now=None):
    """Answers for many {visitor_id, purpose[, ip, country, region, gpc]} items, in their order.

    One query for every visitor's latest record, whatever the count. A purpose the site does not
    have answers `allowed: false, reason: unknown_purpose` for that item rather than failing all.
    """
    now = now or utcnow()
    records = latest_records(snap.id, [it["visitor_id"] for it in items])
    purposes = {p["slug"]: p for p in snap.purposes}
    out = []
    for it in items:
        record = records.get(it["visitor_id"])
        p = purposes.get(it["purpose"])
        if p is None:
            regime = record["regime"] if record else OPT_IN
            out.append(Answer(False, BASIS_DEFAULT, "unknown_purpose", regime))
            continue
        regime = OPT_IN
        if record is None and (it.get("ip") or it.get("country")):
            regime = regime_without_record(snap, it.get("ip"), it.get("country"), it.get("region"))
        out.append(decide(snap, p, record, now, regime, it.get("gpc", False)))
    return out


def visitor_state(snap, visitor_id, now=None):
    """The visitor's current state per purpose, or None if the site never saw them."""
    now = now or utcnow()
    record = latest_record(snap.id, visitor_id)
    if record is None:
        return None
    return {
        "visitor_id": visitor_id,
        "record_id": record["record_id"],
        "regime": record["regime"],
        "decided_at": _aware(record["created_at"]).isoformat(),
        "expires_at": _aware(record["expires_at"]).isoformat(),
        "policy_version": record["policy_version"],
        "gpc": record["gpc"],
        "purposes": {p["slug"]: decide(snap, p, record, now).as_dict() for p in snap.purposes},
    }


def verify_receipt_token(snap, token, now=None):
    """Whether a receipt is authentic (signed by this site), unexpired, and still the visitor's
    latest decision; with the decoded record. `reason` names the first thing that fails."""
    now = now or utcnow()
    check = offline.verify_receipt(token, snap.receipt_secrets, now=now)
    payload = check.payload
    authentic = payload is not None and payload.get("site") == snap.site_key
    if not authentic:
        reason = check.reason if check.reason in (offline.MALFORMED, offline.NO_SECRET) else offline.BAD_SIGNATURE
        return {"authentic": False, "unexpired": False, "current": False, "reason": reason,
                "record": None, "current_record_id": None}
    unexpired = check.reason != offline.EXPIRED
    latest = latest_record(snap.id, payload.get("vid"))
    current = latest is not None and latest["record_id"] == payload.get("rid")
    superseded = current and is_superseded(snap, payload.get("pv"), now)
    if not unexpired:
        reason = offline.EXPIRED
    elif not current:
        reason = "not_current"
    elif superseded:
        reason = offline.POLICY_SUPERSEDED
    else:
        reason = "current"
    return {"authentic": True, "unexpired": unexpired, "current": current and not superseded, "reason": reason,
            "record": payload, "current_record_id": latest["record_id"] if latest else None}
