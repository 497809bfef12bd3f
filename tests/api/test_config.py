"""GET /api/v1/sites/<key>/config, the well-known GPC file and the OpenAPI document."""
import pytest

from tests.conftest import IPS, from_ip, set_purpose

SEVEN = {"ad_storage", "ad_user_data", "ad_personalization", "analytics_storage",
         "functionality_storage", "personalization_storage", "security_storage"}


def config(client, site_key, ip, **headers):
    r = client.get(f"/api/v1/sites/{site_key}/config", headers=from_ip(ip, **headers))
    assert r.status_code == 200, r.json
    return r


@pytest.mark.parametrize("where,regime,country,region", [
    ("DE", "opt_in", "DE", "DE-BE"), ("US-CA", "opt_out", "US", "US-CA"), ("JP", "notice", "JP", None),
    ("private", "opt_in", None, None), ("CA-QC", "opt_in", "CA", "CA-QC"), ("US-NY", "notice", "US", "US-NY"),
])
def test_regime_is_decided_on_the_server(client, site, where, regime, country, region):
    cfg = config(client, site[0], IPS[where]).json
    assert (cfg["regime"], cfg["country"], cfg["region"]) == (regime, country, region)


def test_opt_in_purposes_start_off_except_necessary(client, site):
    cfg = config(client, site[0], IPS["DE"]).json
    defaults = {p["slug"]: (p["default"], p["locked"]) for p in cfg["purposes"]}
    assert defaults == {"necessary": (True, True), "analytics": (False, False),
                        "marketing": (False, False), "preferences": (False, False)}
    cm = cfg["consent_mode"]
    assert cm["wait_for_update"] > 0
    regional, fallback = cm["defaults"]
    assert set(regional["values"]) == SEVEN and set(fallback["values"]) == SEVEN
    assert "DE" in regional["region"] and "GR" in regional["region"] and "EU" not in regional["region"]
    assert regional["values"]["ad_storage"] == "denied" and regional["values"]["security_storage"] == "granted"
    assert fallback["values"]["analytics_storage"] == "denied"  # this visitor is opt-in


def test_opt_out_defaults_on_and_gpc_denies_ads(client, site):
    cfg = config(client, site[0], IPS["US-CA"]).json
    assert all(p["default"] for p in cfg["purposes"])
    assert cfg["consent_mode"]["defaults"][1]["values"]["ad_storage"] == "granted"
    cfg = config(client, site[0], IPS["US-CA"], **{"Sec-GPC": "1"}).json
    fb = cfg["consent_mode"]["defaults"][1]["values"]
    assert cfg["gpc_header"] is True and fb["ad_storage"] == fb["ad_user_data"] == "denied"
    assert fb["analytics_storage"] == "granted"


def test_sale_share_marks_every_purpose_gpc_opts_out_of(app, client, site):
    set_purpose(app, site[0], "ads", consent_mode_keys=["ad_storage"])
    set_purpose(app, site[0], "chat", consent_mode_keys=["functionality_storage"])
    set_purpose(app, site[0], "marketing", consent_mode_keys=[])  # the slug alone makes it sale/share
    cfg = config(client, site[0], IPS["US-CA"]).json
    assert {p["slug"]: p["sale_share"] for p in cfg["purposes"]} == {
        "necessary": False, "analytics": False, "marketing": True, "preferences": False, "ads": True, "chat": False}


def test_language_follows_accept_language_and_site_list(client, site):
    cfg = config(client, site[0], IPS["DE"], **{"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}).json
    assert cfg["language"] == "de" and cfg["texts"]["reject_all"] == "Alle ablehnen"
    assert {p["slug"]: p["title"] for p in cfg["purposes"]}["analytics"] == "Statistik"
    assert cfg["dir"] == "ltr"
    cfg = config(client, site[0], IPS["FR"], **{"Accept-Language": "pt-BR"}).json
    assert cfg["language"] == "en"
    cfg = config(client, site[0], IPS["FR"], **{"Accept-Language": "fr"}).json
    assert cfg["texts"]["accept_all"] == "Tout accepter"


def test_config_caching_policy_version_and_errors(client, site):
    r = config(client, site[0], IPS["DE"], Origin="https://shop.example")
    assert r.headers["Cache-Control"].startswith("private")
    assert r.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert r.json["policy"]["version"] == "1" and len(r.json["policy"]["hash"]) == 64
    assert client.get("/api/v1/sites/nope/config").status_code == 404
    r = client.get(f"/api/v1/sites/{site[0]}/config", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403


def test_well_known_gpc(client):
    r = client.get("/.well-known/gpc.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.json["gpc"] is True and len(r.json["lastUpdate"]) == 10


def test_openapi_document_describes_the_api(client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/consents" in doc["paths"] and "/api/v1/sites/{site_key}/config" in doc["paths"]
    body = doc["paths"]["/api/v1/consents"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("ConsentIn")
    assert "decisions" in doc["components"]["schemas"]["ConsentIn"]["properties"]
    assert client.get("/api/v1/docs").status_code == 200
