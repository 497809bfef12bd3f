"""Verify an OpsIQ consent receipt offline, with the site's receipt secret: no network, no Flask.

A receipt is what the widget gets back when a decision is recorded (and keeps). It is an
itsdangerous `URLSafeSerializer` token, salt ``opsiq.receipt.v1``, re-implemented here with the
standard library so a collector needs no dependency::

    payload "." signature
    payload   = base64url(compact JSON), or "." + base64url(zlib(compact JSON)) when shorter
    signature = base64url(HMAC-SHA1(key, payload)), key = SHA1(salt + b"signer" + secret)

The JSON (version 1): ``v`` 1, ``rid`` record id, ``site`` site key, ``vid`` visitor id,
``ev`` event, ``m`` method, ``d`` {purpose: bool}, ``rg`` regime, ``c`` country, ``r`` region,
``pv`` policy version, ``gpc`` bool, ``iat`` issued and ``exp`` expiry (Unix seconds).

Usage::

    from opsiq_client.receipts import verify_receipt

    check = verify_receipt(token, secrets, purpose="analytics")
    if check.allowed:
        ...  # record the hit
    else:
        log.info("dropped: %s", check.reason)

Get the secrets with ``flask keys receipt-secrets SITE_KEY`` (one per line; pass them all, so
receipts signed before a rotation still verify). `verify_receipt` never raises on bad input: a
forged, truncated, re-signed, expired or garbage token gives ``valid=False`` and a reason.
It cannot know what happened after the receipt was issued (a later withdrawal, a new policy):
pass ``policy_version`` to refuse receipts from an older policy, and ask the server API
(`POST /api/v1/consent-checks`) where a withdrawal must count immediately.
"""
import base64
import binascii
import hashlib
import hmac
import json
import time
import zlib
from dataclasses import dataclass, field

SALT = b"opsiq.receipt.v1"
PAYLOAD_VERSION = 1
MAX_TOKEN_LENGTH = 16 * 1024  # a real receipt is well under 1 KiB
MAX_PAYLOAD_BYTES = 64 * 1024  # what an authentic payload may decompress to
_BASE64URL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

# Stable reasons: the answer for a valid receipt, or why it is not valid.
GRANTED = "granted"                      # valid, and the purpose was consented to
REFUSED = "refused"                      # valid, and the purpose was refused
UNKNOWN_PURPOSE = "unknown_purpose"      # valid, but the receipt does not mention the purpose
VALID = "valid"                          # valid, and no purpose was asked about
MALFORMED = "malformed"                  # not a receipt at all: wrong type, truncated, not base64/JSON
BAD_SIGNATURE = "bad_signature"          # forged, altered, or signed with another secret
NO_SECRET = "no_secret"                  # no secret was given to check with
EXPIRED = "expired"                      # authentic, but past its `exp`
UNSUPPORTED_VERSION = "unsupported_version"
POLICY_SUPERSEDED = "policy_superseded"  # authentic, but given under another policy version


@dataclass(frozen=True)
class ReceiptCheck:
    """The answer: `valid` (authentic, well formed, unexpired), `allowed` (valid and the purpose
    granted), a stable `reason` word, and the decoded `payload` (None unless authentic)."""

    valid: bool
    allowed: bool
    reason: str
    payload: dict | None = field(default=None)

    def __bool__(self):
        return self.allowed


def _b64decode(data):
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def _signature(secret, payload):
    key = hashlib.sha1(SALT + b"signer" + secret).digest()
    return base64.urlsafe_b64encode(hmac.new(key, payload, hashlib.sha1).digest()).rstrip(b"=")


def _secrets(secret_or_secrets):
    if secret_or_secrets is None:
        return []
    if isinstance(secret_or_secrets, (str, bytes)):
        secret_or_secrets = [secret_or_secrets]
    out = []
    for s in secret_or_secrets:
        if isinstance(s, str):
            s = s.strip().encode()
        if isinstance(s, bytes) and s:
            out.append(s)
    return out


def _well_formed(payload, sig):
    """Whether the token has a receipt's shape (base64url parts), judged without decoding anything."""
    body = payload[1:] if payload.startswith(b".") else payload
    return bool(body) and _BASE64URL.issuperset(body) and _BASE64URL.issuperset(sig)


def _decode_payload(payload):
    """The JSON object inside an authentic payload, or None. Only ever called once the signature
    matched, and bounded even then: a secret holder's payload decompresses to MAX_PAYLOAD_BYTES at
    most, and JSON nested past the parser's depth is malformed, not an exception."""
    try:
        compressed = payload.startswith(b".")
        raw = _b64decode(payload[1:] if compressed else payload)
        if compressed:
            inflate = zlib.decompressobj()
            raw = inflate.decompress(raw, MAX_PAYLOAD_BYTES)
            if inflate.unconsumed_tail:
                return None
        doc = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, zlib.error, UnicodeDecodeError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


def verify_receipt(token, secret_or_secrets, purpose=None, now=None, *, policy_version=None):
    """Check a receipt token against the site's receipt secret(s); never raises on bad input.

    token: the receipt string. secret_or_secrets: one secret or a list (any may have signed).
    purpose: a purpose slug to answer for (`allowed` is then whether it was granted).
    now: Unix seconds or an aware datetime, for the expiry check (default: the current time).
    policy_version: the site's current policy version, if known; a receipt from another is refused.
    """
    if isinstance(token, str):
        try:
            token = token.strip().encode("ascii")
        except UnicodeEncodeError:
            return ReceiptCheck(False, False, MALFORMED)
    if not isinstance(token, bytes) or not token or len(token) > MAX_TOKEN_LENGTH or b"." not in token:
        return ReceiptCheck(False, False, MALFORMED)
    payload, _, sig = token.rpartition(b".")
    if not payload or not sig:
        return ReceiptCheck(False, False, MALFORMED)
    secrets = _secrets(secret_or_secrets)
    if not secrets:
        return ReceiptCheck(False, False, NO_SECRET)
    # compare with every secret (no early exit), so timing says nothing about which one matched
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(_signature(secret, payload), sig)
    if not matched:
        # nothing of an unauthenticated payload is decoded: its shape alone says malformed or forged
        return ReceiptCheck(False, False, BAD_SIGNATURE if _well_formed(payload, sig) else MALFORMED)
    doc = _decode_payload(payload)
    if doc is None:
        return ReceiptCheck(False, False, MALFORMED)
    if doc.get("v") != PAYLOAD_VERSION or not isinstance(doc.get("d"), dict):
        return ReceiptCheck(False, False, UNSUPPORTED_VERSION, doc)
    if now is None:
        now = time.time()
    elif hasattr(now, "timestamp"):
        now = now.timestamp()
    exp = doc.get("exp")
    if not isinstance(exp, (int, float)) or exp <= now:
        return ReceiptCheck(False, False, EXPIRED, doc)
    if policy_version is not None and doc.get("pv") != policy_version:
        return ReceiptCheck(False, False, POLICY_SUPERSEDED, doc)
    if purpose is None:
        return ReceiptCheck(True, False, VALID, doc)
    if purpose not in doc["d"]:
        return ReceiptCheck(True, False, UNKNOWN_PURPOSE, doc)
    granted = doc["d"][purpose] is True
    return ReceiptCheck(True, granted, GRANTED if granted else REFUSED, doc)
