"""The plain, frozen `SiteSnapshot` the request paths read: one query builds it, and it is cached
per process (app/cache.py) by site key for the `max_age` each caller passes, unknown keys too."""
import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import joinedload

from app.extensions import caches, db
from app.models import Site, utcnow
from app.services.purposes import purpose_doc
from app.services.sites.keys import receipt_secrets
from app.services.sites.policies import config_hash
from app.services.sites.resolution import texts_for


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
    email_double_opt_in: bool
    receipt_secrets: tuple  # oldest first; the last signs
    config_hash: str
    name: str = ""
    # ((effective_at, version), ...) sorted by time: which version is current at any moment
    policy_timeline: tuple = ()
    controller: dict | None = None  # who the controller is (app/services/subjects/controller.py)
    theme: dict | None = None  # the widget's colours (app/services/theme.py)

    @property
    def slugs(self) -> set[str]:
        return {p["slug"] for p in self.purposes}

    def policy_at(self, when: dt.datetime) -> str | None:
        """The policy version in force at `when` (an aware datetime), or None before the first."""
        current = None
        for effective_at, version in self.policy_timeline:
            if effective_at > when:
                break
            current = version
        return current

    def policy_effective_at(self, version: str) -> dt.datetime | None:
        """When a version took (or takes) effect, or None for a version the site never published."""
        for effective_at, v in self.policy_timeline:
            if v == version:
                return effective_at
        return None


def site_snapshot(site_key: str, max_age: float) -> SiteSnapshot | None:
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


def build_snapshot(site: Site) -> SiteSnapshot:
    """A site's snapshot, its current policy the one in force now."""
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
        uses_google=site.uses_google, email_double_opt_in=site.email_double_opt_in, receipt_secrets=tuple(keys), config_hash=config_hash(site),
        name=site.name,
        policy_timeline=tuple(sorted((p.effective_at, p.version) for p in site.policies)),
        controller=dict(site.controller) if site.controller else None,
        theme=dict(site.theme) if site.theme else None,
    )
