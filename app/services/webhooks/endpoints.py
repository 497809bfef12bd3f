"""Webhook endpoints: subscribing a URL (checked against SSRF), disabling, rotating its secret, its deliveries."""
import base64
import datetime as dt
import secrets
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from app.errors import Invalid, NotFound
from app.extensions import caches, db
from app.models import WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow
from app.services import audit
from app.services.addresses import AddressRefused, resolve_public
from app.services.keyring import keyring

EVENT_TYPES = ("consent.recorded", "consent.withdrawn", "email_consent.confirmed", "email_consent.withdrawn",
               "identity.linked", "ledger.sealed", "subject.erased")
SECRET_PREFIX = "whsec_"
ROTATION_OVERLAP = dt.timedelta(hours=24)


class WebhookError(Invalid):
    """A webhook endpoint that cannot be used; `errors` names the fields."""


def allow_private(config: Mapping[str, Any] | None = None) -> bool:
    """Whether webhooks may go to private addresses: WEBHOOK_ALLOW_PRIVATE, else outside production only."""
    config = config if config is not None else current_app.config
    flag = config.get("WEBHOOK_ALLOW_PRIVATE")
    return config.get("OPSIQ_ENV") != "production" if flag is None else bool(flag)


def check_url(url: str, private_ok: bool) -> str | None:
    """Refuse URLs that are not http(s), or (unless `private_ok`) that resolve to a non-public address.
    Returns the address checked (None when private addresses are allowed): a delivery connects to
    exactly that one, so a name that resolves differently a moment later (DNS rebinding) changes nothing."""
    try:
        parts = urlsplit(url or "")
    except ValueError:  # an unbalanced [ or ] in the host, or characters NFKC turns into / ? # @ :
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("not an http(s) URL", {"url": ["must be an http(s) URL"]})
    try:
        port = parts.port
    except ValueError:
        raise WebhookError("no such port", {"url": ["the port must be a number from 1 to 65535"]}) from None
    if not private_ok and parts.scheme != "https":
        raise WebhookError("https only", {"url": ["must be https"]})
    if private_ok:
        return None
    try:
        return resolve_public(parts.hostname, port or 443)
    except AddressRefused as e:
        if e.reason == "unresolvable":
            raise WebhookError("unresolvable", {"url": ["the host does not resolve"]}) from None
        raise WebhookError("non-public address", {"url": ["resolves to a non-public address"]}) from None


def new_secret() -> str:
    """A new endpoint signing secret, `whsec_` and base64 as Standard Webhooks writes it."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def create_endpoint(site_id: int, url: str, events: list[str]) -> tuple[WebhookEndpoint, str]:
    """Subscribe a URL to event types. Returns (endpoint, secret); the secret is shown once."""
    bad = sorted(set(events) - set(EVENT_TYPES))
    if bad or not events:
        raise WebhookError("unknown event types", {"events": [f"choose from {', '.join(EVENT_TYPES)}"]})
    check_url(url, allow_private())
    secret = new_secret()
    ring = keyring(site_id)
    ep = WebhookEndpoint(endpoint_id="ep_" + uuid.uuid4().hex, site_id=site_id, url=url,
                         events=sorted(set(events)), secret_enc=ring.encrypt("webhook_secret", secret))
    db.session.add(ep)
    caches.changed("webhooks", site_id)
    audit.record("webhook.created", audit.Target("webhook", ep.endpoint_id), site_id,
                 {"events": ep.events, "host": urlsplit(url).hostname})  # not the URL: its query may hold a token
    db.session.commit()
    return ep, secret


def list_endpoints(site_id: int) -> Sequence[WebhookEndpoint]:
    """The site's endpoints, disabled ones too, oldest first."""
    return db.session.execute(
        db.select(WebhookEndpoint).where(WebhookEndpoint.site_id == site_id).order_by(WebhookEndpoint.id)
    ).scalars().all()


def get_endpoint(site_id: int, endpoint_id: str) -> WebhookEndpoint:
    """The site's endpoint with this id, or NotFound (another site's endpoints are not found either)."""
    ep = db.session.execute(db.select(WebhookEndpoint).where(
        WebhookEndpoint.site_id == site_id, WebhookEndpoint.endpoint_id == endpoint_id)).scalar_one_or_none()
    if ep is None:
        raise NotFound(f"No webhook {endpoint_id!r} on this site.")
    return ep


def disable_endpoint(ep: WebhookEndpoint, reason: str = "disabled by the site",
                     now: dt.datetime | None = None) -> WebhookEndpoint:
    """Stop sending to an endpoint. What it was still owed becomes dead letters (shown in its
    deliveries, replayable with `replay_dead`), rather than waiting for ever."""
    if ep.disabled_at is None:
        ep.disabled_at = now or utcnow()
        ep.disabled_reason = reason[:200]
    _bury_pending(ep)
    caches.changed("webhooks", ep.site_id)
    audit.record("webhook.disabled", audit.Target("webhook", ep.endpoint_id), ep.site_id,
                 {"reason": ep.disabled_reason})
    db.session.commit()
    return ep


def _bury_pending(ep: WebhookEndpoint) -> None:
    db.session.execute(
        sa.update(WebhookDelivery.__table__)
        .where(WebhookDelivery.endpoint_id == ep.id, WebhookDelivery.status == "pending")
        .values(status="dead", claim=None, last_error=f"endpoint disabled: {ep.disabled_reason}"[:300]))


def rotate_secret(ep: WebhookEndpoint, now: dt.datetime | None = None) -> tuple[WebhookEndpoint, str]:
    """A new signing secret; the previous one keeps signing beside it for ROTATION_OVERLAP."""
    now = now or utcnow()
    secret = new_secret()
    ring = keyring(ep.site_id)
    ep.previous_secret_enc = ep.secret_enc
    ep.previous_expires_at = now + ROTATION_OVERLAP
    ep.secret_enc = ring.encrypt("webhook_secret", secret)
    audit.record("secret.rotated", audit.Target("webhook", ep.endpoint_id), ep.site_id, {"secret": "webhook"})
    db.session.commit()  # no cache holds secrets: each delivery reads its endpoint's row
    return ep, secret


def recent_deliveries(ep: WebhookEndpoint, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
    """An endpoint's latest deliveries (of one status, e.g. `dead` for its dead letters), newest
    first, with their event and last attempt."""
    q = (db.select(WebhookDelivery, WebhookEvent.event_id, WebhookEvent.type)
         .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id).where(WebhookDelivery.endpoint_id == ep.id))
    if status is not None:
        q = q.where(WebhookDelivery.status == status)
    rows = db.session.execute(q.order_by(WebhookDelivery.id.desc()).limit(limit)).all()
    return [{"event_id": eid, "type": etype, "status": d.status, "attempts": d.attempts,
             "last_status": d.last_status, "last_error": d.last_error, "last_attempt_at": d.last_attempt_at,
             "next_attempt_at": d.next_attempt_at if d.status == "pending" else None,
             "delivered_at": d.delivered_at} for d, eid, etype in rows]
