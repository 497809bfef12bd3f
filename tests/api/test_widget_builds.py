"""A consent record names the widget build that collected it, checked against the builds served,
and the proof pack of its policy version: in the export, the receipt check and the ledger's hash."""
import csv
import hashlib
import io
import json

import sqlalchemy as sa

from app.extensions import db
from app.models import ConsentRecord
from tests.conftest import IPS, from_ip, make_consent

ORIGIN = "https://shop.example"


def auth(api_key, **headers):
    return {"Authorization": f"Bearer {api_key}", **headers}


def post(client, body):
    return client.post("/api/v1/consents", json=body, headers=from_ip(IPS["DE"], Origin=ORIGIN))


def served_build(app):
    with open(app.static_folder + "/widget.js", "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def config_build(client, site_key):
    r = client.get(f"/api/v1/sites/{site_key}/config", headers=from_ip(IPS["DE"], Origin=ORIGIN))
    assert r.status_code == 200
    return r.json["widget_build"]


def test_the_configuration_names_the_build_and_the_record_keeps_it(app, client, runner, site):
    site_key, api_key = site
    build = served_build(app)
    assert config_build(client, site_key) == build
    script = client.get(f"/w/{site_key}.js", headers=from_ip(IPS["DE"])).get_data(as_text=True)
    assert f'"widget_build":"{build}"' in script
    r = post(client, make_consent(site_key, widget_build=build))
    assert r.status_code == 201, r.json
    with app.app_context():
        rec = db.session.execute(sa.select(ConsentRecord)).scalar_one()
        assert rec.widget_build == build

    # the proof pack of version 1 (built without screenshots in the tests: no Chromium configured)
    assert runner.invoke(args=["proof", "build", site_key, "--version", "1"]).exit_code == 0
    r = client.get("/api/v1/consents", headers=auth(api_key))
    [doc] = r.json["records"]
    assert doc["widget_build"] == build and len(doc["proof_pack"]) == 64
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/consents?format=csv", headers=auth(api_key))
                                           .get_data(as_text=True))))
    assert (rows[0]["widget_build"], rows[0]["proof_pack"]) == (build, doc["proof_pack"])
    kantara = client.get("/api/v1/consents?format=kantara", headers=auth(api_key)).json["records"][0]
    assert kantara["x-opsiq"]["widget_build"] == build and kantara["x-opsiq"]["proof_pack"] == doc["proof_pack"]

    receipt = post(client, make_consent(site_key, widget_build=build)).json["receipt"]
    check = client.post("/api/v1/receipts/verify", json={"receipt": receipt}, headers=auth(api_key)).json
    assert check["collected_with"] == {"widget_build": build, "widget_served": True, "proof_pack": doc["proof_pack"],
                                       "proof_pack_widget_build": build, "same_build": True}


def test_a_build_never_served_is_refused_and_nothing_is_written(app, client, site):
    site_key, _ = site
    config_build(client, site_key)
    for build, message in (("0" * 64, "not a widget build this server has served"),
                           ("0" * 63, "a SHA-256, 64 lower-case hex digits"),
                           ("A" * 64, "a SHA-256, 64 lower-case hex digits")):
        r = post(client, make_consent(site_key, widget_build=build))
        assert r.status_code == 422, r.json
        assert r.json["errors"]["widget_build"] == [message], r.json
    r = post(client, make_consent(site_key, widget_build=12))
    assert r.status_code == 422 and "widget_build" in json.dumps(r.json["errors"])
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(ConsentRecord)).scalar() == 0
    # a decision from another client names no build
    assert post(client, make_consent(site_key)).status_code == 201


def test_a_build_another_process_served_is_accepted(app, client, site):
    """A visitor whose page loaded before a deploy sends the old build to a process of the new one."""
    from app.models import WidgetBuild, utcnow

    site_key, _ = site
    old = hashlib.sha256(b"the widget of the previous deploy").hexdigest()
    with app.app_context():
        db.session.add(WidgetBuild(sha256=old, first_served_at=utcnow()))
        db.session.commit()
    assert post(client, make_consent(site_key, widget_build=old)).status_code == 201


def test_the_build_is_in_the_record_hash(app, client, runner, site):
    site_key, _ = site
    build = config_build(client, site_key)
    post(client, make_consent(site_key, widget_build=build))
    post(client, make_consent(site_key))
    r = runner.invoke(args=["ledger", "verify", site_key])
    assert r.exit_code == 0, r.output
    with app.app_context():
        db.session.execute(sa.update(ConsentRecord).where(ConsentRecord.widget_build == build)
                           .values(widget_build=None))  # the record no longer names the code that collected it
        db.session.commit()
    r = runner.invoke(args=["ledger", "verify", site_key])
    assert r.exit_code == 1 and "TAMPERED" in r.output, r.output
