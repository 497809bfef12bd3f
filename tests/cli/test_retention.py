"""`flask retention purge` and the worker's retention duty: a purge removes what is past its
retention, keeps every consent still in force, leaves a ledger that verifies, and says so once in
the audit log. Time passes through a fake clock (the retention service's `utcnow`)."""
import datetime as dt
import time

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry, ConsentRecord, EmailConsentState, Site, WebhookDelivery, WebhookEvent, utcnow
from app.services import retention
from tests.api.test_webhooks import deliver, subscribe
from tests.conftest import IPS, from_ip, make_consent
from tests.ledger.test_integrity import seal, verify


def write(client, site_key, visitor_id, **kw):
    r = client.post("/api/v1/consents", json=make_consent(site_key, visitor_id=visitor_id, **kw),
                    headers=from_ip(IPS["DE"], Origin="https://shop.example"))
    assert r.status_code == 201, r.json
    return r.json["record_id"]


def later(monkeypatch, days):
    """Move the purge's clock `days` ahead."""
    monkeypatch.setattr(retention, "utcnow", lambda: utcnow() + dt.timedelta(days=days))


def set_retention(app, site_key, days):
    with app.app_context():
        db.session.execute(sa.update(Site).where(Site.site_key == site_key).values(retention_days=days))
        db.session.commit()


def records(app):
    with app.app_context():
        rows = set(db.session.execute(sa.select(ConsentRecord.record_id)).scalars())
        db.session.remove()
    return rows


def purge_entries(app):
    with app.app_context():
        rows = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "retention.purged")
                                  .order_by(AuditEntry.id)).scalars().all()
        out = [(e.target_id, e.actor, dict(e.details)) for e in rows]
        db.session.remove()
    return out


@pytest.fixture
def history(app, client, runner, site):
    """Visitor a: an older decision and a later one; b: one decision; then one more not yet sealed."""
    site_key, _ = site
    set_retention(app, site_key, 30)
    ids = {"a_old": write(client, site_key, "visitor-a"), "b": write(client, site_key, "visitor-b")}
    ids["a_latest"] = write(client, site_key, "visitor-a", decisions={"analytics": False, "marketing": False})
    seal(runner, site_key)
    ids["c_unsealed"] = write(client, site_key, "visitor-c")  # decisions last 180 days
    return site_key, ids


def test_a_purge_keeps_every_consent_in_force_and_the_ledger_verifies(app, runner, history, monkeypatch):
    site_key, ids = history
    later(monkeypatch, 31)  # every record past 30 days' retention, every visitor's latest still in force
    r = runner.invoke(args=["retention", "purge", site_key])
    assert r.exit_code == 0, r.output
    assert records(app) == {ids["a_latest"], ids["b"], ids["c_unsealed"]}
    assert (f"{site_key}: purged 1 consent record(s) (3 kept in force, 0 not yet sealed: left for later)"
            in r.output), r.output
    v = verify(runner, site_key)
    assert v.exit_code == 0 and "1 purged" in v.output, v.output
    [(target, actor, details)] = purge_entries(app)
    assert target == site_key and actor.startswith("cli:")
    assert details["consent_records"] == 1 and details["consent_kept"] == 3 and details["retention_days"] == 30

    later(monkeypatch, 200)  # now every decision has expired: the sealed ones go, the unsealed one waits
    r = runner.invoke(args=["retention", "purge", site_key])
    assert r.exit_code == 0, r.output
    assert records(app) == {ids["c_unsealed"]}
    assert "purged 2 consent record(s) (0 kept in force, 1 not yet sealed: left for later)" in r.output, r.output
    assert verify(runner, site_key).exit_code == 0
    assert len(purge_entries(app)) == 2


def test_a_dry_run_counts_and_changes_nothing(app, runner, history, monkeypatch):
    site_key, _ = history
    later(monkeypatch, 31)
    before = records(app)
    r = runner.invoke(args=["retention", "purge", site_key, "--dry-run"])
    assert r.exit_code == 0, r.output
    assert f"{site_key}: would purge 1 consent record(s) (3 kept in force" in r.output, r.output
    assert records(app) == before and purge_entries(app) == []


def test_deliveries_events_confirmations_and_audit_entries_past_retention_go(app, client, runner, site_ctx, receiver,
                                                                             monkeypatch):
    site_key, _, auth = site_ctx
    subscribe(client, auth, receiver.url, ["consent.recorded"])
    write(client, site_key, "visitor-d")
    deliver(app)
    pending = client.post("/api/v1/email-consents", headers=auth, json={
        "email": "ann@example.com", "source": "https://shop.example/n", "wording": "Mail me.", "language": "en"})
    assert pending.status_code in (200, 201) and pending.json["status"] == "pending", pending.json
    # audit entries go once sealed, like consent records
    assert runner.invoke(args=["ledger", "seal", site_key, "--lag", "0"]).exit_code == 0
    app.config["AUDIT_RETENTION_DAYS"] = 20
    try:
        later(monkeypatch, 31)
        dry = runner.invoke(args=["retention", "purge", site_key, "--dry-run"])
        r = runner.invoke(args=["retention", "purge", site_key])
    finally:
        app.config["AUDIT_RETENTION_DAYS"] = 365
    assert r.exit_code == 0, r.output
    expected = "1 webhook deliveries, 1 webhook events, 1 expired email confirmation(s), "
    assert expected in dry.output and expected in r.output, (dry.output, r.output)
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(WebhookDelivery)).scalar() == 0
        assert db.session.execute(sa.select(sa.func.count()).select_from(WebhookEvent)).scalar() == 0
        assert db.session.execute(sa.select(sa.func.count()).select_from(EmailConsentState)).scalar() == 0
        # only the purge's own entry is left of the site's log
        assert db.session.execute(sa.select(AuditEntry.action).where(AuditEntry.site_id.isnot(None))).scalars().all() \
            == ["retention.purged"]
    # the purge of the sealed audit entries is a lawful deletion the audit chain vouches for
    r = runner.invoke(args=["ledger", "verify", site_key])
    assert r.exit_code == 0 and f"{site_key} audit chain: OK" in r.output and " deleted)" in r.output, r.output


def test_the_worker_runs_the_purge(app, runner, history, monkeypatch):
    site_key, ids = history
    later(monkeypatch, 31)
    start = time.perf_counter()
    r = runner.invoke(args=["worker", "--once"])
    assert r.exit_code == 0, r.output
    assert "retention: 1" in r.output, r.output
    assert records(app) == {ids["a_latest"], ids["b"], ids["c_unsealed"]}
    [(target, actor, _)] = purge_entries(app)
    assert target == site_key and actor == "system"
    assert verify(runner, site_key).exit_code == 0
    assert time.perf_counter() - start < 60


@pytest.mark.skipif("postgresql" not in __import__("os").environ.get("TEST_DATABASE_URL", ""),
                    reason="the purge lock is PostgreSQL's (run with TEST_DATABASE_URL)")
def test_a_site_another_purge_holds_is_left_to_it(app, runner, history, monkeypatch):
    site_key, ids = history
    later(monkeypatch, 31)
    with app.app_context():
        sid = db.session.execute(sa.select(Site.id).where(Site.site_key == site_key)).scalar_one()
        other = db.engine.connect()  # another process's purge, holding the site's lock
        assert other.execute(sa.text("SELECT pg_try_advisory_lock(:ns, :site)"),
                             {"ns": retention.PURGE_LOCK, "site": sid}).scalar()
    try:
        r = runner.invoke(args=["retention", "purge", site_key])
        assert r.exit_code == 1 and f"{site_key}: skipped: another purge of this site is running" in r.output, r.output
        assert ids["a_old"] in records(app)  # nothing went
        r = runner.invoke(args=["worker", "--once"])  # the worker leaves it too, and does its other duties
        assert r.exit_code == 0 and ids["a_old"] in records(app), r.output
    finally:
        other.execute(sa.text("SELECT pg_advisory_unlock_all()"))
        other.close()
    r = runner.invoke(args=["retention", "purge", site_key])  # once free, it goes
    assert r.exit_code == 0 and ids["a_old"] not in records(app), r.output
