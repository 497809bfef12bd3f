"""Headers every answer carries, and the policy of the pages people read."""
import base64
import hashlib
import re

from app import create_app
from tests.conftest import IPS, from_ip, make_consent


def test_every_answer_says_nosniff_front_door_flask_scripts_pages_and_errors(app, client, site):
    site_key, api_key = site
    answers = [
        client.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(IPS["DE"])),  # the front door
        client.post("/api/v1/consents", data=b"{", content_type="text/plain"),  # its error
        client.get(f"/api/v1/sites/{site_key}/config"),
        client.get(f"/w/{site_key}.js"),
        client.get("/w/nope.js"),
        client.get("/u/not-a-token"),
        client.get("/api/v1/openapi.json"),
        client.get("/nowhere"),
    ]
    assert [r.headers.get("X-Content-Type-Options") for r in answers] == ["nosniff"] * len(answers)
    assert all("Strict-Transport-Security" not in r.headers for r in answers)  # development: no HSTS


def test_mail_link_pages_allow_their_own_style_and_nothing_else(client, site):
    r = client.get("/u/not-a-token")
    csp = r.headers["Content-Security-Policy"]
    style = re.search(r"<style>(.*?)</style>", r.get_data(as_text=True), re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp  # the page's own style, by its hash
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp


def test_production_answers_carry_hsts(app, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "a-production-secret-of-some-length")
    monkeypatch.setenv("OPSIQ_MASTER_KEY", base64.b64encode(b"k" * 32).decode())
    prod = create_app({"OPSIQ_ENV": "production", "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    r = prod.test_client().get("/healthz")
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_api_docs_page_loads_its_script_from_here_under_its_policy(client):
    r = client.get("/api/v1/docs")
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    [src] = re.findall(r'<script src="([^"]+)"', r.get_data(as_text=True))
    assert src == "/static/docs/redoc.standalone.js"
    script = client.get(src)
    assert script.status_code == 200 and b"Redoc" in script.get_data()


def test_demo_pages_carry_a_strict_policy_with_a_nonce_of_each_answer(client, site):
    site_key, _ = site
    pages = {path: client.get(path, query_string={"site": site_key}) for path in ("/demo", "/demo/privacy", "/demo/ad")}
    for path, r in pages.items():
        csp, html = r.headers["Content-Security-Policy"], r.get_data(as_text=True)
        assert r.status_code == 200 and "default-src 'none'" in csp and "'unsafe-inline'" not in csp, path
        assert "<style" not in html and " style=" not in html, path  # styles come from static/demo/
    assert "frame-ancestors 'none'" in pages["/demo"].headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in pages["/demo/ad"].headers["Content-Security-Policy"]  # framed by the demo only

    nonce = re.search(r"'nonce-([^']+)'", pages["/demo"].headers["Content-Security-Policy"]).group(1)
    html = pages["/demo"].get_data(as_text=True)
    assert html.count("<script") == len(re.findall(rf'<script[^>]* nonce="{re.escape(nonce)}"', html)) == 6
    again = client.get("/demo", query_string={"site": site_key}).headers["Content-Security-Policy"]
    assert nonce not in again  # a new one for every answer
