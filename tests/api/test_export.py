"""GET /api/v1/consents: the ledger export, its filters, cursor pages, CSV and Kantara receipts."""
import csv
import datetime as dt
import io
import json

import pytest

from tests.conftest import IPS, from_ip, make_consent

ORIGIN = "https://shop.example"


def auth(api_key, **headers):
    return {"Authorization": f"Bearer {api_key}", **headers}


def record_many(client, site_key, n, **body):
    out = []
    for i in range(n):
        r = client.post("/api/v1/consents", json=make_consent(site_key, **body),
                        headers=from_ip(IPS["DE"] if i % 2 else IPS["US-CA"], Origin=ORIGIN))
        assert r.status_code == 201
        out.append(r.json)
    return out


def test_json_export_has_every_proof_field_in_order(client, site):
    site_key, api_key = site
    made = record_many(client, site_key, 3)
    r = client.get("/api/v1/consents", headers=auth(api_key))
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.headers["Cache-Control"] == "no-store"
    doc = r.json
    assert [x["record_id"] for x in doc["records"]] == [m["record_id"] for m in made]
    assert doc["next_cursor"] is None and "Link" not in r.headers
    rec = doc["records"][0]
    for field in ("visitor_id", "event", "method", "decisions", "created_at", "expires_at", "policy_version",
                  "policy_url", "language", "regime", "country", "region", "geoip_build", "ip_truncated",
                  "user_agent", "page_url", "gpc", "prev_record_id", "record_hash", "config_hash"):
        assert field in rec
    assert rec["ip_truncated"] == "128.32.0.0" and rec["region"] == "US-CA"
    assert "id" not in rec and "site_id" not in rec


def test_cursor_pages_walk_the_whole_ledger_once(client, site):
    site_key, api_key = site
    made = [m["record_id"] for m in record_many(client, site_key, 7)]
    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/v1/consents?limit=3" + (f"&cursor={cursor}" if cursor else "")
        r = client.get(url, headers=auth(api_key))
        assert r.status_code == 200
        seen += [x["record_id"] for x in r.json["records"]]
        cursor = r.json["next_cursor"]
        pages += 1
        if not cursor:
            break
        assert r.headers["X-Next-Cursor"] == cursor and f"cursor={cursor}" in r.headers["Link"]
    assert seen == made and pages == 3
    # an exact multiple: the last full page says there is no next one
    r = client.get("/api/v1/consents?limit=7", headers=auth(api_key))
    assert len(r.json["records"]) == 7 and r.json["next_cursor"] is None


def test_bad_cursor_and_arguments(client, site):
    _, api_key = site
    r = client.get("/api/v1/consents?cursor=notacursor", headers=auth(api_key))
    assert r.status_code == 400 and "cursor" in r.json["errors"]
    r = client.get("/api/v1/consents?limit=0", headers=auth(api_key))
    assert r.status_code == 422 and "limit" in r.json["errors"]["query"]
    r = client.get("/api/v1/consents?from=yesterday", headers=auth(api_key))
    assert r.status_code == 422 and "from" in r.json["errors"]["query"]


def test_filters_by_visitor_and_time(client, site):
    site_key, api_key = site
    record_many(client, site_key, 2)
    mine = record_many(client, site_key, 2, visitor_id="visitor-export-1")
    r = client.get("/api/v1/consents?visitor_id=visitor-export-1", headers=auth(api_key))
    assert [x["record_id"] for x in r.json["records"]] == [m["record_id"] for m in mine]
    first = dt.datetime.fromisoformat(mine[0]["decided_at"])
    since = (first - dt.timedelta(microseconds=1)).isoformat()
    r = client.get("/api/v1/consents", query_string={"from": since}, headers=auth(api_key))
    assert [x["record_id"] for x in r.json["records"]] == [m["record_id"] for m in mine]
    r = client.get("/api/v1/consents", query_string={"to": since}, headers=auth(api_key))
    assert len(r.json["records"]) == 2
    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).isoformat()
    assert client.get("/api/v1/consents", query_string={"from": future}, headers=auth(api_key)).json["records"] == []


def test_csv_with_accept_header(client, site):
    site_key, api_key = site
    made = record_many(client, site_key, 3)
    r = client.get("/api/v1/consents", headers=auth(api_key, Accept="text/csv"))
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert [x["record_id"] for x in rows] == [m["record_id"] for m in made]
    assert json.loads(rows[0]["decisions"])["necessary"] is True
    assert rows[0]["ip_truncated"] == "128.32.0.0"
    paged = client.get("/api/v1/consents?format=csv&limit=2", headers=auth(api_key))
    assert len(list(csv.DictReader(io.StringIO(paged.get_data(as_text=True))))) == 2
    assert paged.headers["X-Next-Cursor"]


def test_kantara_receipts(client, site):
    site_key, api_key = site
    [made] = record_many(client, site_key, 1, decisions={"analytics": True, "marketing": False})
    r = client.get("/api/v1/consents?format=kantara", headers=auth(api_key))
    assert r.status_code == 200
    [doc] = r.json["records"]
    assert doc["version"] == "KI-CR-v1.1.0"
    assert doc["consentReceiptID"] == made["record_id"]
    assert doc["jurisdiction"] == "US-CA" and doc["collectionMethod"] == "custom"
    assert doc["consentTimestamp"] == int(dt.datetime.fromisoformat(made["decided_at"]).timestamp())
    assert doc["piiPrincipalId"] and doc["piiControllers"][0]["piiController"] == "Shop"
    assert doc["policyUrl"] == "https://shop.example/privacy"
    purposes = [p["purpose"] for p in doc["services"][0]["purposes"]]
    assert "analytics" in purposes and "marketing" not in purposes
    assert doc["sensitive"] is False and doc["spiCat"] == []
    assert doc["x-opsiq"]["decisions"]["marketing"] is False


def test_export_streams(client, site):
    site_key, api_key = site
    record_many(client, site_key, 2)
    r = client.get("/api/v1/consents", headers=auth(api_key), buffered=False)
    assert r.is_streamed
    assert len(json.loads(b"".join(r.response))["records"]) == 2
    # a body dropped unread closes its cursor and disturbs nothing
    client.get("/api/v1/consents", headers=auth(api_key), buffered=False).close()
    assert client.get("/api/v1/consents", headers=auth(api_key)).status_code == 200


@pytest.mark.parametrize("agent", ['=HYPERLINK("https://evil.example","click")', "+1+1", "-2+3", "@SUM(A1)",
                                   "\tTAB"])  # a carriage return cannot reach a header
def test_csv_cells_that_would_be_formulas_are_text(client, site, agent):
    """A visitor's own text (its user agent) must not become a live formula in a spreadsheet."""
    site_key, api_key = site
    r = client.post("/api/v1/consents", json=make_consent(site_key), headers={"User-Agent": agent})
    assert r.status_code == 201
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/consents?format=csv", headers=auth(api_key))
                                           .get_data(as_text=True))))
    assert rows[-1]["user_agent"] == "'" + agent
    assert rows[-1]["record_id"] == r.json["record_id"]  # other cells untouched
