"""POST /api/v1/scans and GET /api/v1/scans/<id>: the API key's site only, bad input as the one
JSON error shape, queued for the worker (tests/browser/test_scanner.py runs one)."""
import pytest

from app.extensions import db
from app.models import AuditEntry, Scan


def test_a_scan_is_queued_for_the_keys_site_and_read_back(app, client, site_ctx, make_site):
    site_key, _, auth = site_ctx
    r = client.post("/api/v1/scans", json={"url": "https://shop.example/products?x=1", "regions": ["de", "US-CA"]},
                    headers=auth)
    assert r.status_code == 202, r.json
    body = r.json
    assert body["status"] == "queued" and body["regions"] == ["DE", "US-CA"] and body["id"].startswith("scan_")
    assert body["report"] is None and body["findings"] is None
    got = client.get(f"/api/v1/scans/{body['id']}", headers=auth)
    assert got.status_code == 200 and got.json["status"] == "queued"
    with app.app_context():
        entry = db.session.execute(db.select(AuditEntry).where(AuditEntry.action == "scan.requested")).scalar_one()
        assert entry.target_id == body["id"] and entry.details == {"host": "shop.example", "regions": ["DE", "US-CA"]}
    _, other_key = make_site("Other")
    r = client.get(f"/api/v1/scans/{body['id']}", headers={"Authorization": f"Bearer {other_key}"})
    assert r.status_code == 404 and r.json["code"] == 404  # another site's scan is not found


def test_without_a_key_nothing_is_queued(app, client, site_ctx):
    for headers in ({}, {"Authorization": "Bearer nope"}):
        r = client.post("/api/v1/scans", json={"url": "https://shop.example/"}, headers=headers)
        assert r.status_code == 401 and r.json["code"] == 401
        assert client.get("/api/v1/scans/scan_x", headers=headers).status_code == 401
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(Scan)).scalar_one() == 0


@pytest.mark.parametrize("body,field", [
    ({}, "url"), ({"url": "ftp://shop.example/"}, "url"), ({"url": "https://shop.example/", "regions": ["Germany"]},
                                                            "regions"),
    ({"url": "https://shop.example/", "regions": "DE"}, "regions"), ({"url": "https://shop.example/", "x": 1}, "x"),
    ({"url": "https://shop.example/", "regions": ["D1"]}, "regions"), ({"url": 7}, "url"),
])
def test_bad_input_is_a_422_naming_the_field(client, site_ctx, body, field):
    r = client.post("/api/v1/scans", json=body, headers=site_ctx[2])
    assert r.status_code == 422, r.json
    assert r.json["code"] == 422 and r.json["status"] == "Unprocessable Entity"
    assert field in str(r.json["errors"])


def test_production_refuses_a_private_page_when_it_is_asked(app, client, site_ctx, monkeypatch):
    monkeypatch.setitem(app.config, "SCAN_ALLOW_PRIVATE", False)
    for url in ("http://127.0.0.1:8000/admin", "http://[::ffff:10.0.0.1]/", "http://localhost/"):
        r = client.post("/api/v1/scans", json={"url": url}, headers=site_ctx[2])
        assert r.status_code == 422 and r.json["errors"] == {"url": ["resolves to a non-public address"]}, url
    assert client.get("/api/v1/scans/scan_nothing", headers=site_ctx[2]).status_code == 404


def test_one_worker_claims_a_scan_and_a_stale_claim_is_taken_again(app, client, site_ctx):
    import datetime as dt

    from app.services.scanner.queue import LEASE, claim_next

    client.post("/api/v1/scans", json={"url": "https://shop.example/"}, headers=site_ctx[2])
    with app.app_context():
        first = claim_next()
        assert first is not None and claim_next() is None  # the second worker finds nothing to take
        row = db.session.get(Scan, first[0])
        assert row.status == "running" and row.claim == first[1]
        later = row.started_at + LEASE + dt.timedelta(seconds=1)  # its worker is gone
        second = claim_next(now=later)
        assert second is not None and second[0] == first[0] and second[1] != first[1]


def test_without_chromium_the_worker_marks_the_scan_failed_saying_why(app, client, runner, site_ctx):
    auth = site_ctx[2]
    scan_id = client.post("/api/v1/scans", json={"url": "https://shop.example/"}, headers=auth).json["id"]
    result = runner.invoke(args=["worker", "--once"])  # the test app has no SCAN_CHROMIUM
    assert "worker: scan: 1" in result.output, result.output
    body = client.get(f"/api/v1/scans/{scan_id}", headers=auth).json
    assert body["status"] == "failed" and body["report"] is None and body["finished_at"]
    assert body["error"] == "no scan: no Chromium is configured (SCAN_CHROMIUM is unset)"
    with app.app_context():
        [entry] = db.session.execute(db.select(AuditEntry).where(AuditEntry.action == "scan.completed")).scalars()
        assert entry.details == {"status": "failed", "findings": 0} and entry.actor == "system"
