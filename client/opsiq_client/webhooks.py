"""Verify an OpsIQ webhook (Standard Webhooks 1.0) with the standard library only.

    from opsiq_client.webhooks import verify_webhook, WebhookVerificationError

    event = verify_webhook(request.headers, request.get_data(), "whsec_...")  # raises if not genuine
    if seen(event_id := request.headers["webhook-id"]): return 200           # retries repeat the id

The signature is `v1,<base64 HMAC-SHA256>` of `{webhook-id}.{webhook-timestamp}.{raw body}`, keyed
with the base64-decoded part of the `whsec_` secret. During a secret rotation the header carries
several signatures separated by spaces; any one matching is enough.
"""
import base64
import hashlib
import hmac
import json
import time


class WebhookVerificationError(ValueError):
    """The delivery is not genuine, or too old or too new to accept."""


def _header(headers, name):
    getter = getattr(headers, "get", None)
    value = getter(name) if getter else None
    if value is None and hasattr(headers, "items"):
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    if not value:
        raise WebhookVerificationError(f"missing header {name}")
    return value


def verify_webhook(headers, body, secret, tolerance=300, now=None):
    """The parsed event if `body` was signed with `secret` within `tolerance` seconds; else raises."""
    msg_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    try:
        ts = int(timestamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a number") from None
    now = time.time() if now is None else now
    if abs(now - ts) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance")
    if isinstance(body, str):
        body = body.encode()
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    for item in signatures.split(" "):
        version, _, sig = item.partition(",")
        if version == "v1" and hmac.compare_digest(sig, expected):
            return json.loads(body)
    raise WebhookVerificationError("no matching signature")
