"""Purpose rules: legal bases, defaults per regime, sale/share, and Google Consent Mode values.

A purpose is a plain dict as the site snapshot holds it (`slug`, `legal_basis`, `default_on`,
`consent_mode_keys`, ...). The write path, the checks, the identities and the widget's
configuration all take these rules from here.
"""
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.services import regimes

if TYPE_CHECKING:
    from app.models import Purpose
    from app.services.sites.snapshot import SiteSnapshot

LEGAL_BASES = ("necessary", "consent", "legitimate_interest")
CONSENT_MODE_KEYS = (
    "ad_storage", "ad_user_data", "ad_personalization", "analytics_storage",
    "functionality_storage", "personalization_storage", "security_storage",
)


def purpose_doc(row: "Purpose") -> dict[str, Any]:
    """A Purpose row as the plain dict these rules take; the snapshot, the site document and the
    configuration hash all hold purposes in this form."""
    return {
        "slug": row.slug, "legal_basis": row.legal_basis, "default_on": row.default_on,
        "titles": row.titles, "descriptions": row.descriptions,
        "consent_mode_keys": row.consent_mode_keys, "cookies": row.cookies or [], "storage_keys": row.storage_keys or [],
    }


def effective_default(purpose: Mapping[str, Any], regime: str) -> bool:
    """Whether a purpose is on before any choice: under opt-in only `necessary` is."""
    if purpose["legal_basis"] == "necessary":
        return True
    if regime == regimes.OPT_IN:
        return False  # legitimate interest cannot justify non-essential storage there
    return bool(purpose["default_on"])


def consent_mode_values(snap: "SiteSnapshot", decisions: Mapping[str, bool]) -> dict[str, str]:
    """The seven Consent Mode keys for a decision map; security_storage is always granted."""
    values = {k: "denied" for k in CONSENT_MODE_KEYS}
    values["security_storage"] = "granted"
    for p in snap.purposes:
        if decisions.get(p["slug"]):
            for k in p["consent_mode_keys"]:
                values[k] = "granted"
    return values


def is_sale_or_share(purpose: Mapping[str, Any]) -> bool:
    """Purposes that feed cross-context advertising: those a GPC signal opts out of."""
    return any(k.startswith("ad_") for k in purpose["consent_mode_keys"]) or purpose["slug"] == "marketing"
