"""Webhooks: Standard Webhooks signatures, the outbox, retries, dead letters, SSRF."""
import datetime as dt
import os
import socket
import threading

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from app.extensions import db
from app.models import WebhookDelivery, WebhookEvent, utcnow
from app.services.webhooks.delivery import backoff, deliver_due
from app.services.webhooks.endpoints import EVENT_TYPES, new_secret
from tests.conftest import IPS, from_ip, make_consent

ORIGIN = "https://shop.example"
ALL = list(EVENT_TYPES)


def subscribe(client, auth, url, events=ALL):
    r = client.post("/api/v1/webhooks", json={"url": url, "events": events}, headers=auth)
    assert r.status_code == 201, r.json
    return r.json


def record(client, site_key, **kw):
    r = client.post("/api/v1/consents", json=make_consent(site_key, **kw), headers=from_ip(IPS["DE"], Origin=ORIGIN))
    assert r.status_code == 201, r.json
    return r.json


def deliver(app, now=None, limit=100):
    with app.app_context():
        return deliver_due(now=now, limit=limit, rand=lambda: 0.5)


def outbox(app):
    with app.app_context():
        return db.session.execute(sa.select(WebhookEvent.event_id, WebhookEvent.type)).all()


def pending(app):
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(WebhookDelivery)
                                  .where(WebhookDelivery.status == "pending")).scalar()


def test_deliveries_are_signed_per_standard_webhooks(app, client, site_ctx, receiver):
    site_key, _, auth = site_ctx
    hook = subscribe(client, auth, receiver.url)
    assert hook["secret"].startswith("whsec_") and hook["id"].startswith("ep_")
    listed = client.get("/api/v1/webhooks", headers=auth).json["webhooks"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]

    rec = record(client, site_key)
    assert deliver(app)["delivered"] == 1
    [(headers, body)] = receiver.received
    # the reference library accepts it
    payload = Webhook(hook["secret"]).verify(body, headers)
    assert payload["type"] == "consent.recorded" and payload["data"]["record_id"] == rec["record_id"]
    assert headers["webhook-id"].startswith("msg_") and headers["webhook-signature"].startswith("v1,")
    # and our client library too
    from opsiq_client.webhooks import verify_webhook

    assert verify_webhook(headers, body, hook["secret"])["data"]["record_id"] == rec["record_id"]
    deliveries = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=auth).json["deliveries"]
    assert deliveries[0]["status"] == "delivered" and deliveries[0]["attempts"] == 1


def test_no_subscription_no_outbox_rows(app, client, site_ctx, receiver):
    site_key, _, auth = site_ctx
    record(client, site_key)
    hook = subscribe(client, auth, receiver.url, ["email_consent.withdrawn"])
    record(client, site_key)
    assert outbox(app) == []
    client.post(f"/api/v1/webhooks/{hook['id']}/disable", headers=auth)
    client.post("/api/v1/email-consents/withdraw", json={"email": "a@example.com"}, headers=auth)
    assert outbox(app) == []


def test_outbox_survives_an_outage_nothing_lost_or_twice(app, client, runner, site_ctx, receiver):
    site_key, _, auth = site_ctx
    subscribe(client, auth, receiver.url)
    receiver.outage = True
    for i in range(4):
        record(client, site_key, visitor_id=f"visitor-{i:04d}", decisions={"analytics": True, "marketing": False})
    record(client, site_key, visitor_id="visitor-0000", method="reject_all", decisions={})  # a withdrawal
    client.post("/api/v1/identities", json={"visitor_id": "visitor-0001", "email": "jane@example.com"}, headers=auth)
    out = client.post("/api/v1/email-consents", json={"email": "jane@example.com", "source": "form", "wording": "w",
                                                      "language": "en", "double_opt_in": False}, headers=auth).json
    client.post("/api/v1/email-consents/withdraw", json={"email": "jane@example.com"}, headers=auth)
    assert runner.invoke(args=["ledger", "seal", site_key, "--lag", "0"]).exit_code == 0  # ledger.sealed
    r = client.post("/api/v1/subjects/erase", json={"visitor_id": "visitor-0003"}, headers=auth)  # subject.erased
    assert r.status_code == 200, r.json
    events = dict(outbox(app))
    assert sorted(set(events.values())) == sorted(ALL)

    now = utcnow()
    assert deliver(app, now)["failed"] == len(events)  # receiver down: all kept for later
    assert deliver(app, now)["failed"] == 0  # nothing due again before the backoff
    receiver.outage = False
    receiver.fail_after_storing = 3  # it stores three, then answers 500: those come again
    t = now
    for _ in range(10):
        t += dt.timedelta(hours=1)
        deliver(app, t)
        if not pending(app):
            break
    assert pending(app) == 0
    unique = receiver.unique_events()
    assert set(unique) == set(events)  # none lost
    assert len(receiver.received) == len(events) + 3  # only the three unacknowledged ones came twice
    assert {e["type"] for e in unique.values()} == set(ALL)
    # personal fields reach the receiver, not the outbox table
    assert any(e["data"].get("email") == "jane@example.com" for e in unique.values())
    assert "jane" not in out["unsubscribe_url"]


def test_retries_for_a_day_then_dead_letters_and_replay(app, client, runner, site_ctx, receiver):
    site_key, _, auth = site_ctx
    hook = subscribe(client, auth, receiver.url)
    receiver.outage = True
    record(client, site_key)
    t = utcnow()
    attempts = 0
    while pending(app) and attempts < 100:
        deliver(app, t)
        attempts += 1
        with app.app_context():
            t = db.session.execute(sa.select(WebhookDelivery.next_attempt_at)).scalar()
    with app.app_context():
        d = db.session.execute(sa.select(WebhookDelivery)).scalar_one()
        assert d.status == "dead" and d.last_attempt_at - d.retry_from >= dt.timedelta(hours=24)
    assert 8 <= attempts <= 20
    receiver.outage = False
    r = runner.invoke(args=["webhooks", "replay"])
    assert "queued 1" in r.output
    r = runner.invoke(args=["webhooks", "work", "--once"])
    assert r.exit_code == 0 and "1 delivered" in r.output, r.output
    assert len(receiver.unique_events()) == 1
    assert client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=auth).json["deliveries"][0]["attempts"] > 8


def test_backoff_doubles_with_jitter():
    assert backoff(1, lambda: 0.5) == 30 and backoff(2, lambda: 0.5) == 60
    assert backoff(30, lambda: 0.5) == 6 * 3600
    assert 22.5 <= backoff(1, lambda: 0.0) < backoff(1, lambda: 0.99) <= 37.5


def test_410_gone_disables_the_endpoint(app, client, site_ctx, receiver):
    site_key, _, auth = site_ctx
    hook = subscribe(client, auth, receiver.url)
    receiver.answer = 410
    record(client, site_key)
    record(client, site_key)
    with app.app_context():
        deliver_due(limit=1)  # the first answer is 410
    [listed] = client.get("/api/v1/webhooks", headers=auth).json["webhooks"]
    assert listed["disabled_at"] and "410" in listed["disabled_reason"]
    record(client, site_key)
    assert len(outbox(app)) == 2  # a disabled endpoint gets no new events
    # and what it was still owed is dead, not pending for ever
    assert pending(app) == 0
    deliveries = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=auth).json["deliveries"]
    assert [d["status"] for d in deliveries] == ["dead", "dead"]
    assert "endpoint disabled: the receiver answered 410 Gone" in deliveries[0]["last_error"]


def test_disabling_an_endpoint_turns_what_it_was_owed_into_dead_letters(app, client, site_ctx, receiver):
    site_key, _, auth = site_ctx
    hook = subscribe(client, auth, receiver.url)
    receiver.outage = True
    record(client, site_key)
    record(client, site_key)
    assert pending(app) == 2
    assert client.post(f"/api/v1/webhooks/{hook['id']}/disable", headers=auth).status_code == 200
    assert pending(app) == 0
    deliveries = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=auth).json["deliveries"]
    assert [d["status"] for d in deliveries] == ["dead", "dead"]
    assert all(d["last_error"] == "endpoint disabled: disabled by the site" for d in deliveries)


def test_rotation_sends_both_signatures(app, client, site_ctx, receiver):
    site_key, _, auth = site_ctx
    hook = subscribe(client, auth, receiver.url)
    r = client.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret", headers=auth)
    assert r.status_code == 200 and r.json["secret"] != hook["secret"]
    record(client, site_key)
    deliver(app)
    [(headers, body)] = receiver.received
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (hook["secret"], r.json["secret"]):
        Webhook(secret).verify(body, headers)
    with pytest.raises(Exception):
        Webhook(new_secret()).verify(body, headers)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "https://10.0.0.1/x", "https://169.254.169.254/latest",
                                 "https://localhost/x", "https://[::1]/x", "ftp://example.com/x"])
def test_private_addresses_refused_in_production(app, client, site_ctx, monkeypatch, url):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    r = client.post("/api/v1/webhooks", json={"url": url, "events": ["consent.recorded"]}, headers=site_ctx[2])
    assert r.status_code == 422 and "url" in r.json["errors"]


@pytest.mark.parametrize("resolved", ["64:ff9b::a9fe:a9fe", "::127.0.0.1", "2002:a9fe:a9fe::1", "::ffff:10.0.0.1",
                                      "64:ff9b:1::c0a8:1"])
def test_an_ipv6_address_carrying_a_private_ipv4_one_is_refused_without_naming_it(app, client, site_ctx, monkeypatch,
                                                                                  resolved):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    monkeypatch.setattr(socket, "getaddrinfo",
                        lambda host, port, *a, **k: [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (resolved, port, 0, 0))])
    r = client.post("/api/v1/webhooks", json={"url": "https://hooks.example/x", "events": ["consent.recorded"]},
                    headers=site_ctx[2])
    assert r.status_code == 422 and r.json["errors"]["url"] == ["resolves to a non-public address"]
    assert resolved not in r.get_data(as_text=True)  # an internal address is never echoed


def test_a_delivery_connects_to_the_address_it_checked_not_a_rebound_one(app, client, site_ctx, monkeypatch):
    """DNS rebinding: the name resolves to a public address when checked, then to 127.0.0.1.
    The delivery connects to the address that passed the check, and resolves the name once."""

    site_key, _, auth = site_ctx
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    answers = iter(["93.184.216.34", "1.1.1.1", "127.0.0.1", "127.0.0.1"])  # creation, send, rebound...
    resolved = []

    def fake_getaddrinfo(host, port, *args, **kwargs):
        resolved.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    connected = []

    def fake_create_connection(address, timeout=None, *args, **kwargs):
        connected.append(address)
        raise ConnectionRefusedError("no network in the test")

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", fake_create_connection)
    r = client.post("/api/v1/webhooks", json={"url": "https://hooks.example/consent", "events": ["consent.recorded"]},
                    headers=auth)
    assert r.status_code == 201, r.json
    record(client, site_key)
    with app.app_context():
        assert deliver_due()["failed"] == 1
    assert resolved == ["hooks.example", "hooks.example"]  # at creation and once at send time
    assert connected == [("1.1.1.1", 443)]  # the checked address, never a second lookup's


def test_unknown_event_type_refused(client, site_ctx, receiver):
    r = client.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["consent.eaten"]}, headers=site_ctx[2])
    assert r.status_code == 422


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="concurrent workers need PostgreSQL")
def test_concurrent_workers_never_send_twice(app, client, site_ctx, receiver):
    site_key, _, auth = site_ctx
    subscribe(client, auth, receiver.url, ["consent.recorded"])
    for i in range(40):
        record(client, site_key, visitor_id=f"visitor-{i:04d}")
    errors = []

    def work():
        try:
            with app.app_context():
                while sum(deliver_due(limit=5).values()):
                    pass
                db.session.remove()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(receiver.received) == 40 and len(receiver.unique_events()) == 40
