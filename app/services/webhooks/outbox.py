"""The webhook outbox: an event and one delivery per subscribed endpoint, written in the same
transaction as the change it describes, so a change is never committed without its event. Which
endpoints a site has is cached per app (app/cache.py): the consent write asks on every record."""
import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.extensions import caches, db
from app.models import WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow
from app.services.keyring import keyring


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
