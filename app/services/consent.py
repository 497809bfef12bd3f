"""Recording consent decisions: the browser-facing write of the ledger.

A decision becomes a draft from its request and site alone (app/ledger/rules.py decides its
decision map; nothing here reads the ledger, so a fault is raised before any database work), is
written by the app's ledger (app/ledger/: chained to the visitor's previous record, together with
the decisions that arrive meanwhile on PostgreSQL), and is answered with a signed receipt.
"""
import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.errors import Invalid
from app.extensions import geo, ledger
from app.ledger.records import Draft, Record
from app.ledger.rules import resolve_decisions, secret_hash
from app.services import widget_builds
from app.services.geo import truncate_ip
from app.services.receipts import sign_receipt
from app.services.regimes import decide_regime

if TYPE_CHECKING:
    from app.services.sites.snapshot import SiteSnapshot


@dataclass(frozen=True, slots=True)
class Recorded:
    """A recorded decision: the record, its signed receipt, and whether this call created it."""

    record: Record
    receipt: str
    created: bool  # False: a repeated client_record_id, answered with the first record


def record_consent(snap: "SiteSnapshot", data: Mapping[str, Any], ip: str | None, user_agent: str | None,
                   gpc_header: bool, source: str = "browser") -> Recorded:
    """Record one decision for a site snapshot. `data` is the validated body (ConsentIn).

    A repeated client_record_id returns the first record and writes nothing. When this returns,
    the record is committed. Raises Invalid (nothing written) for what depends on the site: a
    purpose, policy version or language it does not have, or a widget build never served; Forbidden when `visitor_secret` is not
    the one the visitor's first write bound (rules.check_visitor_secret).
    """
    written = ledger.write(draft_record(snap, data, ip, user_agent, gpc_header, source))
    return Recorded(written.record, sign_receipt(snap, written.record), written.created)


def draft_record(snap: "SiteSnapshot", data: Mapping[str, Any], ip: str | None, user_agent: str | None,
                 gpc_header: bool, source: str) -> Draft:
    """Everything a new record takes from its request and site; Invalid for site-dependent faults."""
    ip_net = truncate_ip(ip)
    loc = geo.locate(ip_net)
    regime = decide_regime(loc.country, loc.region, snap.regime_overrides, snap.uses_google).regime
    gpc = bool(data.get("gpc")) or bool(gpc_header)
    method = data["method"]
    decisions = resolve_decisions(snap, regime, method, data.get("decisions") or {}, gpc)

    policy_version = data.get("policy_version") or (snap.policy or {}).get("version")
    if policy_version is not None and policy_version not in snap.policy_versions:
        raise Invalid(errors={"policy_version": [f"unknown policy version for this site: {policy_version}"]})
    widget_builds.check_build(data.get("widget_build"))
    language = data.get("language") or snap.default_language
    if language not in snap.languages:
        raise Invalid(errors={"language": [f"not one of the site's languages: {', '.join(snap.languages)}"]})

    return Draft(
        record_id=str(uuid.uuid4()),
        site_id=snap.id,
        visitor_id=data["visitor_id"],
        client_record_id=data.get("client_record_id"),
        method=method,
        decisions=decisions,
        config_hash=snap.config_hash,
        policy_version=policy_version,
        policy_url=snap.policy_versions.get(policy_version) if policy_version else None,
        language=language,
        regime=regime,
        country=loc.country,
        region=loc.region,
        geoip_build=loc.database_build,
        ip_truncated=ip_net,
        user_agent=(user_agent or "")[:512] or None,
        page_url=data.get("page_url"),
        gpc=gpc,
        source=source,
        secret_hash=secret_hash(data["visitor_secret"]) if data.get("visitor_secret") else None,
        widget_build=data.get("widget_build"),
        validity=dt.timedelta(days=snap.validity_days),
        necessary=frozenset(p["slug"] for p in snap.purposes if p["legal_basis"] == "necessary"),
    )
