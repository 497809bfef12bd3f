"""The write path's own PostgreSQL connection survives the server dropping it."""
import os

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.conftest import IPS, from_ip, make_consent

pytestmark = pytest.mark.skipif("postgresql" not in os.environ.get("TEST_DATABASE_URL", ""),
                                reason="the hot connection is PostgreSQL's (run with TEST_DATABASE_URL)")


def test_a_write_after_the_connection_was_killed_still_lands(app, client, site):
    site_key, _ = site
    first = client.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(IPS["DE"]))
    assert first.status_code == 201
    with app.app_context():
        # end every other backend of this database, as a PostgreSQL restart would
        killed = db.session.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
        db.session.commit()
    assert killed >= 1
    body = make_consent(site_key)
    r = client.post("/api/v1/consents", json=body, headers=from_ip(IPS["DE"]))
    assert r.status_code == 201, r.json
    again = client.post("/api/v1/consents", json=body, headers=from_ip(IPS["DE"]))
    assert again.status_code == 200 and again.json["record_id"] == r.json["record_id"]


def test_hot_connections_are_lent_and_reused_never_more_than_the_bound(app):
    import threading

    from app.ledger import connections

    with app.app_context():
        pool = connections.HotPool(connections.pool_for(db.engine).url, max_open=3)
    for _ in range(20):  # one after another: one connection does it all
        with pool.connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert pool.opened == 1 and len(pool.idle) == 1

    busy = []

    def slow():
        with pool.connection() as conn:
            busy.append(conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                     " AND query LIKE '%%pg_sleep%%' AND pid <> pg_backend_pid()").fetchone()[0])
            conn.execute("SELECT pg_sleep(0.05)")

    threads = [threading.Thread(target=slow) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(busy) == 12 and pool.opened <= 3 and max(busy) <= 2  # at most 3 at once, this one included
    pool.discard_idle()


def test_a_second_sealer_steps_aside_while_one_holds_the_site(app, client, site):
    import psycopg

    from app.ledger import connections, seals
    from app.services.sites import site_snapshot

    site_key, _ = site
    for _ in range(3):
        assert client.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(IPS["DE"])).status_code == 201
    with app.app_context():
        site_id = site_snapshot(site_key, 0).id
        url = connections.pool_for(db.engine).url
        with psycopg.connect(url, autocommit=True) as other:  # another process, sealing this site
            other.execute("SELECT pg_advisory_lock(%s, %s)", (seals.SEAL_LOCK, site_id))
            assert seals.seal_site(site_id, lag_seconds=0) == 0
            other.execute("SELECT pg_advisory_unlock(%s, %s)", (seals.SEAL_LOCK, site_id))
        assert seals.seal_site(site_id, lag_seconds=0) == 3
        assert seals.verify_site(site_id)["ok"]
