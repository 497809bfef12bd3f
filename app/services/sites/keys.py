"""A site's secrets: API keys for its servers, and the receipt secrets that sign visitors' receipts.

API keys are stored only as SHA-256 hashes, found by their first characters and compared in
constant time. Receipt secrets are stored encrypted under the site's data key
(app/services/keyring.py), so that a copy of the database alone cannot sign receipts.
"""
import hmac
import secrets

from app.extensions import caches, db
from app.hashing import sha256_hex
from app.models import ApiKey, ReceiptKey, Site, utcnow
from app.services import audit
from app.services.keyring import keyring

API_KEY_PREFIX = "opsiq_sk_"
PREFIX_LENGTH = len(API_KEY_PREFIX) + 8  # what is stored in clear to find a key: the prefix and 8 more


def api_key_id(raw: str) -> str:
    """A key's non-secret id: the prefix stored in clear (what `flask keys revoke` takes), never the key."""
    return raw[:PREFIX_LENGTH]


def create_api_key(site: Site, name: str = "", commit: bool = True) -> str:
    """Make a secret API key for a site; only its hash is kept. Returns the key, shown once."""
    raw = API_KEY_PREFIX + secrets.token_urlsafe(32)
    digest = sha256_hex(raw)
    db.session.add(ApiKey(site_id=site.id, prefix=raw[:PREFIX_LENGTH], key_hash=digest, name=name))
    caches.changed("api_keys", digest)
    if commit:  # else the caller's own entry (site.created) says it
        audit.record("key.created", audit.Target("api_key", api_key_id(raw)), site.id, {"name": name})
        db.session.commit()
    return raw


def list_api_keys(site: Site) -> list[ApiKey]:
    """The site's API keys, revoked ones too, newest first (their ids and dates: no secret is kept)."""
    return list(db.session.execute(
        db.select(ApiKey).where(ApiKey.site_id == site.id).order_by(ApiKey.id.desc())).scalars())


def revoke_api_key(prefix: str, site: Site | None = None) -> int:
    """Revoke the key(s) starting with this prefix (of `site` only, when given: the dashboard's
    owner of one site cannot revoke another's); returns how many were revoked."""
    q = db.select(ApiKey).where(ApiKey.prefix == prefix[:PREFIX_LENGTH], ApiKey.revoked_at.is_(None))
    if site is not None:
        q = q.where(ApiKey.site_id == site.id)
    keys = db.session.execute(q).scalars().all()
    for k in keys:
        k.revoked_at = utcnow()
        caches.changed("api_keys", k.key_hash)
        audit.record("key.revoked", audit.Target("api_key", k.prefix), k.site_id)
    db.session.commit()
    return len(keys)


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
        .where(ApiKey.prefix == raw[:PREFIX_LENGTH], ApiKey.revoked_at.is_(None))
    ).all()
    for key_hash, site_key in rows:
        if hmac.compare_digest(key_hash, digest):
            return site_key
    return None


def new_receipt_secret(site_id: int) -> str:
    """A new receipt secret as it is stored: encrypted under the site's data key."""
    return keyring(site_id).encrypt("receipt_key", secrets.token_urlsafe(32))


def rotate_receipt_key(site: Site) -> ReceiptKey:
    """Add a new receipt-signing secret; the old ones keep verifying until retired."""
    key = ReceiptKey(site_id=site.id, secret=new_receipt_secret(site.id))
    db.session.add(key)
    caches.changed("sites", site.site_key)  # the snapshot holds the secrets
    audit.record("secret.rotated", audit.Target("site", site.site_key), site.id, {"secret": "receipt"})
    db.session.commit()
    return key


def receipt_secrets(site: Site) -> list[str]:
    """The site's unretired receipt secrets, oldest first; the last one signs new receipts.
    A secret stored before they were encrypted (no `v1:` prefix) is used as it is; after
    `flask keys rotate-receipt` an encrypted one signs, and the old one only verifies."""
    stored = db.session.execute(
        db.select(ReceiptKey.secret).where(ReceiptKey.site_id == site.id, ReceiptKey.retired_at.is_(None))
        .order_by(ReceiptKey.id)
    ).scalars().all()
    ring = keyring(site.id) if any(s.startswith("v1:") for s in stored) else None
    return [ring.decrypt("receipt_key", s) if s.startswith("v1:") else s for s in stored]
