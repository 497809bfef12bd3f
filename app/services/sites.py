"""Sites, purposes, policy versions and keys; and the configuration resolved for one visitor."""
import datetime as dt
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import joinedload
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from app.errors import Invalid, NotFound
from app.extensions import caches, db
from app.hashing import canonical_json, sha256_hex
from app.models import ApiKey, PolicyVersion, Purpose, ReceiptKey, Site, utcnow
from app.services import regimes
from app.services.purposes import (
    CONSENT_MODE_KEYS,
    LEGAL_BASES,
    consent_mode_values,
    effective_default,
)
from app.services.texts import BANNER_TEXTS, DEFAULT_PURPOSES, RTL_LANGUAGES

API_KEY_PREFIX = "opsiq_sk_"


class SiteError(Invalid):
    """A site configuration or key operation that cannot be done; the message says why."""


# --- creating and changing sites -------------------------------------------------------------

def new_site_key():
    return secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")


def create_site(name, origins, languages=("en", "de", "fr", "es"), default_language="en",
                policy_url="", site_key=None):
    """Create a site with the default purposes, a receipt key and policy version 1.

    Returns (site, api_key); the API key is shown once and stored only as a hash.
    """
    if not name or not name.strip():
        raise SiteError("a site needs a name")
    origins = [normalise_origin(o) for o in origins]
    site = Site(
        site_key=site_key or new_site_key(), name=name.strip(), origins=origins,
        languages=list(languages), default_language=default_language, texts={},
        regime_overrides={},
    )
    for i, p in enumerate(DEFAULT_PURPOSES):
        site.purposes.append(Purpose(position=i, cookies=[], storage_keys=[], **p))
    db.session.add(site)
    db.session.flush()
    db.session.add(ReceiptKey(site_id=site.id, secret=_new_receipt_secret(site.id)))
    publish_policy(site, "1", policy_url, commit=False)
    api_key = create_api_key(site, "default", commit=False)
    caches.changed("sites", site.site_key)  # someone may have asked for this key before: a miss is kept
    db.session.commit()
    return site, api_key


def normalise_origin(origin):
    """`https://Shop.example.com/` -> `https://shop.example.com`; refuses anything not an origin."""
    from urllib.parse import urlsplit

    parts = urlsplit((origin or "").strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
        raise SiteError(f"not an origin (scheme://host[:port]): {origin!r}")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def add_origins(site: Site, origins: list[str]) -> list[str]:
    """Allow more origins to call the browser API for a site; those it has are kept once. Returns
    the site's origins."""
    wanted = [normalise_origin(o) for o in origins]
    added = [o for o in dict.fromkeys(wanted) if o not in site.origins]
    if added:
        site.origins = site.origins + added
        caches.changed("sites", site.site_key)
        db.session.commit()
    return site.origins


def get_site(site_key):
    """The site with this key, or None."""
    return db.session.execute(db.select(Site).where(Site.site_key == site_key)).scalar_one_or_none()


def require_site(site_key):
    site = get_site(site_key)
    if site is None:
        raise NotFound(f"no site with key {site_key!r}")
    return site


def create_api_key(site, name="", commit=True):
    """Make a secret API key for a site; only its hash is kept. Returns the key, shown once."""
    raw = API_KEY_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiKey(site_id=site.id, prefix=raw[: len(API_KEY_PREFIX) + 8],
                          key_hash=sha256_hex(raw), name=name))
    caches.changed("api_keys", sha256_hex(raw))
    if commit:
        db.session.commit()
    return raw


def revoke_api_key(prefix):
    """Revoke the key(s) starting with this prefix; returns how many were revoked."""
    keys = db.session.execute(
        db.select(ApiKey).where(ApiKey.prefix == prefix[: len(API_KEY_PREFIX) + 8], ApiKey.revoked_at.is_(None))
    ).scalars().all()
    for k in keys:
        k.revoked_at = utcnow()
        caches.changed("api_keys", k.key_hash)
    db.session.commit()
    return len(keys)


def site_for_api_key(raw):
    """The site a presented API key belongs to, compared in constant time; None if unknown or revoked."""
    site_key = site_key_for_api_key(raw)
    return get_site(site_key) if site_key is not None else None


def site_key_for_api_key(raw: str, max_age: float = 0) -> str | None:
    """The key of the site a presented API key belongs to; None if unknown or revoked.

    With `max_age`, the answer is remembered in process for that many seconds (keyed by the key's
    SHA-256, never the key), a miss too: a client repeating a wrong key costs one query per
    `max_age`. A revocation is seen at once by the process that made it, and within `max_age` by
    the others.
    """
    if not raw or not raw.startswith(API_KEY_PREFIX):
        return None
    return caches.api_keys.get(sha256_hex(raw), max_age, _lookup_api_key, raw)


def _lookup_api_key(raw):
    digest = sha256_hex(raw)
    rows = db.session.execute(
        db.select(ApiKey.key_hash, Site.site_key).join(Site, Site.id == ApiKey.site_id)
        .where(ApiKey.prefix == raw[: len(API_KEY_PREFIX) + 8], ApiKey.revoked_at.is_(None))
    ).all()
    for key_hash, site_key in rows:
        if hmac.compare_digest(key_hash, digest):
            return site_key
    return None


def _new_receipt_secret(site_id):
    """A new receipt secret as it is stored: encrypted under the site's data key (app/services/
    keyring.py), so that a copy of the database alone cannot sign receipts."""
    from app.services.keyring import keyring

    return keyring(site_id).encrypt("receipt_key", secrets.token_urlsafe(32))


def rotate_receipt_key(site):
    """Add a new receipt-signing secret; the old ones keep verifying until retired."""
    key = ReceiptKey(site_id=site.id, secret=_new_receipt_secret(site.id))
    db.session.add(key)
    caches.changed("sites", site.site_key)
    db.session.commit()
    return key


def receipt_secrets(site):
    """The site's unretired receipt secrets, oldest first; the last one signs new receipts.
    A secret stored before they were encrypted (no `v1:` prefix) is used as it is; after
    `flask keys rotate-receipt` an encrypted one signs, and the old one only verifies."""
    from app.services.keyring import keyring

    stored = db.session.execute(
        db.select(ReceiptKey.secret).where(ReceiptKey.site_id == site.id, ReceiptKey.retired_at.is_(None))
        .order_by(ReceiptKey.id)
    ).scalars().all()
    ring = keyring(site.id) if any(s.startswith("v1:") for s in stored) else None
    return [ring.decrypt("receipt_key", s) if s.startswith("v1:") else s for s in stored]


def config_hash(site):
    """SHA-256 of what a visitor is shown: every language's texts and the purpose list."""
    doc = {
        "texts": {lang: texts_for(site.texts, lang) for lang in site.languages},
        "purposes": [purpose_doc(p) for p in site.purposes],
    }
    return sha256_hex(canonical_json(doc))


def publish_policy(site, version, url, effective_at=None, commit=True):
    """Publish a policy version; once effective, decisions made under older versions are stale."""
    if not version:
        raise SiteError("a policy version needs a version string")
    exists = db.session.execute(
        db.select(PolicyVersion).where(PolicyVersion.site_id == site.id, PolicyVersion.version == version)
    ).scalar_one_or_none()
    if exists:
        raise SiteError(f"policy version {version!r} already exists for this site")
    effective_at = effective_at or utcnow()
    if effective_at.tzinfo is None:
        effective_at = effective_at.replace(tzinfo=dt.timezone.utc)
    pv = PolicyVersion(site_id=site.id, version=version, url=url or "", effective_at=effective_at,
                       content_hash=config_hash(site))
    db.session.add(pv)
    caches.changed("sites", site.site_key)
    if commit:
        db.session.commit()
    return pv


# --- export and import: a site's whole configuration as one document -------------------------

def purpose_doc(p):
    return {
        "slug": p.slug, "legal_basis": p.legal_basis, "default_on": p.default_on,
        "titles": p.titles, "descriptions": p.descriptions,
        "consent_mode_keys": p.consent_mode_keys, "cookies": p.cookies or [], "storage_keys": p.storage_keys or [],
    }


def export_site(site):
    """The site's configuration (no secrets) as a plain document for version control."""
    return {
        "site_key": site.site_key, "name": site.name, "origins": site.origins,
        "default_language": site.default_language, "languages": site.languages, "texts": site.texts,
        "retention_days": site.retention_days, "consent_validity_days": site.consent_validity_days,
        "regime_overrides": site.regime_overrides, "uses_google": site.uses_google,
        "purposes": [purpose_doc(p) for p in site.purposes],
        "policies": [
            {"version": p.version, "url": p.url, "effective_at": p.effective_at.isoformat(),
             "content_hash": p.content_hash}
            for p in site.policies
        ],
    }


def validate_site_doc(doc):
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
    try:
        [normalise_origin(o) for o in doc.get("origins") or []]
    except SiteError as e:
        problems.append(f"origins: {e}")
    if problems:
        raise SiteError("; ".join(problems))


def import_site(doc):
    """Create or update a site from an exported document. Returns (site, api_key or None)."""
    validate_site_doc(doc)
    site = get_site(doc["site_key"]) if doc.get("site_key") else None
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
    for attr in ("retention_days", "consent_validity_days", "regime_overrides", "uses_google"):
        if attr in doc:
            setattr(site, attr, doc[attr])
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
            publish_policy(site, pd["version"], pd.get("url", ""), eff, commit=False)
    caches.changed("sites", site.site_key)
    db.session.commit()
    return site, api_key


# --- a cached, plain snapshot of a site for the hot paths ------------------------------------

@dataclass(frozen=True)
class SiteSnapshot:
    """Everything the browser-facing paths need about a site, read once and shared."""

    id: int
    site_key: str
    origins: frozenset
    languages: tuple
    default_language: str
    texts: dict
    purposes: tuple  # of purpose_doc dicts, in display order
    policy: dict | None  # the current version: {"version", "url", "hash", "effective_at"}
    policy_versions: dict  # version -> url, every version published so far
    validity_days: int
    regime_overrides: dict
    uses_google: bool
    receipt_secrets: tuple  # oldest first; the last signs
    config_hash: str
    name: str = ""
    # ((effective_at, version), ...) sorted by time: which version is current at any moment
    policy_timeline: tuple = ()

    @property
    def slugs(self):
        return {p["slug"] for p in self.purposes}

    def policy_at(self, when):
        """The policy version in force at `when` (an aware datetime), or None before the first."""
        current = None
        for effective_at, version in self.policy_timeline:
            if effective_at > when:
                break
            current = version
        return current

    def policy_effective_at(self, version):
        """When a version took (or takes) effect, or None for a version the site never published."""
        for effective_at, v in self.policy_timeline:
            if v == version:
                return effective_at
        return None


def site_snapshot(site_key: str, max_age: float) -> "SiteSnapshot | None":
    """The snapshot for a site key, or None for a key no site has; either is remembered in process
    for `max_age` seconds (0: read every time)."""
    return caches.sites.get(site_key, max_age, _load_snapshot, site_key)


def _load_snapshot(site_key):
    # the site with its purposes and policies in one query: under gevent every query waits its turn
    # behind all the greenlets ready to run, so a rebuild that made four took hundreds of ms
    site = db.session.execute(
        db.select(Site).where(Site.site_key == site_key)
        .options(joinedload(Site.purposes), joinedload(Site.policies))
    ).unique().scalar_one_or_none()
    return build_snapshot(site) if site is not None else None


def build_snapshot(site):
    now = utcnow()
    effective = [p for p in site.policies if p.effective_at <= now]
    current = max(effective, key=lambda p: p.effective_at) if effective else None
    keys = receipt_secrets(site)
    return SiteSnapshot(
        id=site.id, site_key=site.site_key, origins=frozenset(site.origins or ()),
        languages=tuple(site.languages or ("en",)), default_language=site.default_language,
        texts={lang: texts_for(site.texts, lang) for lang in site.languages},
        purposes=tuple(purpose_doc(p) for p in site.purposes),
        policy=({"version": current.version, "url": current.url, "hash": current.content_hash,
                 "effective_at": current.effective_at.isoformat()} if current else None),
        policy_versions={p.version: p.url for p in site.policies},
        validity_days=site.consent_validity_days, regime_overrides=dict(site.regime_overrides or {}),
        uses_google=site.uses_google, receipt_secrets=tuple(keys), config_hash=config_hash(site),
        name=site.name,
        policy_timeline=tuple(sorted((p.effective_at, p.version) for p in site.policies)),
    )


def texts_for(site_texts, lang):
    """Banner texts in one language: the site's own over the built-in ones, English as the floor."""
    base = dict(BANNER_TEXTS["en"])
    base.update(BANNER_TEXTS.get(lang, {}))
    base.update((site_texts or {}).get(lang, {}))
    return base


def choose_language(snap, accept_language):
    """The site language that best matches an Accept-Language header, else the site default."""
    if accept_language:
        accept = parse_accept_header(accept_language, LanguageAccept)
        match = accept.best_match(snap.languages)
        if match:
            return match
    return snap.default_language


def resolve_config(snap, location, accept_language, gpc_header, endpoint):
    """The configuration for one visitor: regime, language, texts and purposes in that language."""
    decision = regimes.decide_regime(location.country, location.region, snap.regime_overrides, snap.uses_google)
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
        "policy": ({k: snap.policy[k] for k in ("version", "url", "hash")} if snap.policy else None),
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
            }
            for p in snap.purposes
        ],
        "consent_mode": {
            "wait_for_update": 500,
            "defaults": [{"region": opt_in_regions, "values": denied}, {"values": fallback}],
        },
    }
