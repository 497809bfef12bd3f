"""Personal data at rest: no raw address in any table; master key rotation; production refusal."""
import base64
import hashlib

import pytest
import sqlalchemy as sa

from app import ConfigError, create_app
from app.extensions import db
from app.models import Identity
from app.services.keyring import new_master_key
from tests.conftest import IPS, from_ip, make_consent

ADDRESS = "Jane.Secret-Person@Example.org"


def test_no_raw_email_or_external_id_in_any_table(app, client, site_ctx, receiver):
    site_key, _, auth = site_ctx
    client.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["identity.linked", "email_consent.confirmed",
                                                                          "email_consent.withdrawn"]}, headers=auth)
    client.post("/api/v1/identities", json={"visitor_id": "visitor-jane1", "email": ADDRESS,
                                            "external_id": "crm-customer-98765"}, headers=auth)
    out = client.post("/api/v1/email-consents", json={"email": ADDRESS, "source": "https://shop.example/signup",
                                                      "wording": "Newsletter", "language": "en"}, headers=auth).json
    client.post(out["confirm_url"].split("localhost", 1)[-1])
    client.post("/api/v1/email-consents/withdraw", json={"email": ADDRESS}, headers=auth)
    client.post("/api/v1/consents", json=make_consent(site_key, visitor_id="visitor-jane1"),
                headers=from_ip(IPS["DE"], Origin="https://shop.example"))
    with app.app_context():
        dump = []
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(sa.select(table)):
                dump.append(" ".join(str(v) for v in row))
        text = "\n".join(dump).lower()
    assert "identities" in {t.name for t in db.metadata.sorted_tables}
    for needle in ("jane.secret-person", "secret-person@", "example.org", "crm-customer-98765"):
        assert needle not in text, needle
    assert "v1:" in text  # the ciphertexts are there


def test_rotate_master_rewraps_keyrings_and_leaves_records(app, client, runner, site_ctx, monkeypatch):
    _, _, auth = site_ctx
    client.post("/api/v1/identities", json={"visitor_id": "visitor-jane1", "email": ADDRESS}, headers=auth)
    with app.app_context():
        before = [tuple(r) for r in db.session.execute(sa.select(Identity.__table__))]
    old = base64.b64encode(hashlib.sha256(b"opsiq-dev-master-key|" + app.config["SECRET_KEY"].encode()).digest()).decode()
    monkeypatch.setitem(app.config, "OPSIQ_MASTER_KEY", new_master_key())
    r = runner.invoke(args=["keys", "rotate-master"], env={"OPSIQ_OLD_MASTER_KEY": old})
    assert r.exit_code == 0 and "re-wrapped 1" in r.output, r.output
    r = runner.invoke(args=["keys", "rotate-master", "--old-master-key", old])
    assert "0 site keyring(s); 1 already" in r.output  # idempotent
    with app.app_context():
        assert [tuple(r) for r in db.session.execute(sa.select(Identity.__table__))] == before
    r = client.post("/api/v1/identities", json={"visitor_id": "visitor-jane2", "email": ADDRESS.upper()}, headers=auth)
    assert r.status_code == 201 and r.json["created"] is False  # same person found under the new master key
    r = runner.invoke(args=["keys", "rotate-master", "--old-master-key", new_master_key()])
    assert r.exit_code == 0  # everything already under the current key: nothing to open with the wrong one
    monkeypatch.setitem(app.config, "OPSIQ_MASTER_KEY", new_master_key())
    r = runner.invoke(args=["keys", "rotate-master", "--old-master-key", new_master_key()])
    assert r.exit_code != 0 and "neither" in r.output


def test_production_needs_a_master_key(monkeypatch, tmp_path):
    monkeypatch.setenv("OPSIQ_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-long-enough-production-secret")
    monkeypatch.delenv("OPSIQ_MASTER_KEY", raising=False)
    url = f"sqlite:///{tmp_path}/x.sqlite"
    with pytest.raises(ConfigError, match="OPSIQ_MASTER_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": url})
    monkeypatch.setenv("OPSIQ_MASTER_KEY", "too-short")
    with pytest.raises(ConfigError, match="OPSIQ_MASTER_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": url})
    monkeypatch.setenv("OPSIQ_MASTER_KEY", new_master_key())
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    assert app.config["WEBHOOK_ALLOW_PRIVATE"] is None  # so refused in production (SSRF)
