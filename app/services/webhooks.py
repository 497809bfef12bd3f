"""Webhooks: endpoints, the outbox, Standard Webhooks 1.0 signatures and the delivery worker.

An event is written to the outbox (`webhook_events`, plus one `webhook_deliveries` row per
subscribed endpoint) in the same transaction as the change it describes, so a change is never
committed without its event. The worker claims due deliveries (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, and a conditional update everywhere so two workers never claim the same row), posts
them, and retries with exponential backoff and jitter for WEBHOOK_RETRY_HOURS before keeping them
as dead letters. Receivers de-duplicate on `webhook-id`, which is the event id on every attempt.
"""
import base64
import datetime as dt
import hashlib
import hmac
import http.client
import ipaddress
import json
import random
import secrets
import socket
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.errors import Invalid, NotFound
from app.extensions import caches, db
from app.models import WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow
from app.services.keyring import keyring

if TYPE_CHECKING:
    from app.services.keyring import Keyring

EVENT_TYPES = ("consent.recorded", "consent.withdrawn", "email_consent.confirmed", "email_consent.withdrawn",
               "identity.linked")
SECRET_PREFIX = "whsec_"
ROTATION_OVERLAP = dt.timedelta(hours=24)
BACKOFF_BASE = 30  # seconds before the first retry; doubles each time
BACKOFF_CAP = 6 * 3600
CLAIM_LEASE = dt.timedelta(minutes=2)  # a claimed delivery is due again if its worker dies


class WebhookError(Invalid):
    """A webhook endpoint that cannot be used; `errors` names the fields."""


# --- endpoints ------------------------------------------------------------------------------

def allow_private(config: Mapping[str, Any] | None = None) -> bool:
    """Whether webhooks may go to private addresses: WEBHOOK_ALLOW_PRIVATE, else outside production only."""
    config = config if config is not None else current_app.config
    flag = config.get("WEBHOOK_ALLOW_PRIVATE")
    return config.get("OPSIQ_ENV") != "production" if flag is None else bool(flag)


def check_url(url: str, private_ok: bool) -> str | None:
    """Refuse URLs that are not http(s), or (unless `private_ok`) that resolve to a non-public address.
    Returns the address checked (None when private addresses are allowed): a delivery connects to
    exactly that one, so a name that resolves differently a moment later (DNS rebinding) changes nothing."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("not an http(s) URL", {"url": ["must be an http(s) URL"]})
    if not private_ok and parts.scheme != "https":
        raise WebhookError("https only", {"url": ["must be https"]})
    if private_ok:
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise WebhookError("unresolvable", {"url": ["the host does not resolve"]}) from None
    for info in infos:
        addr = ipaddress.ip_address(info[4][0].split("%")[0])
        if not addr.is_global or addr.is_multicast:
            raise WebhookError("non-public address", {"url": [f"resolves to a non-public address ({addr})"]})
    return infos[0][4][0] if infos else None


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
    db.session.commit()  # no cache holds secrets: each delivery reads its endpoint's row
    return ep, secret


def recent_deliveries(ep: WebhookEndpoint, limit: int = 50) -> list[dict[str, Any]]:
    """An endpoint's latest deliveries, newest first, with their event and last attempt."""
    rows = db.session.execute(
        db.select(WebhookDelivery, WebhookEvent.event_id, WebhookEvent.type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == ep.id).order_by(WebhookDelivery.id.desc()).limit(limit)
    ).all()
    return [{"event_id": eid, "type": etype, "status": d.status, "attempts": d.attempts,
             "last_status": d.last_status, "last_error": d.last_error, "last_attempt_at": d.last_attempt_at,
             "next_attempt_at": d.next_attempt_at if d.status == "pending" else None,
             "delivered_at": d.delivered_at} for d, eid, etype in rows]


# --- the outbox -----------------------------------------------------------------------------

def subscriptions(site_id: int) -> dict[str, tuple[int, ...]]:
    """{event type: (endpoint row ids)} for a site's active endpoints, cached per process for
    WEBHOOK_SUBSCRIPTION_CACHE_SECONDS.

    The consent write path asks this on every record; a site with no endpoints costs a dict lookup.
    """
    max_age = current_app.config["WEBHOOK_SUBSCRIPTION_CACHE_SECONDS"]
    return caches.webhooks.get(site_id, max_age, _load_subscriptions, site_id)


def _load_subscriptions(site_id: int) -> dict[str, tuple[int, ...]]:
    rows = db.session.execute(
        db.select(WebhookEndpoint.id, WebhookEndpoint.events)
        .where(WebhookEndpoint.site_id == site_id, WebhookEndpoint.disabled_at.is_(None))
    ).all()
    by_type = {}
    for ep_id, events in rows:
        for t in events:
            by_type.setdefault(t, []).append(ep_id)
    return {t: tuple(ids) for t, ids in by_type.items()}


def enqueue(site_id: int, event_type: str, data: dict[str, Any], sealed: Mapping[str, str] | None = None,
            now: dt.datetime | None = None) -> str | None:
    """Add an event to the outbox in the caller's transaction (no commit). Returns its id or None.

    `sealed` holds personal fields (an email address): stored encrypted, merged into `data` only
    when the delivery is sent.
    """
    endpoint_ids = subscriptions(site_id).get(event_type)
    if not endpoint_ids:
        return None
    sealed_data = keyring(site_id).encrypt("webhook_event", json.dumps(sealed)) if sealed else None
    return add_to_outbox(db.session, site_id, event_type, data, endpoint_ids, now or utcnow(), sealed_data)


def new_event_id() -> str:
    """The id of a new outbox event: receivers de-duplicate on it (`webhook-id`)."""
    return "msg_" + uuid.uuid4().hex


def add_to_outbox(conn: sa.Connection | Session, site_id: int, event_type: str, data: dict,
                  endpoint_ids: Sequence[int], now: dt.datetime, sealed_data: str | None = None) -> str:
    """An outbox event and a pending delivery per endpoint, in the transaction of `conn` (a session or
    a Core connection). Returns the event's id."""
    event_id = new_event_id()
    row = conn.execute(sa.insert(WebhookEvent.__table__).values(
        event_id=event_id, site_id=site_id, type=event_type, data=data, sealed_data=sealed_data,
        created_at=now).returning(WebhookEvent.__table__.c.id)).scalar_one()
    conn.execute(sa.insert(WebhookDelivery.__table__), [
        {"event_id": row, "endpoint_id": ep, "status": "pending", "attempts": 0, "next_attempt_at": now,
         "retry_from": now} for ep in endpoint_ids])
    return event_id


# --- signing (Standard Webhooks 1.0) -------------------------------------------------------

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


# --- the worker ------------------------------------------------------------------------------

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
