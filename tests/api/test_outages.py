"""While the database is out of reach, writes and checks answer 503 with Retry-After (nothing was
stored, try again), never a 500; /readyz says so, while /healthz stays a liveness check."""
import os
import uuid

import pytest

from app import create_app
from app.extensions import db, ledger
from tests.conftest import IPS, from_ip, make_consent

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/none"  # a refused connection, at once


@pytest.fixture(scope="module")
def down():
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": UNREACHABLE, "SITE_CACHE_SECONDS": 0,
                       "CACHE_CHANNEL": "", "LEDGER_SEAL_INTERVAL": 0})


@pytest.mark.parametrize("hot", [True, False])
def test_writes_and_checks_answer_503_with_retry_after(down, hot):
    down.config["HOT_PATHS"] = hot
    client = down.test_client()
    answers = [client.post("/api/v1/consents", json=make_consent("some-site-key")),
               client.post("/api/v1/consent-checks", json={"visitor_id": "v-12345678", "purpose": "analytics"},
                           headers={"Authorization": "Bearer opsiq_sk_12345678abcdefgh"})]
    for r in answers:
        assert r.status_code == 503 and r.headers["Retry-After"] == "2", r.get_data(as_text=True)
        assert r.json["code"] == 503 and "Retry" in r.json["message"]


def test_readyz_follows_the_database_and_healthz_does_not(down, client):
    r = down.test_client().get("/readyz")
    assert r.status_code == 503 and r.json["database"] == "unreachable"
    assert down.test_client().get("/healthz").status_code == 200
    assert client.get("/readyz").json == {"database": "ok"}


@pytest.mark.skipif("postgresql" not in os.environ.get("TEST_DATABASE_URL", ""),
                    reason="a connection lost mid-request needs PostgreSQL (run with TEST_DATABASE_URL)")
@pytest.mark.parametrize("hot", [True, False])
@pytest.mark.parametrize("known", [True, False])
def test_a_connection_lost_after_the_last_query_changes_no_answer(app, client, site, hot, known):
    """A PostgreSQL restart between a request's last query through SQLAlchemy (the site's snapshot)
    and the end of the request (found by bench/faults.py as 500s): the answer is the one the request
    made, a write that was stored is answered 201, and the next request finds the database again."""
    import psycopg

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    restarted = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "TRUSTED_PROXIES": 1, "HOT_PATHS": hot,
                            "SITE_CACHE_SECONDS": 0, "CACHE_CHANNEL": "", "LEDGER_SEAL_INTERVAL": 0,
                            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True,
                                                          "connect_args": {"application_name": "lost-mid-request"}}})

    armed = [True]

    @restarted.teardown_appcontext
    def restart_database(exc):  # registered last, so it runs before the session is released
        if armed[0]:
            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
                killed = conn.execute("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                                      " WHERE application_name = 'lost-mid-request'").fetchall()
            assert killed, "the request's session held no connection"

    site_key = site[0] if known else "no-such-site"
    body = make_consent(site_key)
    for _ in range(2):  # the second request finds the database through a new connection
        r = restarted.test_client().post("/api/v1/consents", json={**body, "client_record_id": str(uuid.uuid4())},
                                         headers=from_ip(IPS["DE"], Origin="https://shop.example"))
        assert (r.status_code, "record_id" in r.json) == ((201, True) if known else (404, False)), r.get_data()
    if known:
        stored = client.get(f"/api/v1/visitors/{body['visitor_id']}/consent",
                            headers={"Authorization": f"Bearer {site[1]}"})
        assert stored.status_code == 200
    armed[0] = False
    with restarted.app_context():
        db.engine.dispose()
        ledger.state.connections.pool().discard_idle()
