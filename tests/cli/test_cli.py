"""The flask commands, through the CLI runner."""
import json

import sqlalchemy as sa
import yaml

from app.extensions import db
from app.models import ApiKey
from tests.conftest import IPS, from_ip


def test_sites_create_json_prints_only_keys(app, runner):
    r = runner.invoke(args=["sites", "create", "--name", "Blog", "--origin", "https://blog.example", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert set(out) == {"site_key", "api_key"} and out["api_key"].startswith("opsiq_sk_")
    with app.app_context():
        stored = db.session.execute(sa.select(ApiKey.key_hash)).scalars().all()
    assert out["api_key"] not in stored and len(stored[0]) == 64  # only a hash is kept
    listed = runner.invoke(args=["sites", "list"]).output
    assert out["site_key"] in listed and "https://blog.example" in listed


def test_sites_create_rejects_bad_origin(runner):
    r = runner.invoke(args=["sites", "create", "--name", "X", "--origin", "blog.example/path"])
    assert r.exit_code != 0 and "not an origin" in r.output


def test_export_import_roundtrip_yaml(app, runner, site, tmp_path):
    site_key, _ = site
    doc = yaml.safe_load(runner.invoke(args=["sites", "export", site_key, "--format", "yaml"]).output)
    assert doc["site_key"] == site_key and [p["slug"] for p in doc["purposes"]][0] == "necessary"
    doc["name"] = "Renamed shop"
    doc["regime_overrides"] = {"US-NY": "opt_out"}
    doc["purposes"].append({"slug": "video", "legal_basis": "consent", "titles": {"en": "Videos"},
                            "consent_mode_keys": [], "cookies": ["yt"]})
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(doc))
    r = runner.invoke(args=["sites", "import", str(path)])
    assert r.exit_code == 0, r.output
    again = json.loads(runner.invoke(args=["sites", "export", site_key]).output)
    assert again["name"] == "Renamed shop" and again["purposes"][-1]["slug"] == "video"
    client = app.test_client()
    cfg = client.get(f"/api/v1/sites/{site_key}/config", headers=from_ip(IPS["US-NY"])).json
    assert cfg["regime"] == "opt_out" and "video" in [p["slug"] for p in cfg["purposes"]]


def test_import_new_site_and_invalid_document(runner, tmp_path):
    path = tmp_path / "new.json"
    path.write_text(json.dumps({"site_key": "newsite0001", "name": "New", "origins": ["https://n.example"],
                                "languages": ["en", "de"], "default_language": "en"}))
    r = runner.invoke(args=["sites", "import", str(path)])
    assert r.exit_code == 0 and "newsite0001" in r.output and "api_key" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "Bad", "purposes": [{"slug": "x", "legal_basis": "vibes"}],
                               "regime_overrides": {"DE": "maybe"}}))
    r = runner.invoke(args=["sites", "import", str(bad)])
    assert r.exit_code != 0
    assert "legal_basis" in r.output and "regime_overrides.DE" in r.output and "necessary" in r.output


def test_keys_create_and_revoke(app, runner, site):
    site_key, api_key = site
    r = runner.invoke(args=["keys", "create", site_key, "--name", "ci"])
    new_key = r.output.strip()
    assert r.exit_code == 0 and new_key.startswith("opsiq_sk_") and new_key != api_key
    r = runner.invoke(args=["keys", "revoke", new_key])
    assert r.exit_code == 0 and "revoked 1" in r.output
    assert runner.invoke(args=["keys", "revoke", new_key]).exit_code != 0
    assert runner.invoke(args=["keys", "create", "nosuchsite"]).exit_code != 0


def test_policy_publish_changes_the_config_and_future_versions_wait(app, runner, site):
    site_key, _ = site
    client = app.test_client()
    r = runner.invoke(args=["policy", "publish", site_key, "--version", "2026-02", "--url", "https://shop.example/p2"])
    assert r.exit_code == 0, r.output
    cfg = client.get(f"/api/v1/sites/{site_key}/config", headers=from_ip(IPS["DE"])).json
    assert cfg["policy"]["version"] == "2026-02" and cfg["policy"]["url"] == "https://shop.example/p2"
    r = runner.invoke(args=["policy", "publish", site_key, "--version", "2027", "--url", "https://shop.example/p3",
                            "--effective-at", "2099-01-01T00:00:00+00:00"])
    assert r.exit_code == 0
    cfg = client.get(f"/api/v1/sites/{site_key}/config", headers=from_ip(IPS["DE"])).json
    assert cfg["policy"]["version"] == "2026-02"
    assert runner.invoke(args=["policy", "publish", site_key, "--version", "2027", "--url", "x"]).exit_code != 0
    assert runner.invoke(args=["policy", "publish", site_key, "--version", "3", "--url", "x",
                               "--effective-at", "tuesday"]).exit_code != 0


def test_geoip_info(runner):
    r = runner.invoke(args=["geoip", "info"])
    assert r.exit_code == 0 and "GeoLite2-City" in r.output and "2018-07-03" in r.output


def test_demo_ensure_is_idempotent(app, runner, tmp_path):
    app.instance_path = str(tmp_path)
    first = runner.invoke(args=["demo", "ensure"]).output
    second = runner.invoke(args=["demo", "ensure"]).output
    assert "demo site_key" in first and first == second
