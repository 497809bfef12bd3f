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
     `expires_at` (`expired`) or made under a policy version that a later one asking every visitor
     again has superseded (`policy_superseded`) no longer allows anything but `necessary`; a stale
     decision is never silently replaced by a default.
  5. A purpose the record does not mention (added to the site later) is treated as never asked.
  6. Otherwise the record's decision: `granted` or `refused`.
"""
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from opsiq_client import receipts as offline

from app.errors import Invalid, NotFound
from app.extensions import db, geo, ledger
from app.ledger.records import LatestRecord
from app.models import ConsentRecord
from app.models.types import utcnow
from app.services.geo import truncate_ip
from app.services.purposes import is_sale_or_share
from app.services.regimes import OPT_IN, UNKNOWN_RULE, decide_regime

if TYPE_CHECKING:
    from app.services.sites.snapshot import SiteSnapshot

MAX_BATCH = 10_000

# What an answer rests on.
BASIS_NECESSARY, BASIS_RECORD, BASIS_DEFAULT, BASIS_GPC = "necessary", "record", "default", "gpc"


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed, "basis": self.basis, "reason": self.reason, "regime": self.regime,
            "record_id": self.record_id,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "policy_version": self.policy_version,
        }


def latest_record(site_id: int, visitor_id: str) -> LatestRecord | None:
    """The visitor's latest record, or None if the site never saw them (lookups arriving together
    share one query on PostgreSQL: see Ledger.latest)."""
    return ledger.latest(site_id, visitor_id)


def regime_without_record(snap: "SiteSnapshot", ip: str | None = None, country: str | None = None,
                          region: str | None = None) -> str:
    """The regime for a visitor with no record: from their address, else a country/region, else opt-in."""
    if ip:
        loc = geo.locate(truncate_ip(ip))
        country, region = loc.country, loc.region
    if not country:
        return UNKNOWN_RULE.regime
    return decide_regime(country.upper(), region.upper() if region else None,
                         snap.regime_overrides, snap.uses_google).regime


def is_superseded(snap: "SiteSnapshot", version: str | None, now: dt.datetime) -> bool:
    """Whether a record's policy version has been replaced by one that took effect after it and asked
    every visitor again (a correction published without asking again leaves earlier decisions standing)."""
    current = snap.policy_at(now)
    if current is None or version == current:
        return False
    then = snap.policy_effective_at(version) if version is not None else None
    return then is None or then < snap.asked_again_at(now)


def purpose_doc(snap: "SiteSnapshot", slug: str) -> dict:
    """The site's purpose with this slug; Invalid if it has none."""
    for p in snap.purposes:
        if p["slug"] == slug:
            return p
    raise Invalid(errors={"purpose": [f"not a purpose of this site: {slug}"]})


def decide(snap: "SiteSnapshot", purpose: Mapping[str, Any], record: LatestRecord | None, now: dt.datetime,
           regime: str = OPT_IN, gpc: bool = False) -> Answer:
    """The answer for one purpose doc given the visitor's latest record (or None); see the module doc."""
    if record is not None:
        regime = record.regime
        ctx = dict(regime=regime, record_id=record.record_id, decided_at=record.created_at,
                   expires_at=record.expires_at, policy_version=record.policy_version)
    else:
        ctx = dict(regime=regime)
    if purpose["legal_basis"] == "necessary":
        return Answer(True, BASIS_NECESSARY, "necessary", **ctx)
    if (gpc or (record is not None and record.gpc)) and is_sale_or_share(purpose):
        return Answer(False, BASIS_GPC, "gpc_optout", **ctx)
    slug = purpose["slug"]
    if record is not None:
        if ctx["expires_at"] <= now:
            return Answer(False, BASIS_RECORD, "expired", **ctx)
        if is_superseded(snap, record.policy_version, now):
            return Answer(False, BASIS_RECORD, "policy_superseded", **ctx)
        decision = record.decisions.get(slug)
        if decision is not None:
            return Answer(bool(decision), BASIS_RECORD, "granted" if decision else "refused", **ctx)
    if regime == OPT_IN:
        return Answer(False, BASIS_DEFAULT, "no_record_opt_in", **ctx)
    on = bool(purpose["default_on"])
    return Answer(on, BASIS_DEFAULT, "default_on" if on else "default_off", **ctx)


def check_consent(snap: "SiteSnapshot", visitor_id: str, purpose: str, now: dt.datetime | None = None,
                  ip: str | None = None, country: str | None = None, region: str | None = None,
                  gpc: bool = False) -> Answer:
    """Answer one check. Raises Invalid for a purpose the site does not have."""
    p = purpose_doc(snap, purpose)
    now = now or utcnow()
    record = latest_record(snap.id, visitor_id)
    regime = regime_without_record(snap, ip, country, region) if record is None else OPT_IN
    return decide(snap, p, record, now, regime, gpc)


def check_batch(snap: "SiteSnapshot", items: Sequence[Mapping[str, Any]],
                now: dt.datetime | None = None) -> list[Answer]:
    """Answers for many {visitor_id, purpose[, ip, country, region, gpc]} items, in their order.

    One query for every visitor's latest record, whatever the count. A purpose the site does not
    have answers `allowed: false, reason: unknown_purpose` for that item rather than failing all.
    """
    now = now or utcnow()
    records = ledger.latest_many(snap.id, [it["visitor_id"] for it in items])
    purposes = {p["slug"]: p for p in snap.purposes}
    out = []
    for it in items:
        record = records.get(it["visitor_id"])
        p = purposes.get(it["purpose"])
        if p is None:
            regime = record.regime if record else OPT_IN
            out.append(Answer(False, BASIS_DEFAULT, "unknown_purpose", regime))
            continue
        regime = OPT_IN
        if record is None and (it.get("ip") or it.get("country")):
            regime = regime_without_record(snap, it.get("ip"), it.get("country"), it.get("region"))
        out.append(decide(snap, p, record, now, regime, it.get("gpc", False)))
    return out


def visitor_state(snap: "SiteSnapshot", visitor_id: str, now: dt.datetime | None = None) -> dict:
    """The visitor's current state per purpose; NotFound if the site never saw them."""
    now = now or utcnow()
    record = latest_record(snap.id, visitor_id)
    if record is None:
        raise NotFound("This site has no record of that visitor.")
    return {
        "visitor_id": visitor_id,
        "record_id": record.record_id,
        "regime": record.regime,
        "decided_at": record.created_at.isoformat(),
        "expires_at": record.expires_at.isoformat(),
        "policy_version": record.policy_version,
        "gpc": record.gpc,
        "purposes": {p["slug"]: decide(snap, p, record, now).as_dict() for p in snap.purposes},
    }


def verify_receipt_token(snap: "SiteSnapshot", token: str, now: dt.datetime | None = None) -> dict:
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
    current = latest is not None and latest.record_id == payload.get("rid")
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
            "record": payload, "current_record_id": latest.record_id if latest else None,
            "collected_with": _collected_with(snap, payload.get("rid"))}


def _collected_with(snap: "SiteSnapshot", record_id: Any) -> dict | None:
    """The widget build and proof pack of the record a receipt names (None: the site has no such record)."""
    from app.services.proof.packs import collected_with  # the receipt check only: the checks stay light

    t = ConsentRecord.__table__
    row = db.session.execute(sa.select(t.c.policy_version, t.c.widget_build).where(
        t.c.site_id == snap.id, t.c.record_id == str(record_id))).first()
    return collected_with(snap.id, row.policy_version, row.widget_build) if row is not None else None
