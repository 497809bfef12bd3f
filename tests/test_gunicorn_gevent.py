"""The production server: gunicorn with gunicorn.conf.py (gevent workers) serving the real app.

Concurrent writes and checks through HTTP, as the benchmark drives them: every write lands once,
chained to an earlier record of its visitor, every check answers from what was written, and the
ledger verifies."""
import json
import os
import threading
import urllib.request

import pytest

from app.extensions import db
from app.ledger import seals, verify
from app.services.sites.snapshot import site_snapshot
from tests.conftest import IPS, make_consent
from tests.servers import serve_gunicorn

ORIGIN = "https://shop.example"


@pytest.fixture
def gunicorn(app):
    with serve_gunicorn(app) as base:
        yield base


def post(url, body, headers):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json",
                                                                                **headers})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, json.loads(r.read())


def test_gevent_workers_write_and_check_concurrently(app, site, gunicorn):
    site_key, api_key = site
    results, errors = [], []

    def client(i):
        try:
            for j in range(6):
                vid = f"v-gun-{(i + j) % 5:04d}"
                status, out = post(gunicorn + "/api/v1/consents", make_consent(site_key, visitor_id=vid,
                                   method="accept_all" if (i + j) % 2 else "reject_all"),
                                   {"Origin": ORIGIN, "X-Forwarded-For": IPS["DE"]})
                check = post(gunicorn + "/api/v1/consent-checks", {"visitor_id": vid, "purpose": "analytics"},
                             {"Authorization": f"Bearer {api_key}"})[1]
                results.append((status, out["record_id"], check["record_id"]))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 24 * 6
    assert {r[0] for r in results} == {201}
    assert all(check is not None for _, _, check in results)  # each check sees at least its own write
    with app.app_context():
        snap = site_snapshot(site_key, 0)
        import sqlalchemy as sa

        from app.models import ConsentRecord

        rows = db.session.execute(sa.select(ConsentRecord).where(ConsentRecord.site_id == snap.id)
                                  .order_by(ConsentRecord.id)).scalars().all()
        assert sorted(r.record_id for r in rows) == sorted(r[1] for r in results)
        # each record names an earlier record of its visitor (within a process strictly the one before;
        # two processes writing the same visitor in the same instant may both name the same one)
        earlier = {}
        for row in rows:
            seen = earlier.setdefault(row.visitor_id, set())
            assert row.prev_record_id is None or row.prev_record_id in seen
            seen.add(row.record_id)
        seals.seal_site(snap.id, lag_seconds=0)
        assert verify.verify_site(snap.id)["ok"]


def get(url, headers):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
        return r.status, r.read()


def test_flask_routes_and_a_webhook_sites_writes_under_gevent(app, make_site, gunicorn):
    """The routes Flask serves (visitor state, the streamed export) and the webhook path (each record
    in one SQLAlchemy transaction with its outbox rows) under the same workers."""
    import sqlalchemy as sa

    from app.models import WebhookEvent
    from app.services.webhooks.endpoints import create_endpoint

    site_key, api_key = make_site("Hooked")
    with app.app_context():
        site_id = site_snapshot(site_key, 0).id
        create_endpoint(site_id, "https://hooks.example/consent", ["consent.recorded"])
    auth = {"Authorization": f"Bearer {api_key}"}
    statuses = []

    def write(i):
        status, _ = post(gunicorn + "/api/v1/consents", make_consent(site_key, visitor_id=f"v-hook-{i:04d}"),
                         {"Origin": ORIGIN, "X-Forwarded-For": IPS["FR"]})
        statuses.append(status)

    from tests.conftest import run_together

    run_together(write, 30)
    assert statuses == [201] * 30
    status, body = get(gunicorn + "/api/v1/visitors/v-hook-0007/consent", auth)
    assert status == 200 and json.loads(body)["visitor_id"] == "v-hook-0007"
    status, body = get(gunicorn + "/api/v1/consents?limit=1000", auth)
    assert status == 200 and len(json.loads(body)["records"]) == 30
    with app.app_context():
        events = db.session.execute(sa.select(sa.func.count()).select_from(WebhookEvent)
                                    .where(WebhookEvent.site_id == site_id)).scalar()
    assert events == 30  # one outbox event per record, written with it


@pytest.mark.parametrize("named_dir", [False, True], ids=["temporary-dir", "named-dir"])
def test_metrics_add_up_the_answers_of_every_worker(app, site, tmp_path, named_dir):
    """Each scrape, whichever worker answers it, shows every worker's answers (prometheus_client's
    multiprocess mode, set up by gunicorn.conf.py), and nothing from a previous run's files."""
    from prometheus_client.mmap_dict import MmapedDict, mmap_key
    from prometheus_client.multiprocess import MultiProcessCollector

    site_key, api_key = site
    token = "gunicorn-metrics-token-0123456789"
    env = {"METRICS_TOKEN": token}
    if named_dir:  # a previous run's counts, left in the directory named: the server starts without them
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)
        stale = MmapedDict(str(tmp_path / "counter_99999.db"))
        stale.write_value(mmap_key("opsiq_http_requests", "opsiq_http_requests_total", ["route", "method", "status"],
                                   ["/api/v1/consents", "POST", "201"], "Answers"), 1000.0, 0.0)
        stale.close()
    errors = []
    rounds = 0

    def client(i):
        try:
            for j in range(3):
                vid = f"v-metrics-{rounds}-{i:03d}-{j}"
                assert post(base + "/api/v1/consents", make_consent(site_key, visitor_id=vid),
                            {"Origin": ORIGIN, "X-Forwarded-For": IPS["DE"]})[0] == 201
                assert post(base + "/api/v1/consent-checks", {"visitor_id": vid, "purpose": "analytics"},
                            {"Authorization": f"Bearer {api_key}"})[0] == 200
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(repr(e))

    with serve_gunicorn(app, **env) as base:
        from tests.conftest import run_together

        def per_worker():
            """Each worker's count of answered writes, from its own file in the directory named."""
            counts = []
            for name in os.listdir(tmp_path):
                if name.startswith("counter_") and name != "counter_99999.db":
                    merged = MultiProcessCollector.merge([str(tmp_path / name)])
                    counts.append(sum(s.value for m in merged for s in m.samples
                                      if s.name == "opsiq_http_requests_total"
                                      and s.labels.get("route") == "/api/v1/consents"))
            return counts

        # under load one worker may take every connection of a round: go on until both answered some
        while True:
            run_together(client, 24)
            rounds += 1
            if not named_dir or len([n for n in per_worker() if n > 0]) == 2 or rounds == 6:
                break
        assert not errors
        sent = f"{72.0 * rounds}"
        totals = []
        for _ in range(12):  # new connections: the scrapes land on either worker
            text = get(base + "/metrics", {"Authorization": f"Bearer {token}"})[1].decode()
            totals.append([line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith((
                'opsiq_http_requests_total{method="POST",route="/api/v1/consents",status="201"}',
                'opsiq_http_requests_total{method="POST",route="/api/v1/consent-checks",status="200"}',
                'opsiq_request_duration_seconds_count{operation="write"}'))])
        assert totals == [[sent, sent, sent]] * 12, totals[0]
        if named_dir:  # both workers did answer some of them, and the stale file is gone
            counts = per_worker()
            assert len([n for n in counts if n > 0]) == 2 and sum(counts) == 72 * rounds, counts
            assert not os.path.exists(tmp_path / "counter_99999.db")
