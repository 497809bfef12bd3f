"""A site's whole configuration as one document: exported for version control, validated, and
imported to create or update the site (`flask sites export` / `flask sites import`)."""
import datetime as dt

from app.extensions import caches, db
from app.models import Purpose, Site
from app.services import audit, regimes
from app.services.purposes import CONSENT_MODE_KEYS, LEGAL_BASES, purpose_doc
from app.services.sites.administration import create_site, get_site, normalise_origin
from app.services.sites.errors import SiteError
from app.services.sites.policies import publish_policy
from app.services.subjects.controller import controller_problems, normalise_controller
from app.services.theme import normalise_theme, theme_problems


def export_site(site: Site) -> dict:
    """The site's configuration (no secrets) as a plain document for version control."""
    return {
        "site_key": site.site_key, "name": site.name, "origins": site.origins,
        "default_language": site.default_language, "languages": site.languages, "texts": site.texts,
        "retention_days": site.retention_days, "consent_validity_days": site.consent_validity_days,
        "regime_overrides": site.regime_overrides, "uses_google": site.uses_google,
        "email_double_opt_in": site.email_double_opt_in, "controller": site.controller or {},
        "theme": site.theme or {},
        "purposes": [purpose_doc(p) for p in site.purposes],
        "policies": [
            {"version": p.version, "url": p.url, "effective_at": p.effective_at.isoformat(),
             "content_hash": p.content_hash, "asks_again": bool(p.reconsent)}
            for p in site.policies
        ],
    }


def validate_site_doc(doc: dict) -> None:
    """Check an imported document; raises SiteError listing every problem found."""
    problems = []
    if not isinstance(doc, dict):
        raise SiteError("the document must be a mapping")
    if not doc.get("name"):
        problems.append("name: required")
    langs = doc.get("languages") or ["en"]
    if doc.get("default_language", langs[0]) not in langs:
        problems.append("default_language: must be one of languages")
    for key, value in (doc.get("regime_overrides") or {}).items():
        if value not in regimes.REGIMES:
            problems.append(f"regime_overrides.{key}: must be one of {', '.join(regimes.REGIMES)}")
    validity = doc.get("consent_validity_days", 180)
    if not isinstance(validity, int) or not 1 <= validity <= 395:
        problems.append("consent_validity_days: a whole number of days from 1 to 395 (13 months)")
    for flag in ("uses_google", "email_double_opt_in"):
        if flag in doc and not isinstance(doc[flag], bool):
            problems.append(f"{flag}: true or false")
    problems += controller_problems(doc.get("controller"))
    problems += theme_problems(doc.get("theme"))
    slugs = set()
    for i, p in enumerate(doc.get("purposes") or []):
        slug = p.get("slug", "")
        if not slug or not slug.replace("_", "").replace("-", "").isalnum() or slug in slugs:
            problems.append(f"purposes[{i}].slug: missing, not a slug, or repeated")
        slugs.add(slug)
        if p.get("legal_basis") not in LEGAL_BASES:
            problems.append(f"purposes[{i}].legal_basis: must be one of {', '.join(LEGAL_BASES)}")
        bad = set(p.get("consent_mode_keys") or []) - set(CONSENT_MODE_KEYS)
        if bad:
            problems.append(f"purposes[{i}].consent_mode_keys: unknown {sorted(bad)}")
    if doc.get("purposes") is not None and "necessary" not in slugs:
        problems.append("purposes: a `necessary` purpose is required")
    problems += policy_problems(doc.get("policies"))
    try:
        [normalise_origin(o) for o in doc.get("origins") or []]
    except SiteError as e:
        problems.append(f"origins: {e}")
    if problems:
        raise SiteError("; ".join(problems))


def policy_problems(policies) -> list[str]:
    """What is wrong with a document's `policies`: each a version string, an ISO 8601 `effective_at`
    if given, and `asks_again` true or false if given (a version without it asks again)."""
    if policies is None:
        return []
    if not isinstance(policies, list):
        return ["policies: a list"]
    problems = []
    for i, pd in enumerate(policies):
        if not isinstance(pd, dict) or not isinstance(pd.get("version"), str) or not pd["version"]:
            problems.append(f"policies[{i}].version: required, a string")
            continue
        if pd.get("effective_at"):
            try:
                dt.datetime.fromisoformat(pd["effective_at"])
            except (TypeError, ValueError):
                problems.append(f"policies[{i}].effective_at: not an ISO 8601 time")
        if "asks_again" in pd and not isinstance(pd["asks_again"], bool):
            problems.append(f"policies[{i}].asks_again: true or false")
    return problems


def import_site(doc: dict) -> tuple[Site, str | None]:
    """Create or update a site from an exported document. Returns (site, api_key or None)."""
    validate_site_doc(doc)
    site = get_site(doc["site_key"]) if doc.get("site_key") else None
    before = export_site(site) if site is not None else None  # what the audit entries compare with
    api_key = None
    if site is None:
        site, api_key = create_site(doc["name"], doc.get("origins") or [], doc.get("languages") or ["en"],
                                    doc.get("default_language") or "en", site_key=doc.get("site_key"))
        # create_site published version 1 from the defaults; the document's own policies replace it
        if doc.get("policies"):
            for pv in list(site.policies):
                db.session.delete(pv)
            db.session.flush()
    site.name = doc["name"]
    site.origins = [normalise_origin(o) for o in doc.get("origins") or []]
    site.languages = doc.get("languages") or site.languages
    site.default_language = doc.get("default_language") or site.languages[0]
    site.texts = doc.get("texts") or {}
    for attr in ("retention_days", "consent_validity_days", "regime_overrides", "uses_google", "email_double_opt_in"):
        if attr in doc:
            setattr(site, attr, doc[attr])
    if "controller" in doc:
        site.controller = normalise_controller(doc["controller"]) or None
    if "theme" in doc:
        site.theme = normalise_theme(doc["theme"]) or None
    if doc.get("purposes") is not None:
        by_slug = {p.slug: p for p in site.purposes}
        keep = []
        for i, pd in enumerate(doc["purposes"]):
            p = by_slug.get(pd["slug"]) or Purpose(slug=pd["slug"])
            p.position = i
            p.legal_basis = pd["legal_basis"]
            p.default_on = bool(pd.get("default_on", pd["legal_basis"] != "consent"))
            p.titles = pd.get("titles") or {}
            p.descriptions = pd.get("descriptions") or {}
            p.consent_mode_keys = pd.get("consent_mode_keys") or []
            p.cookies = pd.get("cookies") or []
            p.storage_keys = pd.get("storage_keys") or []
            keep.append(p)
        site.purposes = keep
    db.session.flush()
    known = {p.version for p in site.policies}
    for pd in doc.get("policies") or []:
        if pd["version"] not in known:
            eff = dt.datetime.fromisoformat(pd["effective_at"]) if pd.get("effective_at") else None
            publish_policy(site, pd["version"], pd.get("url", ""), eff, commit=False,
                           reconsent=pd.get("asks_again", True))
    caches.changed("sites", site.site_key)
    audit.record_site_import(site.id, site.site_key, before, export_site(site))
    db.session.commit()
    return site, api_key
