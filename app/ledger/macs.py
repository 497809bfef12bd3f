"""The ledger's keyed MACs: HMAC-SHA256 under a key derived from OPSIQ_MASTER_KEY by HKDF.

The key is never stored: someone who can write the database but not read the master key can
recompute every record hash and seal hash, but not the MAC of a seal, an erasure entry or a purge
checkpoint, so verify catches the rewrite. Each MAC covers a kind and the site, so one MAC'd
thing cannot stand in for another.
"""
import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.hashing import canonical_json
from app.services.keyring import master_key

_INFO = b"opsiq ledger mac v1"


def ledger_key(master: bytes | None = None) -> bytes:
    """The ledger's MAC key, derived from `master` (default: this app's OPSIQ_MASTER_KEY)."""
    master = master_key() if master is None else master
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(master)


def mac(key: bytes, kind: str, site_id: int, payload) -> str:
    """HMAC-SHA256 (hex) of a kind, a site and the canonical JSON of `payload`."""
    message = canonical_json({"kind": kind, "site": site_id, "payload": payload}).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def seal_mac(key: bytes, site_id: int, seq: int, seal_hash: str) -> str:
    """A seal's MAC: over its hash (which covers its entries, sequence and the seal before it)."""
    return mac(key, "seal", site_id, {"seq": seq, "hash": seal_hash})


def matches(expected: str | None, given: str | None) -> bool:
    """Whether a stored MAC is the one expected (constant time); a missing one never matches."""
    return given is not None and expected is not None and hmac.compare_digest(expected, given)
