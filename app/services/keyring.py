"""Per-site keys for personal data, wrapped by the master key (`OPSIQ_MASTER_KEY`).

Each site has a keyring: a 256-bit data key (AES-256-GCM for emails and external ids), a 256-bit
lookup key (HMAC-SHA256 of the normalised value, so records are found without decrypting), and
the secrets that sign identity tokens and confirmation/unsubscribe links. The keyring is stored
encrypted under the master key; rotating the master key re-wraps keyrings and touches no record.

Secrets that belong to no site (a dashboard user's TOTP secret) are sealed with `seal` under a key
derived from the master key, bound to the row and column that hold them (SEALED_COLUMNS);
rotating the master key seals them again.
"""
import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from app.extensions import caches, db
from app.models import SiteKeyring, utcnow
from app.services import audit

_warned = []


class KeyringError(RuntimeError):
    """A key cannot be read or unwrapped; the message says which."""


def parse_master_key(value: str) -> bytes:
    """A master key given as base64 (standard or URL-safe) of exactly 32 bytes."""
    try:
        raw = base64.urlsafe_b64decode(value.strip().replace("+", "-").replace("/", "_") + "==")
    except (ValueError, AttributeError):
        raw = b""
    if len(raw) != 32:
        raise KeyringError("a master key must be 32 random bytes in base64 "
                           "(python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())')")
    return raw


def new_master_key() -> str:
    """A fresh master key in the form OPSIQ_MASTER_KEY takes."""
    return base64.b64encode(os.urandom(32)).decode()


def master_key(config: Mapping[str, Any] | None = None) -> bytes:
    """The master key from config; in development a default derived from SECRET_KEY, with a warning."""
    config = config if config is not None else current_app.config
    value = config.get("OPSIQ_MASTER_KEY")
    if value:
        return parse_master_key(value)
    if config.get("OPSIQ_ENV") == "production":
        raise KeyringError("OPSIQ_MASTER_KEY must be set when OPSIQ_ENV=production")
    if not _warned:
        _warned.append(True)
        current_app.logger.warning("OPSIQ_MASTER_KEY is not set: using a development key derived from SECRET_KEY")
    return hashlib.sha256(b"opsiq-dev-master-key|" + config["SECRET_KEY"].encode()).digest()


def fingerprint(master: bytes) -> str:
    """A short public name for a master key: which one wrapped a keyring, without revealing it."""
    return hmac.new(master, b"opsiq master key fingerprint", hashlib.sha256).hexdigest()[:32]


def _aad(site_id: int) -> bytes:
    return f"opsiq.keyring.v1:{site_id}".encode()


def wrap(master: bytes, site_id: int, keys: Mapping[str, Any]) -> str:
    """A site's keys sealed under the master key, bound to that site (base64, as stored)."""
    nonce = os.urandom(12)
    ct = AESGCM(master).encrypt(nonce, json.dumps(keys).encode(), _aad(site_id))
    return base64.b64encode(nonce + ct).decode()


def unwrap(master: bytes, site_id: int, wrapped: str) -> dict[str, Any]:
    """A site's keys from what `wrap` stored; KeyringError if this master key did not seal them."""
    blob = base64.b64decode(wrapped)
    try:
        return json.loads(AESGCM(master).decrypt(blob[:12], blob[12:], _aad(site_id)))
    except InvalidTag:
        raise KeyringError(f"site {site_id}: keyring does not open with this master key") from None


# --- installation secrets: sealed in their row, under a key derived from the master key -------------

# (table, column) of every value `seal` protects; rotate_master seals each again under the new key
SEALED_COLUMNS = (("users", "totp_secret"), ("users", "totp_pending"))
_SEAL_INFO = b"opsiq installation secrets v1"


def sealed_context(table: str, column: str, row_id: int) -> str:
    """What a sealed value is bound to: its table, column and row, so it cannot be moved to another."""
    return f"{table}.{column}.{row_id}"


def _seal_key(master: bytes) -> AESGCM:
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEAL_INFO).derive(master))


def seal(context: str, text: str, master: bytes | None = None) -> str:
    """`text` sealed (AES-256-GCM) under this app's master key, bound to `context` (sealed_context)."""
    nonce = os.urandom(12)
    ct = _seal_key(master_key() if master is None else master).encrypt(nonce, text.encode(), context.encode())
    return "m1:" + base64.b64encode(nonce + ct).decode()


def unseal(context: str, token: str, master: bytes | None = None) -> str:
    """The text `seal` sealed for `context`; KeyringError if another master key or context sealed it."""
    blob = base64.b64decode(token.removeprefix("m1:"))
    try:
        return _seal_key(master_key() if master is None else master).decrypt(blob[:12], blob[12:],
                                                                             context.encode()).decode()
    except InvalidTag:
        raise KeyringError(f"{context}: does not open with this master key") from None


def _reseal_all(old_master: bytes, new_master: bytes) -> int:
    """Seal every SEALED_COLUMNS value again under `new_master` (those already under it are left)."""
    done = 0
    for table_name, column in SEALED_COLUMNS:
        table = db.metadata.tables[table_name]
        rows = db.session.execute(sa.select(table.c.id, table.c[column]).where(table.c[column].is_not(None))).all()
        for row_id, token in rows:
            context = sealed_context(table_name, column, row_id)
            try:
                unseal(context, token, new_master)
                continue
            except KeyringError:
                text = unseal(context, token, old_master)  # neither key: KeyringError, nothing committed
            db.session.execute(sa.update(table).where(table.c.id == row_id).values(
                {column: seal(context, text, new_master)}))
            done += 1
    return done


class Keyring:
    """A site's unwrapped keys, with the operations built on them."""

    def __init__(self, site_id: int, keys: Mapping[str, Any], master_fingerprint: str) -> None:
        self.site_id = site_id
        self.master_fingerprint = master_fingerprint  # of the master key that opened it
        self._data = AESGCM(base64.b64decode(keys["data"]))
        self._lookup = base64.b64decode(keys["lookup"])
        self.identity_secret = keys["identity"]
        self.link_secret = keys["links"]

    def lookup_hash(self, kind: str, value: str) -> str:
        """HMAC-SHA256 (hex) of a normalised value, keyed per site; `kind` keeps emails and ids apart."""
        return hmac.digest(self._lookup, f"{kind}:{value}".encode(), "sha256").hex()  # one-shot C call: batches

    def email_hash(self, address: str) -> str:
        """The keyed hash an email address is found by (see lookup_hash)."""
        return self.lookup_hash("email", normalise_email(address))

    def email_hashes(self, addresses: Iterable[str]) -> list[str]:
        """email_hash for many addresses (the batch check's hot loop)."""
        key, digest = self._lookup, hmac.digest
        return [digest(key, ("email:" + (a or "").strip().lower()).encode(), "sha256").hex() for a in addresses]

    def encrypt(self, field: str, text: str) -> str:
        """AES-256-GCM under the data key, bound to this site and field; base64 of nonce + ciphertext."""
        nonce = os.urandom(12)
        ct = self._data.encrypt(nonce, text.encode(), f"{self.site_id}:{field}".encode())
        return "v1:" + base64.b64encode(nonce + ct).decode()

    def decrypt(self, field: str, token: str) -> str:
        """The text `encrypt` sealed for this site and field; raises if it was sealed for another."""
        blob = base64.b64decode(token.removeprefix("v1:"))
        return self._data.decrypt(blob[:12], blob[12:], f"{self.site_id}:{field}".encode()).decode()


def normalise_email(address: str | None) -> str:
    """The form an address is hashed in: trimmed and lower-cased (as mail providers treat it)."""
    return (address or "").strip().lower()


def _new_keys() -> dict[str, Any]:
    return {
        "v": 1,
        "data": base64.b64encode(os.urandom(32)).decode(),
        "lookup": base64.b64encode(os.urandom(32)).decode(),
        "identity": secrets.token_urlsafe(32),
        "links": secrets.token_urlsafe(32),
    }


def keyring(site_id: int) -> Keyring:
    """The site's keyring, made on first use (committed on its own, before the caller's writes).

    Cached per process for SITE_CACHE_SECONDS like the rest of the site's settings (its double
    opt-in default is one), and only for the master key that opened it.
    """
    fp = fingerprint(master_key())
    max_age = current_app.config["SITE_CACHE_SECONDS"]
    ring = caches.keyrings.get(site_id, max_age, _load_keyring, site_id)
    if ring.master_fingerprint != fp:  # this app's master key changed since: open it again with the new one
        caches.keyrings.invalidate(site_id)
        ring = caches.keyrings.get(site_id, max_age, _load_keyring, site_id)
    return ring


def _load_keyring(site_id: int) -> Keyring:
    master = master_key()
    fp = fingerprint(master)
    row = db.session.execute(db.select(SiteKeyring).where(SiteKeyring.site_id == site_id)).scalar_one_or_none()
    if row is None:
        row = SiteKeyring(site_id=site_id, wrapped=wrap(master, site_id, _new_keys()), master_fingerprint=fp)
        db.session.add(row)
        try:
            db.session.commit()
        except sa.exc.IntegrityError:
            db.session.rollback()  # another request made it first: use theirs
            row = db.session.execute(db.select(SiteKeyring).where(SiteKeyring.site_id == site_id)).scalar_one()
    return Keyring(site_id, unwrap(master, site_id, row.wrapped), fp)


def rotate_master(old_master: bytes, new_master: bytes) -> tuple[int, int]:
    """Re-wrap every keyring under `new_master`, and seal the installation secrets again; records are
    untouched. Returns (keyrings rewrapped, keyrings already under it)."""
    new_fp, old_fp = fingerprint(new_master), fingerprint(old_master)
    done = already = 0
    for row in db.session.execute(db.select(SiteKeyring).order_by(SiteKeyring.id)).scalars():
        if row.master_fingerprint == new_fp:
            already += 1
            continue
        if row.master_fingerprint != old_fp:
            raise KeyringError(f"site {row.site_id}: keyring was wrapped by neither the old nor the new master key")
        keys = unwrap(old_master, row.site_id, row.wrapped)
        row.wrapped = wrap(new_master, row.site_id, keys)
        row.master_fingerprint = new_fp
        row.rewrapped_at = utcnow()
        done += 1
    resealed = _reseal_all(old_master, new_master)
    caches.changed("keyrings")  # every site's
    audit.record("secret.rotated", audit.Target("installation", None), None,
                 {"secret": "master", "rewrapped": done, "already": already, "resealed": resealed})
    db.session.commit()
    return done, already
