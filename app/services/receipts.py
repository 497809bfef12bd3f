"""Signed consent receipts: an itsdangerous token of the record, signed with the site's receipt key.

Payload (version 1), compact so the widget can keep it:
  v: 1, rid: record id, site: site key, vid: visitor id, ev: event, m: method,
  d: {purpose: bool}, rg: regime, c: country, r: region, pv: policy version,
  gpc: bool, iat: issued (Unix s), exp: expires (Unix s)

The token is itsdangerous' URLSafeSerializer format (salt RECEIPT_SALT, the newest secret signs):
`base64url(compact JSON) "." base64url(HMAC-SHA1(SHA1(salt + "signer" + secret), payload))`.
Every receipt is signed on the write path, so `sign_receipt` builds that token itself with the
derived key computed once per secret, and never tries zlib (itsdangerous compresses when that
is shorter, about 40 µs for a few bytes; both forms verify alike, opsiq_client's included).
"""
import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from itsdangerous import URLSafeSerializer

from app.ledger.records import RECORD_COLUMNS, Record

if TYPE_CHECKING:
    from app.services.sites.snapshot import SiteSnapshot

RECEIPT_SALT = "opsiq.receipt.v1"


@lru_cache(maxsize=256)
def _serializer(secrets):
    return URLSafeSerializer(list(secrets), salt=RECEIPT_SALT)


def receipt_serializer(secrets: Sequence[str]) -> URLSafeSerializer:
    """A serializer that signs with the newest secret and verifies with any listed one (one per key set)."""
    return _serializer(tuple(secrets))


@lru_cache(maxsize=256)
def _signing_key(secret):
    raw = secret.encode() if isinstance(secret, str) else secret
    return hashlib.sha1(RECEIPT_SALT.encode() + b"signer" + raw).digest()


def receipt_payload(record: Record, site_key: str) -> dict:
    """The receipt's payload for a record (the module docstring lists its fields)."""
    return {
        "v": 1, "rid": record.record_id, "site": site_key, "vid": record.visitor_id,
        "ev": record.event, "m": record.method, "d": record.decisions,
        "rg": record.regime, "c": record.country, "r": record.region,
        "pv": record.policy_version, "gpc": record.gpc,
        "iat": int(record.created_at.timestamp()), "exp": int(record.expires_at.timestamp()),
    }


def sign_receipt(snap: "SiteSnapshot", record: Record) -> str:
    """The receipt token for a stored record."""
    doc = json.dumps(receipt_payload(record, snap.site_key), separators=(",", ":")).encode()
    payload = base64.urlsafe_b64encode(doc).rstrip(b"=")
    mac = hmac.new(_signing_key(snap.receipt_secrets[-1]), payload, hashlib.sha1).digest()
    return (payload + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode("ascii")


def _stored(columns: Mapping) -> Record:
    return Record(**{name: columns.get(name) for name in RECORD_COLUMNS})


def receipt_for_columns(snap: "SiteSnapshot", columns: Mapping) -> str:
    """The receipt of a stored record read back as its columns (a row of the export's columns, or
    every column): what the write path signed, under the site's newest receipt secret."""
    return sign_receipt(snap, _stored(columns))


def payload_for_columns(columns: Mapping, site_key: str) -> dict:
    """The payload a receipt of a stored record (read back as its columns) carries."""
    return receipt_payload(_stored(columns), site_key)
