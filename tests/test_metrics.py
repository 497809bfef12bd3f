"""GET /metrics (app/metrics.py): every answer counted once by route template and status, whether the
front door or Flask gave it; the write and check timed; group-commit batches and database errors
counted; the webhook backlog read at scrape time; the token; and a scrape that answers while the
database is down. (Several gunicorn workers adding up: tests/test_gunicorn_gevent.py.)"""
import base64
import collections
import os
import secrets
import threading
import time

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from app import ConfigError, create_app
from app.extensions import db, ledger
from app.services.sites.snapshot import site_snapshot
from tests.conftest import IPS, from_ip, make_consent
from tests.ledger.conftest import make_draft

ORIGIN = "https://shop.example"
TOKEN = "metrics-token-" + "x" * 20
ON_POSTGRES = "postgresql" in os.environ.get("TEST_DATABASE_URL", "")


def scrape(client, **headers):
    """{(sample name, ((label, value), ...)): value} of one scrape, which must succeed."""
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.get_data(as_text=True)) for s in family.samples}


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def requests_counted(before, after):
    """{(route, method, status): answers counted between two scrapes}, the scrapes themselves left out."""
    out = {}
    for (name, labels), v in after.items():
        if name == "opsiq_http_requests_total" and dict(labels)["route"] != "/metrics":
            delta = v - before.get((name, labels), 0)
            if delta:
                out[(dict(labels)["route"], dict(labels)["method"], dict(labels)["status"])] = delta
    return out


def observed(before, after, operation):
    """(count, sum, {le: count}) of the operation's latency observations between two scrapes."""
    name = "opsiq_request_duration_seconds"
    count = value(after, name + "_count", operation=operation) - value(before, name + "_count", operation=operation)
    total = value(after, name + "_sum", operation=operation) - value(before, name + "_sum", operation=operation)
    buckets = {dict(labels)["le"]: v - before.get((n, labels), 0) for (n, labels), v in after.items()
               if n == name + "_bucket" and dict(labels)["operation"] == operation}
    return count, total, buckets


@pytest.mark.parametrize("hot", [True, False])
def test_every_answer_is_counted_once_by_route_template_method_and_status(app, client, site, hot):
    """The front door counts what it answers, Flask the rest (what the front door hands it too)."""
    site_key, api_key = site
    auth = {"Authorization": f"Bearer {api_key}"}
    check = {"visitor_id": "v-metrics-0001", "purpose": "analytics"}
    app.config["HOT_PATHS"] = hot
    try:
        before = scrape(client)
        body = make_consent(site_key, visitor_id="v-metrics-0001")
        browser = from_ip(IPS["DE"], Origin=ORIGIN)
        answers = [
            ("/api/v1/consents", "POST", client.post("/api/v1/consents", json=body, headers=browser)),
            ("/api/v1/consents", "POST", client.post("/api/v1/consents", json=body, headers=browser)),
            ("/api/v1/consents", "POST", client.post("/api/v1/consents", json=make_consent("no-such-site"))),
            # an empty body: the front door cannot read it whole and hands it to Flask
            ("/api/v1/consents", "POST", client.post("/api/v1/consents", data=b"", content_type="text/plain")),
            ("/api/v1/consent-checks", "POST", client.post("/api/v1/consent-checks", headers=auth, json=check)),
            ("/api/v1/consent-checks/batch", "POST", client.post("/api/v1/consent-checks/batch", headers=auth,
                                                                 json={"items": [check] * 3})),
            ("/api/v1/visitors/<visitor_id>/consent", "GET", client.get("/api/v1/visitors/v-metrics-0001/consent",
                                                                         headers=auth)),
            ("/api/v1/visitors/<visitor_id>/consent", "GET", client.get("/api/v1/visitors/v-never-seen-01/consent",
                                                                         headers=auth)),
            ("unmatched", "GET", client.get("/no/such/path")),
            ("unmatched", "other", client.open("/healthz", method="BREW")),
        ]
        after = scrape(client)
    finally:
        app.config["HOT_PATHS"] = True
    assert [r.status_code for _, _, r in answers] == [201, 200, 404, 422, 200, 200, 200, 404, 404, 405]
    expected = collections.Counter((route, method, str(r.status_code)) for route, method, r in answers)
    assert requests_counted(before, after) == expected
    for operation, n in (("write", 4), ("check", 1), ("check_batch", 1)):
        count, total, buckets = observed(before, after, operation)
        assert count == n and buckets["+Inf"] == n and buckets["10.0"] == n and total > 0, operation
        assert list(buckets.values()) == sorted(buckets.values())  # cumulative
    assert "v-metrics-0001" not in str(after) and "/no/such/path" not in str(after)


def test_checks_and_writes_count_their_group_commit_batches(app, client, site):
    """On PostgreSQL each write and each lookup goes through a group committer, a batch of one when alone."""
    site_key, api_key = site
    before = scrape(client)
    assert client.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(IPS["DE"])).status_code == 201
    assert client.post("/api/v1/consent-checks", json={"visitor_id": "v-12345678", "purpose": "analytics"},
                       headers={"Authorization": f"Bearer {api_key}"}).status_code == 200
    after = scrape(client)
    name = "opsiq_group_commit_batch_size"
    for committer in ("writes", "lookups"):
        count = value(after, name + "_count", committer=committer) - value(before, name + "_count", committer=committer)
        ones = value(after, name + "_bucket", committer=committer, le="1.0") - value(
            before, name + "_bucket", committer=committer, le="1.0")
        assert (count, ones) == ((1, 1) if ON_POSTGRES else (0, 0)), committer  # SQLite has no group commit


@pytest.mark.skipif(not ON_POSTGRES, reason="group commit is PostgreSQL's (run with TEST_DATABASE_URL)")
def test_a_failed_batch_counts_its_size_and_each_write_retried_alone(app, client, site):
    """One write holds the committer (its insert waits on a lock) while five queue up behind it, one of
    them poisoned (a lone surrogate fails the hash in Python): the five are a batch that fails, each
    is then written alone, and only the poisoned one fails."""
    import dataclasses

    before = scrape(client)
    with app.app_context():
        snap = site_snapshot(site[0], 0)
    drafts = [make_draft(snap) for _ in range(6)]
    drafts[3] = dataclasses.replace(drafts[3], page_url="https://shop.example/\ud800")
    outcomes = {}

    def write(i):
        with app.app_context():
            try:
                outcomes[i] = ledger.write(drafts[i]).created
            except Exception as e:  # noqa: BLE001 (the poisoned one's own error)
                outcomes[i] = type(e).__name__

    with app.app_context(), db.engine.connect() as blocker, db.engine.connect() as watcher:
        blocker.execute(sa.text("LOCK TABLE consent_records IN EXCLUSIVE MODE"))  # inserts wait; reads do not
        leader = threading.Thread(target=write, args=(0,))
        leader.start()
        waiting = sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'consent_records'::regclass")
        deadline = time.time() + 10
        while not watcher.execute(waiting).scalar() and time.time() < deadline:
            watcher.rollback()
            time.sleep(0.02)
        assert time.time() < deadline, "the leader's insert never waited"
        queued = [threading.Thread(target=write, args=(i,)) for i in range(1, 6)]
        for t in queued:
            t.start()
        time.sleep(0.5)  # they queue behind the busy leader
        blocker.rollback()
    for t in [leader, *queued]:
        t.join(30)
    assert outcomes == {0: True, 1: True, 2: True, 3: "UnicodeEncodeError", 4: True, 5: True}
    after = scrape(client)

    def delta(sample, **labels):
        return value(after, sample, **labels) - value(before, sample, **labels)

    batches = "opsiq_group_commit_batch_size"
    assert delta(batches + "_count", committer="writes") == 2 and delta(batches + "_sum", committer="writes") == 6
    assert [delta(batches + "_bucket", committer="writes", le=le) for le in ("1.0", "4.0", "8.0")] == [1, 1, 2]
    assert delta("opsiq_database_errors_total", kind="group_commit_retry") == 5


def test_webhook_queue_depth_and_dead_letters_are_read_at_scrape_time(app, client, site_ctx, receiver):
    site_key, _, auth = site_ctx
    hook = client.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["consent.recorded"]}, headers=auth)
    receiver.outage = True
    for _ in range(3):
        r = client.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(IPS["DE"]))
        assert r.status_code == 201

    def backlog():
        samples = scrape(client)
        assert value(samples, "opsiq_database_up") == 1
        return value(samples, "opsiq_webhook_deliveries_pending"), value(samples, "opsiq_webhook_deliveries_dead")

    assert backlog() == (3, 0)
    assert client.post(f"/api/v1/webhooks/{hook.json['id']}/disable", headers=auth).status_code == 200
    assert backlog() == (0, 3)


@pytest.fixture(params=["postgresql", "sqlite"])
def down(request, tmp_path):
    """An app whose database is out of reach: a refused PostgreSQL connection, or a SQLite file that
    cannot be opened."""
    url = ("postgresql+psycopg://postgres@127.0.0.1:1/none" if request.param == "postgresql"
           else f"sqlite:///{tmp_path}/no/such/dir/x.sqlite")
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SITE_CACHE_SECONDS": 0,
                       "CACHE_CHANNEL": "", "LEDGER_SEAL_INTERVAL": 0})


def test_a_scrape_answers_while_the_database_is_down_and_counts_the_outages(down):
    client = down.test_client()
    for hot in (True, False):
        down.config["HOT_PATHS"] = hot
        r = client.post("/api/v1/consents", json=make_consent("some-site-key"))
        assert r.status_code == 503
    samples = scrape(client)
    assert value(samples, "opsiq_database_up") == 0
    assert not any(name.startswith("opsiq_webhook") for name, _ in samples)  # not known, so not said
    assert value(samples, "opsiq_database_errors_total", kind="outage") == 2
    assert value(samples, "opsiq_http_requests_total", route="/api/v1/consents", method="POST", status="503") == 2
    assert value(samples, "opsiq_request_duration_seconds_count", operation="write") == 2


def test_each_app_counts_its_own(app, client):
    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                        "CACHE_CHANNEL": "", "LEDGER_SEAL_INTERVAL": 0})
    healthz = {"route": "/healthz", "method": "GET", "status": "200"}
    before = value(scrape(client), "opsiq_http_requests_total", **healthz)
    for _ in range(3):
        assert other.test_client().get("/healthz").status_code == 200
    assert value(scrape(client), "opsiq_http_requests_total", **healthz) == before
    assert value(scrape(other.test_client()), "opsiq_http_requests_total", **healthz) == 3


def test_the_token_is_required_when_set(app):
    secured = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                          "CACHE_CHANNEL": "", "METRICS_TOKEN": TOKEN})
    client = secured.test_client()
    basic = "Basic " + base64.b64encode(b"a:b").decode()
    for authorization, status in ((None, 401), (basic, 401), ("Bearer", 401), ("Bearer wrong-token", 403),
                                  ("Bearer " + TOKEN[:-1], 403), ("Bearer \xe9t\xe9", 403)):
        r = client.get("/metrics", headers={"Authorization": authorization} if authorization else {})
        assert r.status_code == status, authorization
        assert r.json["code"] == status and set(r.json) >= {"status", "message"}  # the one error shape
        assert "opsiq_" not in r.get_data(as_text=True)
        if status == 401:
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert value(scrape(client, Authorization=f"Bearer {TOKEN}"), "opsiq_database_up") == 1


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    monkeypatch.setenv("OPSIQ_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", secrets.token_urlsafe(32))
    monkeypatch.setenv("OPSIQ_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/prod.sqlite")
    return monkeypatch


def test_production_serves_metrics_only_with_a_token_from_the_environment(production_env):
    """Without METRICS_TOKEN, production neither serves /metrics nor counts (it would tell anyone the
    traffic and the backlog); with it (read from the environment), scrapers send it."""
    client = create_app().test_client()
    assert client.get("/healthz").status_code == 200
    r = client.get("/metrics")
    assert r.status_code == 404 and r.json["code"] == 404
    production_env.setenv("METRICS_TOKEN", TOKEN)
    client = create_app().test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/healthz").status_code == 200
    samples = scrape(client, Authorization=f"Bearer {TOKEN}")
    assert value(samples, "opsiq_http_requests_total", route="/healthz", method="GET", status="200") == 1
    production_env.setenv("METRICS_TOKEN", "short")
    with pytest.raises(ConfigError, match="METRICS_TOKEN"):
        create_app()


def test_a_request_context_no_request_came_through_counts_nothing(app, client):
    """Code that pushes a request context of its own (url_for outside a request) is no answer."""
    before = scrape(client)
    with app.test_request_context("/healthz"):
        pass
    assert requests_counted(before, scrape(client)) == {}


def test_a_multiprocess_directory_named_after_prometheus_client_was_imported_is_refused(monkeypatch, tmp_path):
    """Too late for prometheus_client, which picks the mode on import: each worker would count alone."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
