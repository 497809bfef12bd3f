"""Sealing, and `flask ledger verify` catching an edited, an inserted and a deleted record."""
import json
import uuid

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db, ledger
from app.ledger import seals
from app.ledger.verify import verify_site
from app.models import ConsentRecord, LedgerSeal
from tests.conftest import IPS, from_ip, make_consent
from tests.ledger.conftest import POSTGRES


def record_some(client, site_key, n=5):
    ids = []
    for i in range(n):
        r = client.post("/api/v1/consents", json=make_consent(site_key, visitor_id=f"visitor-{i:04d}"),
                        headers=from_ip(IPS["DE"]))
        assert r.status_code == 201
        ids.append(r.json["record_id"])
    return ids


def seal(runner, site_key):
    r = runner.invoke(args=["ledger", "seal", site_key, "--lag", "0"])
    assert r.exit_code == 0, r.output


def verify(runner, site_key):
    return runner.invoke(args=["ledger", "verify", site_key])


def test_clean_ledger_verifies(client, runner, site):
    record_some(client, site[0])
    seal(runner, site[0])
    record_some(client, site[0], 2)  # unsealed tail is checked too
    r = verify(runner, site[0])
    assert r.exit_code == 0, r.output
    assert "OK (5 sealed in 1 seal(s), 2 not yet sealed)" in r.output


def test_edited_record_is_named(app, client, runner, site):
    ids = record_some(client, site[0])
    seal(runner, site[0])
    with app.app_context():
        # an attacker flips a refusal into a grant and even recomputes the row's own hash
        rec = db.session.execute(sa.select(ConsentRecord).where(ConsentRecord.record_id == ids[2])).scalar_one()
        from app.ledger.rules import HASHED_COLUMNS, record_hash

        decisions = dict(rec.decisions, marketing=True)
        values = {c: getattr(rec, c) for c in HASHED_COLUMNS}
        values["decisions"] = decisions
        db.session.execute(sa.update(ConsentRecord).where(ConsentRecord.id == rec.id)
                           .values(decisions=decisions, record_hash=record_hash(values)))
        db.session.commit()
    r = verify(runner, site[0])
    assert r.exit_code == 1 and "TAMPERED" in r.output
    assert f"altered: record {ids[2]}" in r.output


def test_edited_unsealed_record_is_named(app, client, runner, site):
    ids = record_some(client, site[0], 2)
    with app.app_context():
        db.session.execute(sa.update(ConsentRecord).where(ConsentRecord.record_id == ids[1]).values(method="accept_all"))
        db.session.commit()
    r = verify(runner, site[0])
    assert r.exit_code == 1 and f"altered: record {ids[1]}" in r.output


def _forge_like(app, record_id, **changes):
    """Insert a forged copy of a record (with its own valid hash), as someone with database access could."""
    from app.ledger.rules import personal_digest, record_hash

    with app.app_context():
        row = dict(db.session.execute(sa.select(ConsentRecord.__table__)
                                      .where(ConsentRecord.record_id == record_id)).mappings().one())
        forged = dict(row, record_id=str(uuid.uuid4()), client_record_id=str(uuid.uuid4()), **changes)
        forged["personal_digest"] = personal_digest(forged["personal_salt"], forged)  # the salt is in the row
        forged["record_hash"] = record_hash(forged)
        db.session.execute(sa.insert(ConsentRecord.__table__).values(**forged))
        db.session.commit()
    return forged


def test_backdated_inserted_record_is_named(app, client, runner, site):
    ids = record_some(client, site[0])
    seal(runner, site[0])
    with app.app_context():
        max_id = db.session.execute(sa.select(sa.func.max(ConsentRecord.id))).scalar()
    forged = _forge_like(app, ids[0], id=max_id + 1)  # same (old) created_at as a sealed record
    r = verify(runner, site[0])
    assert r.exit_code == 1
    assert f"inserted: record {forged['record_id']} is dated before the last seal" in r.output


def test_record_inserted_into_a_sealed_range_is_named(app, client, runner, site):
    ids = record_some(client, site[0], 3)
    with app.app_context():  # a rolled-back insert leaves a gap in the ids, as on PostgreSQL
        first = db.session.execute(sa.select(ConsentRecord.id).where(ConsentRecord.record_id == ids[0])).scalar()
    record_some(client, site[0], 2)
    with app.app_context():
        gap_id = db.session.execute(sa.select(ConsentRecord.id).where(ConsentRecord.record_id == ids[1])).scalar()
        db.session.execute(sa.delete(ConsentRecord).where(ConsentRecord.id == gap_id))
        db.session.commit()
    seal(runner, site[0])
    assert verify(runner, site[0]).exit_code == 0
    forged = _forge_like(app, ids[0], id=gap_id)
    r = verify(runner, site[0])
    assert r.exit_code == 1 and f"inserted: record {forged['record_id']} was not in seal 1" in r.output
    assert first < gap_id


def test_deleted_record_is_named(app, client, runner, site):
    ids = record_some(client, site[0])
    seal(runner, site[0])
    with app.app_context():
        row_id = db.session.execute(sa.select(ConsentRecord.id).where(ConsentRecord.record_id == ids[3])).scalar_one()
        db.session.execute(sa.delete(ConsentRecord).where(ConsentRecord.id == row_id))
        db.session.commit()
    r = verify(runner, site[0])
    assert r.exit_code == 1 and f"removed: row {row_id} sealed in seal 1 is gone" in r.output


def test_rewritten_seal_breaks_the_chain(app, client, runner, site):
    record_some(client, site[0], 3)
    seal(runner, site[0])
    record_some(client, site[0], 3)
    seal(runner, site[0])
    with app.app_context():
        s1 = db.session.execute(sa.select(LedgerSeal).where(LedgerSeal.seq == 1)).scalar_one()
        db.session.execute(sa.update(LedgerSeal).where(LedgerSeal.id == s1.id)
                           .values(entries=s1.entries[:-1], record_count=2))
        db.session.commit()
    r = runner.invoke(args=["ledger", "verify", site[0], "--json"])
    assert r.exit_code == 1
    kinds = {p["kind"] for p in json.loads(r.output)[site[0]]["problems"]}
    assert "seal_altered" in kinds


def test_seals_from_the_write_path_of_an_app_configured_to(app, client, site):
    """Each app reads its seal settings once and keeps its own seal clock: this one seals before each
    write; the session's app (LEDGER_SEAL_INTERVAL 0) never does."""
    sealing = create_app({**app.config, "LEDGER_SEAL_INTERVAL": 0.001, "LEDGER_SEAL_LAG": 0})
    try:
        record_some(sealing.test_client(), site[0], 3)
    finally:
        with sealing.app_context():
            if ledger.state.connections is not None:
                ledger.state.connections.pool().discard_idle()
            db.engine.dispose()

    def sealed():
        with app.app_context():
            return db.session.execute(sa.select(sa.func.sum(LedgerSeal.record_count))).scalar()

    assert sealed() >= 2  # each write sealed what came before it
    before = sealed()
    record_some(client, site[0], 2)
    assert sealed() == before


def test_a_partial_seal_claims_only_what_it_holds(app, client, runner, site):
    """Sealing in small batches (as the write path does) never makes the rest look inserted."""
    record_some(client, site[0], 5)
    with app.app_context():
        from app.services.sites.administration import require_site

        site_id = require_site(site[0]).id
        assert seals.seal_site(site_id, 0, limit=2, batch=2) == 2
    r = verify(runner, site[0])
    assert r.exit_code == 0, r.output
    assert "OK (2 sealed in 1 seal(s), 3 not yet sealed)" in r.output
    seal(runner, site[0])
    assert "OK (5 sealed in 2 seal(s), 0 not yet sealed)" in verify(runner, site[0]).output


def test_records_whose_ids_and_times_cross_are_all_sealed_and_verify(app, client, runner, site):
    """Concurrent writers take their created_at a moment before their row id: a record can have a
    lower id but a later time than the next one. Sealing must not jump over it (it would be left
    out of every seal and look inserted), nor vouch for the older one it leaves for later."""
    import datetime as dt

    from app.ledger.rules import HASHED_COLUMNS, record_hash
    from app.services.sites.administration import require_site

    ids = record_some(client, site[0], 4)
    now = dt.datetime.now(dt.timezone.utc)
    ages = {ids[0]: 60, ids[1]: 50, ids[2]: 1, ids[3]: 30}  # ids[2] is young; ids[3] is older but came after it
    with app.app_context():
        for rid, age in ages.items():
            rec = db.session.execute(sa.select(ConsentRecord).where(ConsentRecord.record_id == rid)).scalar_one()
            values = {c: getattr(rec, c) for c in HASHED_COLUMNS}
            values["created_at"] = now - dt.timedelta(seconds=age)
            db.session.execute(sa.update(ConsentRecord).where(ConsentRecord.id == rec.id)
                               .values(created_at=values["created_at"], record_hash=record_hash(values)))
        db.session.commit()
        site_id = require_site(site[0]).id
        assert seals.seal_site(site_id, lag_seconds=5) == 2  # the two before the young one, not ids[3]
    r = verify(runner, site[0])
    assert r.exit_code == 0, r.output
    assert "OK (2 sealed in 1 seal(s), 2 not yet sealed)" in r.output
    seal(runner, site[0])  # once the young one is old enough
    r = verify(runner, site[0])
    assert r.exit_code == 0 and "OK (4 sealed in 2 seal(s), 0 not yet sealed)" in r.output


@pytest.mark.skipif(not POSTGRES, reason="sealers take an advisory lock on PostgreSQL (run with TEST_DATABASE_URL)")
def test_a_second_sealer_steps_aside_while_one_holds_the_site(app, client, site):
    import psycopg

    from app.services.sites.snapshot import site_snapshot

    site_key, _ = site
    for _ in range(3):
        assert client.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(IPS["DE"])).status_code == 201
    with app.app_context():
        site_id = site_snapshot(site_key, 0).id
        url = ledger.state.connections.url
        with psycopg.connect(url, autocommit=True) as other:  # another process, sealing this site
            other.execute("SELECT pg_advisory_lock(%s, %s)", (seals.SEAL_LOCK, site_id))
            assert seals.seal_site(site_id, lag_seconds=0) == 0
            other.execute("SELECT pg_advisory_unlock(%s, %s)", (seals.SEAL_LOCK, site_id))
        assert seals.seal_site(site_id, lag_seconds=0) == 3
        assert verify_site(site_id)["ok"]
