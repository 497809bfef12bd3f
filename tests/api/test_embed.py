"""GET /w/<site_key>.js: the widget with the visitor's resolved configuration inlined."""
import json
import os
import re

from app.widget_file import TOKEN
from tests.conftest import IPS, from_ip

WIDGET = os.path.join(os.path.dirname(__file__), "..", "..", "static", "widget.js")


def inlined_config(body):
    """The JSON the server put where the bundle has its config token."""
    with open(WIDGET, encoding="utf-8") as f:
        before, after = f.read().split(TOKEN)
    assert body.startswith(before) and body.endswith(after)
    return json.loads(body[len(before):len(body) - len(after)])


def test_script_inlines_the_config_the_api_resolves(client, site):
    headers = from_ip(IPS["DE"], **{"Accept-Language": "de"})
    r = client.get(f"/w/{site[0]}.js", headers=headers)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert r.headers["Cache-Control"] == "private, max-age=300"
    assert r.headers["Vary"] == "Accept-Language, Sec-GPC"
    assert "Access-Control-Allow-Origin" not in r.headers
    cfg = inlined_config(r.get_data(as_text=True))
    api = client.get(f"/api/v1/sites/{site[0]}/config", headers=headers).json
    assert cfg == api
    assert (cfg["regime"], cfg["language"], cfg["texts"]["reject_all"]) == ("opt_in", "de", "Alle ablehnen")


def test_regime_and_gpc_follow_the_visitor(client, site):
    def cfg(ip, **h):
        return inlined_config(client.get(f"/w/{site[0]}.js", headers=from_ip(ip, **h)).get_data(as_text=True))

    assert cfg(IPS["US-CA"])["regime"] == "opt_out"
    assert cfg(IPS["JP"])["regime"] == "notice"
    assert cfg(IPS["US-CA"], **{"Sec-GPC": "1"})["gpc_header"] is True
    assert cfg(IPS["US-CA"], **{"Sec-GPC": "true"})["gpc_header"] is False


def test_no_origin_check_on_the_script(client, site):
    r = client.get(f"/w/{site[0]}.js", headers=from_ip(IPS["DE"], Origin="https://elsewhere.example"))
    assert r.status_code == 200


def test_etag_and_304(client, site):
    url = f"/w/{site[0]}.js"
    r = client.get(url, headers=from_ip(IPS["DE"]))
    etag = r.headers["ETag"]
    assert etag.startswith('"') and len(etag) > 10
    again = client.get(url, headers=from_ip(IPS["DE"], **{"If-None-Match": etag}))
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag and again.headers["Cache-Control"] == "private, max-age=300"
    # another visitor's configuration is another body, so another tag
    other = client.get(url, headers=from_ip(IPS["US-CA"], **{"If-None-Match": etag}))
    assert other.status_code == 200 and other.headers["ETag"] != etag


def test_unknown_site_is_a_404_script_that_only_warns(client):
    r = client.get("/w/nope<script>.js")
    assert r.status_code == 404
    assert r.headers["Content-Type"] == "application/javascript; charset=utf-8"
    body = r.get_data(as_text=True)
    assert body.startswith("console.warn(") and body.count("\n") == 1 and "<script>" not in body
    assert "nope" in body


def test_site_texts_cannot_break_out_of_the_script(client, app, site):
    from app.services.sites.administration import require_site
    from app.services.sites.documents import export_site, import_site

    nasty = "</script><script>alert(1)</script>\u2028<!--\u2029"
    with app.app_context():
        doc = export_site(require_site(site[0]))
        import_site(dict(doc, texts={"en": {"title": nasty}}))
    body = client.get(f"/w/{site[0]}.js", headers=from_ip(IPS["DE"])).get_data(as_text=True)
    cfg = inlined_config(body)
    assert cfg["texts"]["title"] == nasty
    assert "</script" not in body and "<!--" not in body and "\u2028" not in body and "\u2029" not in body


def test_demo_page_embeds_the_widget_first_in_head(client, site):
    r = client.get(f"/demo?site={site[0]}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    head = html.split("<head>", 1)[1].lstrip()
    assert re.match(rf'<script src="/w/{site[0]}\.js" async nonce="[\w-]+"></script>', head)  # the page's nonce
    assert 'type="text/plain" data-consent="analytics"' in html and 'data-src="/demo/ad"' in html
    assert "data-opsiq-settings" in html
    assert client.get(f"/demo/privacy?site={site[0]}").status_code == 200
    assert client.get("/demo/ad").status_code == 200


def test_demo_pages_are_off_in_production_unless_asked_for(app, client, site, monkeypatch):
    import base64

    from app.services.keyring import master_key

    with app.app_context():  # production has its master key (the app refuses to start without one)
        monkeypatch.setitem(app.config, "OPSIQ_MASTER_KEY", base64.b64encode(master_key()).decode())
    monkeypatch.setitem(app.config, "OPSIQ_ENV", "production")
    assert client.get(f"/demo?site={site[0]}").status_code == 404
    assert client.get(f"/w/{site[0]}.js").status_code == 200  # the widget itself is always served
    monkeypatch.setitem(app.config, "DEMO_PAGES", True)
    assert client.get(f"/demo?site={site[0]}").status_code == 200
