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
    # the current version: {"version", "url", "hash", "effective_at", "accepts"}, `accepts` the versions
    # whose decisions still count (the current one and those since the last that asked again)
    policy: dict | None
    policy_versions: dict  # version -> url, every version published so far
    validity_days: int
    regime_overrides: dict
    uses_google: bool
    email_double_opt_in: bool
    receipt_secrets: tuple  # oldest first; the last signs
    config_hash: str
    name: str = ""
    # ((effective_at, version, reconsent), ...) sorted by time: which version is current at any moment,
    # and whether it asked every visitor again
    policy_timeline: tuple = ()
    controller: dict | None = None  # who the controller is (app/services/subjects/controller.py)
    theme: dict | None = None  # the widget's colours (app/services/theme.py)

    @property
    def slugs(self) -> set[str]:
        return {p["slug"] for p in self.purposes}

    def policy_at(self, when: dt.datetime) -> str | None:
        """The policy version in force at `when` (an aware datetime), or None before the first."""
        current = None
        for effective_at, version, _ in self.policy_timeline:
            if effective_at > when:
                break
            current = version
        return current

    def policy_effective_at(self, version: str) -> dt.datetime | None:
        """When a version took (or takes) effect, or None for a version the site never published."""
        for effective_at, v, _ in self.policy_timeline:
            if v == version:
                return effective_at
        return None

    def asked_again_at(self, when: dt.datetime) -> dt.datetime | None:
        """When the last version in force by `when` that asked every visitor again took effect (the
        first version always counts as asking): decisions made under versions before it are stale."""
        return last_reconsent(self.policy_timeline, when)


def last_reconsent(timeline, when: dt.datetime) -> dt.datetime | None:
    """In a sorted ((effective_at, version, reconsent), ...) timeline, when the last version effective
    by `when` that asked again (or the first version) took effect; None before any."""
    found = None
    for i, (effective_at, _, reconsent) in enumerate(timeline):
        if effective_at > when:
            break
        if reconsent or i == 0:
            found = effective_at
    return found


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
    timeline = tuple(sorted((p.effective_at, p.version, bool(p.reconsent)) for p in site.policies))
    effective = [p for p in site.policies if p.effective_at <= now]
    current = max(effective, key=lambda p: p.effective_at) if effective else None
    since = last_reconsent(timeline, now)
    accepts = [v for effective_at, v, _ in timeline if since is not None and since <= effective_at <= now]
    keys = receipt_secrets(site)
    return SiteSnapshot(
        id=site.id, site_key=site.site_key, origins=frozenset(site.origins or ()),
        languages=tuple(site.languages or ("en",)), default_language=site.default_language,
        texts={lang: texts_for(site.texts, lang) for lang in site.languages},
        purposes=tuple(purpose_doc(p) for p in site.purposes),
        policy=({"version": current.version, "url": current.url, "hash": current.content_hash,
                 "effective_at": current.effective_at.isoformat(), "accepts": accepts} if current else None),
        policy_versions={p.version: p.url for p in site.policies},
        validity_days=site.consent_validity_days, regime_overrides=dict(site.regime_overrides or {}),
        uses_google=site.uses_google, email_double_opt_in=site.email_double_opt_in, receipt_secrets=tuple(keys), config_hash=config_hash(site),
        name=site.name,
        policy_timeline=timeline,
        controller=dict(site.controller) if site.controller else None,
        theme=dict(site.theme) if site.theme else None,
    )
