"""Standard Webhooks 1.0 signatures: `v1,<base64 HMAC-SHA256>` over `{id}.{timestamp}.{body}`."""
import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from app.models import WebhookEndpoint, WebhookEvent
from app.services.webhooks.endpoints import SECRET_PREFIX

if TYPE_CHECKING:
    from app.services.keyring import Keyring


def secret_bytes(secret: str) -> bytes:
    """The HMAC key a `whsec_` secret stands for."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` over `{id}.{timestamp}.{body}`, keyed with the decoded secret."""
    mac = hmac.new(secret_bytes(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signature_header(secrets_: Iterable[str], msg_id: str, timestamp: str, body: bytes) -> str:
    """The `webhook-signature` header: one signature per secret in use, so a rotation breaks no receiver."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets_)


def event_body(event: WebhookEvent, ring: "Keyring") -> bytes:
    """The JSON body of an event: {"type", "timestamp", "data"}, identical on every attempt."""
    data = dict(event.data)
    if event.sealed_data:
        data.update(json.loads(ring.decrypt("webhook_event", event.sealed_data)))
    doc = {"type": event.type, "timestamp": event.created_at.isoformat(), "data": data}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def endpoint_secrets(ep: WebhookEndpoint, ring: "Keyring", now: dt.datetime) -> list[str]:
    """The secrets that sign an endpoint's deliveries at `now`: its own, and the previous one until it expires."""
    out = [ring.decrypt("webhook_secret", ep.secret_enc)]
    if ep.previous_secret_enc and ep.previous_expires_at and ep.previous_expires_at > now:
        out.append(ring.decrypt("webhook_secret", ep.previous_secret_enc))
    return out
