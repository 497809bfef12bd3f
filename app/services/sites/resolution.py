"""A site snapshot resolved for one visitor: the regime for where they are, the language that best
matches theirs, the banner texts and purposes in it, and Google Consent Mode's defaults."""
import dataclasses
from typing import TYPE_CHECKING

from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from app.services import regimes
from app.services.geo import Location
from app.services.purposes import consent_mode_values, effective_default, is_sale_or_share
from app.services.texts import BANNER_TEXTS, RTL_LANGUAGES

if TYPE_CHECKING:  # the snapshot module builds its texts with this one's texts_for
    from app.services.sites.snapshot import SiteSnapshot


def texts_for(site_texts: dict | None, lang: str) -> dict:
    """Banner texts in one language: the site's own over the built-in ones, English as the floor."""
    base = dict(BANNER_TEXTS["en"])
    base.update(BANNER_TEXTS.get(lang, {}))
    base.update((site_texts or {}).get(lang, {}))
    return base


def choose_language(snap: "SiteSnapshot", accept_language: str | None) -> str:
    """The site language that best matches an Accept-Language header, else the site default."""
    if accept_language:
        accept = parse_accept_header(accept_language, LanguageAccept)
        match = accept.best_match(snap.languages)
        if match:
            return match
    return snap.default_language


def resolve_config(snap: "SiteSnapshot", location: Location, accept_language: str | None, gpc_header: bool,
                   endpoint: str, regime: str | None = None) -> dict:
    """The configuration for one visitor: regime, language, texts and purposes in that language.
    `regime` forces the regime (the dashboard's preview of each one)."""
    decision = regimes.decide_regime(location.country, location.region, snap.regime_overrides, snap.uses_google)
    if regime is not None and regime != decision.regime:
        decision = dataclasses.replace(decision, regime=regime, source="preview")
    lang = choose_language(snap, accept_language)
    defaults = {p["slug"]: effective_default(p, decision.regime) for p in snap.purposes}
    denied = consent_mode_values(snap, {p["slug"]: p["legal_basis"] == "necessary" for p in snap.purposes})
    opt_in_regions = sorted(set(regimes.opt_in_codes())
                            | {k for k, v in snap.regime_overrides.items() if v == regimes.OPT_IN})
    fallback = consent_mode_values(snap, defaults)
    if gpc_header:
        fallback.update({k: "denied" for k in fallback if k.startswith("ad_")})
    return {
        "site_key": snap.site_key,
        "endpoint": endpoint,
        "regime": decision.regime,
        "gpc_policy": decision.gpc,
        "country": location.country,
        "region": location.region,
        "language": lang,
        "dir": "rtl" if lang.split("-")[0] in RTL_LANGUAGES else "ltr",
        "policy": ({k: snap.policy[k] for k in ("version", "url", "hash", "accepts")} if snap.policy else None),
        "validity_days": snap.validity_days,
        "gpc_header": bool(gpc_header),
        "texts": snap.texts.get(lang) or texts_for({}, lang),
        "purposes": [
            {
                "slug": p["slug"],
                "title": p["titles"].get(lang) or p["titles"].get("en") or p["slug"],
                "description": p["descriptions"].get(lang) or p["descriptions"].get("en") or "",
                "basis": p["legal_basis"],
                "default": defaults[p["slug"]],
                "locked": p["legal_basis"] == "necessary",
                "consent_mode": p["consent_mode_keys"],
                "cookies": p["cookies"],
                "storage": p["storage_keys"],
                "sale_share": is_sale_or_share(p),
            }
            for p in snap.purposes
        ],
        **({"theme": snap.theme} if snap.theme else {}),
        "consent_mode": {
            "wait_for_update": 500,
            "defaults": [{"region": opt_in_regions, "values": denied}, {"values": fallback}],
        },
    }
