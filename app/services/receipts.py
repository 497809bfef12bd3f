"""Signed consent receipts: an itsdangerous token of the record, signed with the site's receipt key.

Payload (version 1), compact so the widget can keep it:
  v: 1, rid: record id, site: site key, vid: visitor id, ev: event, m: method,
  d: {purpose: bool}, rg: regime, c: country, r: region, pv: policy version,
  gpc: bool, iat: issued (Unix s), exp: expires (Unix s)
"""
from functools import lru_cache

from itsdangerous import URLSafeSerializer

RECEIPT_SALT = "opsiq.receipt.v1"


@lru_cache(maxsize=256)
def _serializer(secrets):
    return URLSafeSerializer(list(secrets), salt=RECEIPT_SALT)


def receipt_serializer(secrets):
    """A serializer that signs with the newest secret and verifies with any listed one (one per key set)."""
    return _serializer(tuple(secrets))


def receipt_payload(record, site_key):
    return {
        "v": 1, "rid": record["record_id"], "site": site_key, "vid": record["visitor_id"],
        "ev": record["event"], "m": record["method"], "d": record["decisions"],
        "rg": record["regime"], "c": record["country"], "r": record["region"],
        "pv": record["policy_version"], "gpc": record["gpc"],
        "iat": int(record["created_at"].timestamp()), "exp": int(record["expires_at"].timestamp()),
    }


def sign_receipt(snap, record):
    """The receipt token for a stored record (a dict of its columns)."""
    return receipt_serializer(snap.receipt_secrets).dumps(receipt_payload(record, snap.site_key))
