"""`flask stats rollup`, the worker's rollup duty and `flask stats check`: every decision counted
once, whoever rolls up and however many at once; young records left for the next round; counts
that outlive a retention purge; the check naming any count that differs from the ledger."""
import subprocess
import sys

import sqlalchemy as sa

from app.extensions import db
from app.models import ConsentRecord, ConsentRollup, ConsentRollupMark
from tests.api.test_stats import stats, write
from tests.cli.test_retention import later, set_retention
from tests.ledger.test_integrity import seal
from tests.servers import ROOT, production_env


def decisions(client, auth):
    return stats(client, auth)["totals"]["decisions"]


def test_rollup_counts_every_site_or_the_one_named(client, runner, site_ctx, make_site):
    site_key, _, auth = site_ctx
    other_key, other_api_key = make_site(name="Other")
    write(client, site_key, "DE")
    write(client, other_key, "FR")
    r = runner.invoke(args=["stats", "rollup", site_key, "--lag", "0"])
    assert r.exit_code == 0 and r.output.startswith(f"{site_key}: rolled up 1 record(s); complete up to 20"), r.output
    assert other_key not in r.output
    assert decisions(client, {"Authorization": f"Bearer {other_api_key}"}) == 0
    r = runner.invoke(args=["stats", "rollup", "--lag", "0"])
    assert r.exit_code == 0, r.output
    assert f"{site_key}: rolled up 0 record(s)" in r.output and f"{other_key}: rolled up 1 record(s)" in r.output
    assert decisions(client, auth) == 1 and decisions(client, {"Authorization": f"Bearer {other_api_key}"}) == 1
    r = runner.invoke(args=["stats", "rollup", "no-such-site"])
    assert r.exit_code == 1 and "no-such-site" in r.output


def test_records_younger_than_the_lag_wait_for_a_later_round(client, runner, site_ctx):
    site_key, _, auth = site_ctx
    write(client, site_key, "DE")
    r = runner.invoke(args=["stats", "rollup", site_key, "--lag", "3600"])
    assert r.exit_code == 0 and "rolled up 0 record(s)" in r.output, r.output
    body = stats(client, auth)
    assert body["totals"]["decisions"] == 0 and body["as_of"] is not None  # complete up to an hour ago
    r = runner.invoke(args=["stats", "rollup", site_key, "--lag", "0"])
    assert "rolled up 1 record(s)" in r.output and decisions(client, auth) == 1


def test_the_worker_rolls_up_in_its_rounds(app, client, runner, site_ctx):
    site_key, _, auth = site_ctx
    for place in ("DE", "FR", "US-CA"):
        write(client, site_key, place)
    app.config["LEDGER_SEAL_LAG"] = 0  # read when the worker starts
    try:
        r = runner.invoke(args=["worker", "--once"])
        assert r.exit_code == 0 and "worker: rollup: 3" in r.output, r.output
        assert decisions(client, auth) == 3
        r = runner.invoke(args=["worker", "--once"])  # nothing left: it says nothing
        assert r.exit_code == 0 and r.output == "", r.output
        write(client, site_key, "JP")
        r = runner.invoke(args=["worker", "--once"])
        assert "worker: rollup: 1" in r.output, r.output
    finally:
        app.config["LEDGER_SEAL_LAG"] = 5
    assert decisions(client, auth) == 4


def test_rollups_running_at_once_count_each_record_once(app, client, site_ctx):
    """Three `flask stats rollup` processes, in transactions of five records, race over the same ledger."""
    site_key, _, auth = site_ctx
    for i in range(60):
        write(client, site_key, ("DE", "FR", "US-CA", "JP")[i % 4])
    env = production_env(app)
    command = [sys.executable, "-m", "flask", "stats", "rollup", site_key, "--lag", "0", "--batch", "5"]
    procs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(3)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    counted = sum(int(out.split("rolled up ")[1].split(" ")[0]) for out in outputs)
    assert counted == 60, outputs  # shared between them, none twice
    assert decisions(client, auth) == 60
    with app.app_context():
        last = db.session.execute(sa.select(sa.func.max(ConsentRecord.id))).scalar()
        assert db.session.execute(sa.select(ConsentRollupMark.last_id)).scalar() == last
        db.session.remove()


def test_check_compares_the_rollups_with_the_ledger(app, client, runner, site_ctx):
    site_key, _, _ = site_ctx
    for place in ("DE", "DE", "US-CA"):
        write(client, site_key, place)
    runner.invoke(args=["stats", "rollup", site_key, "--lag", "0"])
    write(client, site_key, "FR")  # after the mark: neither side counts it yet
    r = runner.invoke(args=["stats", "check", site_key])
    assert r.exit_code == 0 and f"{site_key}: OK (3 decision(s) rolled up" in r.output, r.output
    with app.app_context():  # a count that no longer says what the ledger does
        db.session.execute(sa.update(ConsentRollup).where(ConsentRollup.country == "US")
                           .values(decisions=ConsentRollup.decisions + 1))
        db.session.commit()
    r = runner.invoke(args=["stats", "check", site_key])
    assert r.exit_code == 1 and f"{site_key}: DIFFERENT" in r.output, r.output
    assert "totals.decisions: rollups 4, ledger 3" in r.output
    assert "countries.US.decisions: rollups 2, ledger 1" in r.output
    r = runner.invoke(args=["stats", "check", site_key, "--from", "2026-05-02", "--to", "2026-05-01"])
    assert r.exit_code == 1 and "after --to" in r.output


def test_a_retention_purge_leaves_the_counts_and_check_says_why_the_ledger_differs(app, client, runner, site_ctx,
                                                                                   monkeypatch):
    site_key, _, auth = site_ctx
    set_retention(app, site_key, 30)
    write(client, site_key, "DE", visitor_id="visitor-purged-1", method="accept_all")
    write(client, site_key, "DE", visitor_id="visitor-purged-1", method="reject_all")  # the first one is replaced
    write(client, site_key, "FR", visitor_id="visitor-purged-2")
    runner.invoke(args=["stats", "rollup", site_key, "--lag", "0"])
    before = stats(client, auth)
    seal(runner, site_key)
    later(monkeypatch, 31)  # past 30 days' retention: the replaced decision goes, those in force stay
    r = runner.invoke(args=["retention", "purge", site_key])
    assert r.exit_code == 0 and "purged 1 consent record(s)" in r.output, r.output
    runner.invoke(args=["stats", "rollup", site_key, "--lag", "0"])
    after = stats(client, auth)
    assert after["totals"] == before["totals"] and after["totals"]["decisions"] == 3
    r = runner.invoke(args=["stats", "check", site_key])
    assert r.exit_code == 1 and "totals.decisions: rollups 3, ledger 2" in r.output, r.output
    assert "1 record(s) were purged by retention: the rollups still count them" in r.output
