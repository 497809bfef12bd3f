"""POST /api/v1/subjects/browser-export: a browser's own export, proved by its visitor's secret."""
import json

from tests.api.test_rate_limits import a_client_address, limited_app
from tests.api.test_subjects import auth, link, people, record
from tests.conftest import from_ip, visitor_secret

ORIGIN = "https://shop.example"


def browser_export(client, site_key, visitor_id, secret=None, origin=ORIGIN, **headers):
    body = {"site_key": site_key, "visitor_id": visitor_id,
            "visitor_secret": visitor_secret(visitor_id) if secret is None else secret}
    return client.post("/api/v1/subjects/browser-export", data=json.dumps(body),
                       headers={"Content-Type": "text/plain", **({"Origin": origin} if origin else {}), **headers})


def test_a_browser_exports_its_own_visitor_only(client, make_site):
    site_key, api_key, _, made, _ = people(client, make_site)
    r = browser_export(client, site_key, "jane-browser-1")
    assert r.status_code == 200, r.json
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN and r.headers["Cache-Control"] == "no-store"
    doc = r.json
    assert [x["record_id"] for x in doc["consent_records"]] == [made["jane"][0]["record_id"], made["jane"][2]["record_id"]]
    assert [x["receipt"] for x in doc["consent_records"]] == [made["jane"][0]["receipt"], made["jane"][2]["receipt"]]
    server = client.post("/api/v1/subjects/export", json={"visitor_id": "jane-browser-1"}, headers=auth(api_key)).json
    assert {k: v for k, v in doc.items() if k != "generated_at"} == {
        k: v for k, v in server.items() if k != "generated_at"}
    assert "jane-browser-2" not in r.get_data(as_text=True) and "bob" not in r.get_data(as_text=True)


def test_a_visitor_id_alone_exports_nothing(client, site_ctx):
    site_key, api_key, _ = site_ctx
    record(client, site_key, "visitor-victim")
    assert browser_export(client, site_key, "visitor-victim", secret="f" * 32).status_code == 403
    r = client.post("/api/v1/subjects/browser-export", json={"site_key": site_key, "visitor_id": "visitor-victim"},
                    headers={"Origin": ORIGIN})
    assert r.status_code == 422 and "visitor_secret" in r.json["errors"]
    # a visitor the site never recorded is bound to no secret: even one linked to a person by the server
    link(client, api_key, "visitor-unrecorded", email="victim@example.com")
    r = browser_export(client, site_key, "visitor-unrecorded")
    assert r.status_code == 403 and "victim@example.com" not in r.get_data(as_text=True)
    assert browser_export(client, site_key, "visitor-victim", origin="https://evil.example").status_code == 403
    assert browser_export(client, "nosuchsite", "visitor-victim").status_code == 404
    assert browser_export(client, site_key, "visitor-victim").status_code == 200


def test_browser_exports_count_against_the_browser_limit(app, make_site):
    limited = limited_app(app)
    client = limited.test_client()
    site_key, _ = make_site()
    address = a_client_address()
    record(client, site_key, "visitor-limited")  # from another address
    answers = [browser_export(client, site_key, "visitor-limited", **from_ip(address)).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
