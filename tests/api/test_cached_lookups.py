"""What the request paths cache, seen through the API: a wrong key costs one lookup per TTL, and
every change made through the services is seen at once by the process that made it."""
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.conftest import IPS, from_ip, make_consent

ORIGIN = "https://shop.example"


@pytest.fixture
def cached(app, monkeypatch):
    """Production's caching: site snapshots, API keys, keyrings and subscriptions kept for a minute."""
    monkeypatch.setitem(app.config, "SITE_CACHE_SECONDS", 60)
    monkeypatch.setitem(app.config, "WEBHOOK_SUBSCRIPTION_CACHE_SECONDS", 60)


@contextmanager
def statements(app):
    """The SQL statements run through the app's engine meanwhile."""
    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        with app.app_context():
            sa.event.remove(db.engine, "before_cursor_execute", count)


def auth(api_key):
    return {"Authorization": f"Bearer {api_key}"}


def check(client, api_key, visitor_id="visitor-c-1"):
    return client.post("/api/v1/consent-checks", json={"visitor_id": visitor_id, "purpose": "analytics"},
                       headers=auth(api_key))


def test_an_unknown_site_key_is_looked_up_once_per_request_and_then_remembered(app, client, cached):
    body = make_consent("no-such-site")
    with statements(app) as seen:
        r = client.post("/api/v1/consents", json=body, headers=from_ip(IPS["DE"], Origin=ORIGIN))
    assert r.status_code == 404 and r.json["message"] == "No site with key 'no-such-site'."
    assert len(seen) == 1, seen  # the hot path's lookup; Flask's view, which answers the 404, reuses it
    with statements(app) as seen:
        assert client.post("/api/v1/consents", json=body, headers=from_ip(IPS["DE"], Origin=ORIGIN)).status_code == 404
        assert client.get("/api/v1/sites/no-such-site/config").status_code == 404
    assert seen == []


def test_an_unknown_api_key_is_looked_up_once_per_ttl(app, client, cached):
    wrong = "opsiq_sk_" + "x" * 43
    with statements(app) as seen:
        r = check(client, wrong)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert len(seen) == 1, seen
    with statements(app) as seen:
        assert [check(client, wrong).status_code for _ in range(3)] == [401] * 3
    assert seen == []


def test_a_site_made_after_its_key_was_asked_for_is_found_at_once(client, runner, cached, tmp_path):
    assert client.get("/api/v1/sites/later-site/config").status_code == 404  # remembered as unknown
    doc = tmp_path / "site.yaml"
    doc.write_text("site_key: later-site\nname: Later\norigins: [https://later.example]\n")
    assert runner.invoke(args=["sites", "import", str(doc)]).exit_code == 0
    assert client.get("/api/v1/sites/later-site/config").status_code == 200


def test_a_new_api_key_works_at_once_though_it_was_refused_before(client, runner, site, cached):
    site_key, _ = site
    r = runner.invoke(args=["keys", "create", site_key])
    assert r.exit_code == 0
    assert check(client, r.output.strip()).status_code == 200


def test_a_published_policy_is_seen_at_once(client, runner, site, cached):
    site_key, api_key = site
    r = client.post("/api/v1/consents", json=make_consent(site_key, visitor_id="visitor-c-1", method="accept_all"),
                    headers=from_ip(IPS["DE"], Origin=ORIGIN))
    assert r.status_code == 201
    assert check(client, api_key).json["reason"] == "granted"
    r = runner.invoke(args=["policy", "publish", site_key, "--version", "2", "--url", "https://shop.example/p2"])
    assert r.exit_code == 0, r.output
    assert check(client, api_key).json["reason"] == "policy_superseded"
    config = client.get(f"/api/v1/sites/{site_key}/config", headers=from_ip(IPS["DE"])).json
    assert config["policy"]["version"] == "2"


def test_a_rotated_receipt_key_signs_at_once(app, client, runner, site, cached):
    from opsiq_client.receipts import verify_receipt

    site_key, _ = site
    first = client.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(IPS["DE"], Origin=ORIGIN))
    assert runner.invoke(args=["keys", "rotate-receipt", site_key]).exit_code == 0
    second = client.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(IPS["DE"], Origin=ORIGIN))
    secrets = runner.invoke(args=["keys", "receipt-secrets", site_key]).output.split()
    assert verify_receipt(second.json["receipt"], secrets[-1:]).payload is not None
    assert verify_receipt(first.json["receipt"], secrets[-1:]).payload is None


def test_the_double_opt_in_default_is_seen_at_once(client, runner, site_ctx, cached):
    site_key, _, headers = site_ctx
    body = {"source": "https://shop.example/n", "wording": "News", "language": "en"}
    first = client.post("/api/v1/email-consents", json={"email": "a@example.com", **body}, headers=headers)
    assert first.json["double_opt_in"] is True
    assert runner.invoke(args=["email-consents", "double-opt-in", site_key, "off"]).exit_code == 0
    second = client.post("/api/v1/email-consents", json={"email": "b@example.com", **body}, headers=headers)
    assert second.json["double_opt_in"] is False


def test_a_new_webhook_endpoint_is_seen_at_once_by_the_write_path(app, client, site_ctx, receiver, cached):
    from app.models import WebhookEvent

    site_key, _, headers = site_ctx

    def write():
        r = client.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(IPS["DE"], Origin=ORIGIN))
        assert r.status_code == 201

    write()  # the site's subscriptions (none) are now cached
    hook = client.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["consent.recorded"]}, headers=headers)
    assert hook.status_code == 201
    write()
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(WebhookEvent)).scalar() == 1
    assert client.post(f"/api/v1/webhooks/{hook.json['id']}/disable", headers=headers).status_code == 200
    write()
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(WebhookEvent)).scalar() == 1
