"""Publishing policy versions. Each records the hash of what a visitor is shown at the time, so a
ledger record can be matched to the texts and purposes the visitor saw."""
import datetime as dt

from app.extensions import caches, db
from app.hashing import canonical_json, sha256_hex
from app.models import PolicyVersion, Site, utcnow
from app.services import audit
from app.services.purposes import purpose_doc
from app.services.sites.errors import SiteError
from app.services.sites.resolution import texts_for


def config_hash(site: Site) -> str:
    """SHA-256 of what a visitor is shown: every language's texts and the purpose list."""
    doc = {
        "texts": {lang: texts_for(site.texts, lang) for lang in site.languages},
        "purposes": [purpose_doc(p) for p in site.purposes],
    }
    return sha256_hex(canonical_json(doc))


def publish_policy(site: Site, version: str, url: str, effective_at: dt.datetime | None = None,
                   commit: bool = True, reconsent: bool = True) -> PolicyVersion:
    """Publish a policy version. Once it is effective, decisions made under older versions are stale
    if it asks every visitor again (`reconsent`); a correction (`reconsent=False`) leaves them standing
    and only names what is shown from now on. Either way it gets a proof pack."""
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
                       content_hash=config_hash(site), reconsent=bool(reconsent))
    db.session.add(pv)
    from app.services.proof.packs import request_pack  # a cycle: packs resolves with the drafts' preview

    request_pack(site, pv)  # built by `flask worker` (the `proof` duty): a publish never waits for Chromium
    caches.changed("sites", site.site_key)
    if commit:  # else the caller's own entry says it
        audit.record("policy.published", audit.Target("site", site.site_key), site.id,
                     {"version": version, "asks_again": bool(reconsent)})
        db.session.commit()
    return pv
