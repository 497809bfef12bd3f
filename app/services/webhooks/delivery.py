"""The delivery worker (`flask webhooks work`): claims due deliveries (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, and a conditional update everywhere so two workers never claim the same row), posts
them to the address the SSRF check passed, and retries with exponential backoff and jitter for
WEBHOOK_RETRY_HOURS before keeping them as dead letters. Receivers de-duplicate on `webhook-id`,
which is the event id on every attempt."""
import datetime as dt
import http.client
import random
import socket
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow
from app.services import audit
from app.services.keyring import keyring
from app.services.webhooks.endpoints import WebhookError, allow_private, check_url, disable_endpoint
from app.services.webhooks.signing import endpoint_secrets, event_body, signature_header

BACKOFF_BASE = 30  # seconds before the first retry; doubles each time
BACKOFF_CAP = 6 * 3600
CLAIM_LEASE = dt.timedelta(minutes=2)  # a claimed delivery is due again if its worker dies


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is a failed delivery: following it could reach an address the URL check refused."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> urllib.request.Request | None:
        """Follow no redirect (see the class)."""
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a host name, over a TCP connection to an address already checked: the certificate
    and SNI are still the name's."""

    def __init__(self, host: str, address: str, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self.address = address

    def connect(self) -> None:
        """Open the TLS connection to the checked address, verified against the host name."""
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float, address: str | None = None) -> int:
    """POST and return the status code (an HTTP error's code too); raises OSError on no answer.
    With `address` (from check_url), an https URL is sent to that address and no other."""
    parts = urlsplit(url)
    if address is not None and parts.scheme == "https":
        conn = _PinnedHTTPSConnection(parts.hostname, address, port=parts.port or 443, timeout=timeout,
                                      context=ssl.create_default_context())
        try:
            conn.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body, headers)
            return conn.getresponse().status  # a redirect is a failed delivery, as below
        finally:
            conn.close()
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with _opener.open(req, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def backoff(attempts: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds before the next try after `attempts` failures: doubling from 30 s, capped at 6 h, ±25 % jitter."""
    base = min(BACKOFF_BASE * 2 ** (attempts - 1), BACKOFF_CAP)
    return base * (0.75 + rand() / 2)


def claim_due(now: dt.datetime, limit: int) -> Sequence[int]:
    """Claim up to `limit` due deliveries for this worker; returns their row ids. Commits the claim."""
    token = str(uuid.uuid4())
    active = sa.select(WebhookEndpoint.id).where(WebhookEndpoint.disabled_at.is_(None))
    q = (sa.select(WebhookDelivery.id)
         .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
                WebhookDelivery.endpoint_id.in_(active))
         .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit))
    if db.engine.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True, of=WebhookDelivery.__table__)
    ids = db.session.execute(q).scalars().all()
    if not ids:
        db.session.rollback()
        return []
    # conditional, so a second worker that read the same rows (SQLite) claims none of them
    db.session.execute(
        sa.update(WebhookDelivery.__table__)
        .where(WebhookDelivery.id.in_(ids), WebhookDelivery.status == "pending",
               WebhookDelivery.next_attempt_at <= now)
        .values(claim=token, next_attempt_at=now + CLAIM_LEASE))
    db.session.commit()
    return db.session.execute(sa.select(WebhookDelivery.id).where(WebhookDelivery.claim == token)).scalars().all()


def deliver_due(now: dt.datetime | None = None, limit: int = 100,
                rand: Callable[[], float] = random.random) -> dict[str, int]:
    """Send every due delivery once (up to `limit`); returns {"delivered", "failed", "dead"} counts."""
    now = now or utcnow()
    cfg = current_app.config
    counts = {"delivered": 0, "failed": 0, "dead": 0}
    for delivery_id in claim_due(now, limit):
        d = db.session.get(WebhookDelivery, delivery_id)
        event = db.session.get(WebhookEvent, d.event_id)
        ep = db.session.get(WebhookEndpoint, d.endpoint_id)
        ring = keyring(ep.site_id)
        body = event_body(event, ring)
        ts = str(int(now.timestamp()))
        headers = {
            "content-type": "application/json", "user-agent": "OpsIQ-Consent-Webhooks/1",
            "webhook-id": event.event_id, "webhook-timestamp": ts,
            "webhook-signature": signature_header(endpoint_secrets(ep, ring, now), event.event_id, ts, body),
        }
        status, error = None, None
        try:
            # again at send time (DNS may have changed since creation), and the send goes to what was checked
            address = None if allow_private(cfg) else check_url(ep.url, False)
            status = post(ep.url, body, headers, cfg["WEBHOOK_TIMEOUT"], address)
        except WebhookError as e:
            error = str(e.errors["url"][0])
        except (OSError, ValueError) as e:
            error = f"{type(e).__name__}: {e}"[:300]
        d.attempts += 1
        d.last_attempt_at = now
        d.last_status = status
        d.last_error = error
        d.claim = None
        if status is not None and 200 <= status < 300:
            d.status, d.delivered_at = "delivered", now
            counts["delivered"] += 1
        else:
            if status == 410:  # the receiver is gone: this delivery and the rest it was owed are dead
                d.status = "dead"
                counts["dead"] += 1
                db.session.flush()
                disable_endpoint(ep, "the receiver answered 410 Gone", now)
                continue
            if now - d.retry_from >= dt.timedelta(hours=cfg["WEBHOOK_RETRY_HOURS"]):
                d.status = "dead"
                counts["dead"] += 1
            else:
                d.next_attempt_at = now + dt.timedelta(seconds=backoff(d.attempts, rand))
                counts["failed"] += 1
        db.session.commit()
    return counts


def replay_dead(site_id: int | None = None, endpoint_id: str | None = None, now: dt.datetime | None = None) -> int:
    """Put dead letters back in the queue, due now, with a fresh retry window. Returns how many."""
    now = now or utcnow()
    q = sa.update(WebhookDelivery.__table__).where(WebhookDelivery.status == "dead")
    if endpoint_id:
        q = q.where(WebhookDelivery.endpoint_id.in_(
            sa.select(WebhookEndpoint.id).where(WebhookEndpoint.endpoint_id == endpoint_id)))
    if site_id:
        q = q.where(WebhookDelivery.endpoint_id.in_(
            sa.select(WebhookEndpoint.id).where(WebhookEndpoint.site_id == site_id)))
    n = db.session.execute(q.values(status="pending", next_attempt_at=now, retry_from=now)).rowcount
    audit.record("webhook.replayed", audit.Target("webhook", endpoint_id) if endpoint_id else audit.Target(
        "installation" if site_id is None else "site", None), site_id, {"queued": n})
    db.session.commit()
    return n


def work(once: bool = False, limit: int = 100, idle: float = 1.0, log: Callable[[str], None] = print) -> None:
    """Deliver until stopped (or, with `once`, until nothing is due)."""
    while True:
        counts = deliver_due(limit=limit)
        if any(counts.values()):
            log(f"webhooks: {counts['delivered']} delivered, {counts['failed']} to retry, {counts['dead']} dead")
        if sum(counts.values()) < limit:
            if once:
                return
            db.session.remove()
            time.sleep(idle)
