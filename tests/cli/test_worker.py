"""`flask worker`: every periodic duty in one process: webhook deliveries and ledger sealing, a
failing duty never stopping the others, several workers never doing the same work twice, and
SIGTERM ending it after the round in progress."""
import re
import signal
import subprocess
import sys
import time

import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import ConsentRecord, LedgerSeal, WebhookDelivery
from tests.api.test_webhooks import record, subscribe
from tests.servers import ROOT, production_env


def sealed_and_delivered(app):
    with app.app_context():
        sealed = db.session.execute(sa.select(sa.func.coalesce(sa.func.sum(LedgerSeal.record_count), 0))).scalar()
        delivered = db.session.execute(sa.select(sa.func.count()).where(WebhookDelivery.status == "delivered")).scalar()
        records = db.session.execute(sa.select(sa.func.count(ConsentRecord.id))).scalar()
        db.session.remove()
    return sealed, delivered, records


def test_once_delivers_what_is_due_and_seals_every_site(app, client, runner, site_ctx, make_site, receiver):
    site_key, _, auth = site_ctx
    subscribe(client, auth, receiver.url)
    other, _ = make_site(name="Other")
    for _ in range(3):
        record(client, site_key)
    record(client, other)
    app.config["LEDGER_SEAL_LAG"] = 0  # read when the worker starts
    try:
        r = runner.invoke(args=["worker", "--once"])
    finally:
        app.config["LEDGER_SEAL_LAG"] = 5
    assert r.exit_code == 0, r.output
    # the three decisions' events, then the seals' own ledger.sealed events (the consent records', the
    # audit chain's: the subscription was an audited change, and the proof chain's: the `proof` duty
    # built the pack site creation requested, and audited it, so the audit chain is sealed again)
    assert "webhooks: 3" in r.output and "webhooks: 2" in r.output, r.output
    assert int(re.search(r"ledger seal: (\d+)", r.output).group(1)) > 4, r.output  # 4 records and the audit entries
    assert "proof: 2" in r.output, r.output  # both sites' version 1
    assert sealed_and_delivered(app) == (4, 7, 4)
    events = receiver.unique_events().values()
    assert sorted(e["type"] for e in events) == ["consent.recorded"] * 3 + ["ledger.sealed"] * 4
    assert sorted(e["data"]["chain"] for e in events if e["type"] == "ledger.sealed") == ["audit", "audit", "consent",
                                                                                          "proof"]
    r = runner.invoke(args=["worker", "--once"])  # nothing left: it says nothing and stops
    assert r.exit_code == 0 and r.output == "", r.output


def test_a_failing_duty_is_reported_and_does_not_stop_the_others(app, tmp_path):
    broken = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/none.sqlite",
                         "CACHE_CHANNEL": ""})
    r = broken.test_cli_runner().invoke(args=["worker", "--once"])
    assert r.exit_code == 1
    assert "webhooks failed" in r.output and "ledger seal failed" in r.output, r.output


def test_a_worker_process_works_until_sigterm_then_stops(app, client, site_ctx, receiver):
    site_key, _, auth = site_ctx
    subscribe(client, auth, receiver.url)
    env = production_env(app, OPSIQ_WORKER_SEAL_SECONDS="0.2", OPSIQ_LEDGER_SEAL_LAG="0",
                         OPSIQ_LEDGER_SEAL_INTERVAL="0")
    proc = subprocess.Popen([sys.executable, "-m", "flask", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        record(client, site_key)
        record(client, site_key)
        deadline = time.monotonic() + 30
        # both sealed, and delivered: the two decisions' events and each seal's ledger.sealed
        done = lambda: (lambda s, d, _: s == 2 and d >= 3 and d == len(receiver.unique_events()))(  # noqa: E731
            *sealed_and_delivered(app))
        while not done() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert done(), sealed_and_delivered(app)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "Traceback" not in out
