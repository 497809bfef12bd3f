"""The audit log through HTTP and the CLI: what an entry holds, what it never holds, and reading it."""
import csv
import io
import json
import re

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry
from app.services.audit import entry_fields, entry_hash
from tests.conftest import IPS, from_ip, make_consent

SIGNUP = {"source": "https://shop.example/newsletter", "wording": "Send me the newsletter.", "language": "en"}
EMAIL, EXTERNAL_ID, VISITOR, IP = "Jane.Doe@example.com", "crm-4711-jane", "v-jane-000001", "81.169.145.77"


def rows(app):
    with app.app_context():
        found = db.session.execute(sa.select(AuditEntry.__table__).order_by(AuditEntry.id)).mappings().all()
        db.session.rollback()
        return [dict(r) for r in found]


def log(client, auth, **query):
    r = client.get("/api/v1/audit-log", query_string=query, headers=auth)
    assert r.status_code == 200, r.json
    return r.json


def test_no_entry_holds_an_email_an_external_id_a_raw_address_or_a_visitor_id(app, client, runner, site_ctx):
    site_key, _, auth = site_ctx
    auth = {**auth, **from_ip(IP)}
    visitor = make_consent(site_key, visitor_id=VISITOR)
    assert client.post("/api/v1/consents", json=visitor, headers=from_ip(IP)).status_code == 201
    out = client.post("/api/v1/email-consents", json={"email": EMAIL, **SIGNUP}, headers=auth).json
    assert client.post(re.sub(r"^https?://[^/]+", "", out["confirm_url"]), headers=from_ip(IP)).status_code == 200
    assert client.post("/api/v1/identities", json={"visitor_id": VISITOR, "email": EMAIL, "external_id": EXTERNAL_ID},
                       headers=auth).status_code == 201
    assert client.post("/api/v1/identities", json={"visitor_id": "v-jane-000002", "external_id": EXTERNAL_ID},
                       headers=auth).status_code == 201
    assert client.get(f"/api/v1/consents?visitor_id={VISITOR}", headers=auth).status_code == 200
    assert client.post("/api/v1/email-consents/withdraw", json={"email": EMAIL}, headers=auth).status_code == 200
    entries = rows(app)
    assert {e["action"] for e in entries} >= {"email_consent.submitted", "email_consent.confirmed", "identity.linked",
                                              "export.read", "email_consent.withdrawn"}
    text = json.dumps(entries, default=str).lower()
    for secret in (EMAIL.lower(), "jane.doe", EXTERNAL_ID, VISITOR, "v-jane-000002", IP):
        assert secret not in text, secret
    assert "81.169.145.0" in text  # the scan reads what the entries hold: the address, truncated
    linked = [e for e in entries if e["action"] == "identity.linked"]
    assert [e["target_kind"] for e in linked] == ["email", "external_id"]
    assert all(len(e["target_id"]) == 64 and len(e["details"]["visitor"]) == 64 for e in linked)
    # one person, one keyed hash: the signup, the confirmation and the withdrawal name the same target
    by_email = {e["target_id"] for e in entries if e["action"].startswith("email_consent.")}
    assert len(by_email) == 1 and by_email == {linked[0]["target_id"]}


def test_each_entry_hash_is_recomputed_from_the_row_read_back(app, runner, site_ctx):
    site_key, _, _ = site_ctx
    runner.invoke(args=["keys", "rotate-receipt", site_key])
    runner.invoke(args=["policy", "publish", site_key, "--version", "2", "--url", "https://shop.example/p2"])
    entries = rows(app)
    assert len(entries) >= 3
    for e in entries:
        assert entry_hash(entry_fields(e)) == e["entry_hash"]
    with app.app_context():  # an edit to any field changes the hash sealing will chain
        db.session.execute(sa.update(AuditEntry).where(AuditEntry.id == entries[-1]["id"]).values(actor="someone"))
        db.session.commit()
    edited = rows(app)[-1]
    assert entry_hash(entry_fields(edited)) != edited["entry_hash"]


def test_the_api_shows_a_key_its_own_site_only_filtered_and_paged(app, client, runner, make_site):
    site_key, api_key = make_site()
    other_key, other_api_key = make_site(name="Other")
    auth = {"Authorization": f"Bearer {api_key}"}
    for version in ("2", "3", "4"):
        runner.invoke(args=["policy", "publish", site_key, "--version", version, "--url", "https://shop.example/p"])
    runner.invoke(args=["policy", "publish", other_key, "--version", "2", "--url", "https://other.example/p"])
    runner.invoke(args=["keys", "rotate-master", "--old-master-key", "A" * 43 + "="])  # installation-wide
    everything = log(client, auth)
    assert [e["action"] for e in everything["entries"]] == ["site.created"] + ["policy.published"] * 3
    assert {e["site_key"] for e in everything["entries"]} == {site_key} and everything["next_cursor"] is None
    first = everything["entries"][0]
    assert first["actor"] == "unattributed" and first["target"] == {"kind": "site", "id": site_key}
    published = log(client, auth, action="policy.published", limit=2)
    assert [e["details"]["version"] for e in published["entries"]] == ["2", "3"]
    rest = log(client, auth, action="policy.published", limit=2, cursor=published["next_cursor"])
    assert [e["details"]["version"] for e in rest["entries"]] == ["4"] and rest["next_cursor"] is None
    later = log(client, auth, **{"from": published["entries"][1]["time"]})
    assert [e["details"].get("version") for e in later["entries"]] == ["3", "4"]
    assert log(client, auth, to=first["time"])["entries"] == []
    other = log(client, {"Authorization": f"Bearer {other_api_key}"})["entries"]
    assert [e["action"] for e in other] == ["site.created", "policy.published"]


def test_the_api_filters_by_actor(client, runner, site_ctx):
    site_key, api_key, auth = site_ctx
    runner.invoke(args=["keys", "rotate-receipt", site_key])
    client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["consent.recorded"]},
                headers=auth)
    key_actor = "key:" + api_key[:17]
    assert [e["action"] for e in log(client, auth, actor=key_actor)["entries"]] == ["webhook.created"]
    [cli] = log(client, auth, action="secret.rotated")["entries"]
    assert [e["action"] for e in log(client, auth, actor=cli["actor"])["entries"]] == ["secret.rotated"]
    assert log(client, auth, actor="user:999")["entries"] == []
    assert client.get("/api/v1/audit-log?actor=" + "x" * 201, headers=auth).status_code == 422


def test_the_audit_log_as_csv(app, client, runner, site_ctx):
    site_key, _, auth = site_ctx
    runner.invoke(args=["keys", "rotate-receipt", site_key])
    r = client.get("/api/v1/audit-log", headers={**auth, "Accept": "text/csv"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert [t["action"] for t in table] == ["site.created", "secret.rotated"]
    assert json.loads(table[1]["details"]) == {"secret": "receipt"} and table[1]["actor"].startswith("cli:")
    assert client.get("/api/v1/audit-log?format=csv", headers=auth).get_data(as_text=True) == r.get_data(as_text=True)


def test_bad_queries_are_refused_in_the_one_error_shape(client, site_ctx):
    _, _, auth = site_ctx
    assert client.get("/api/v1/audit-log").status_code == 401
    for query, status, field in (("action=site.deleted", 422, "action"), ("cursor=nonsense", 400, "cursor"),
                                 ("limit=0", 422, "limit"), ("from=yesterday", 422, "from")):
        r = client.get(f"/api/v1/audit-log?{query}", headers=auth)
        errors = r.json["errors"]
        assert r.status_code == status and field in errors.get("query", errors), query


def test_the_request_id_is_taken_when_well_formed_and_answered_back(app, client, site_ctx):
    site_key, _, auth = site_ctx
    hook = {"url": "http://127.0.0.1:9/hook", "events": ["consent.recorded"]}
    r = client.post("/api/v1/webhooks", json=hook, headers={**auth, "X-Request-ID": "req-2026-12-02.abc:1"})
    assert r.status_code == 201 and r.headers["X-Request-ID"] == "req-2026-12-02.abc:1"
    assert rows(app)[-1]["request_id"] == "req-2026-12-02.abc:1"
    for bad in ("short", "x" * 129, "jane@example.com", "a b c d e f g h", "<script>alert(1)</script>"):
        r = client.post("/api/v1/webhooks", json=hook, headers={**auth, "X-Request-ID": bad})
        assert r.status_code == 201 and r.headers["X-Request-ID"] != bad and len(r.headers["X-Request-ID"]) == 32
        assert rows(app)[-1]["request_id"] == r.headers["X-Request-ID"]
    hot = client.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(IPS["DE"], **{
        "X-Request-ID": "from-the-front-door"}))
    assert hot.headers["X-Request-ID"] == "from-the-front-door"


def test_a_refused_mutation_writes_no_entry(app, client, site_ctx):
    _, _, auth = site_ctx
    client.post("/api/v1/identities", json={"visitor_id": "v-one-000001", "email": "a@example.com"}, headers=auth)
    client.post("/api/v1/identities", json={"visitor_id": "v-two-000001", "external_id": "crm-2"}, headers=auth)
    before = rows(app)
    r = client.post("/api/v1/identities", json={"visitor_id": "v-one-000001", "email": "a@example.com",
                                                 "external_id": "crm-2"}, headers=auth)
    assert r.status_code == 409 and rows(app) == before


def test_the_openapi_document_describes_the_audit_log(client):
    doc = client.get("/api/v1/openapi.json").json
    op = doc["paths"]["/api/v1/audit-log"]["get"]
    assert {p["name"] for p in op["parameters"]} >= {"from", "to", "action", "actor", "cursor", "limit"}
    assert op["security"] == [{"ApiKey": []}]
    assert "AuditEntryOut" in json.dumps(doc["components"]["schemas"])


def test_flask_audit_list(app, runner, make_site):
    site_key, _ = make_site()
    other_key, _ = make_site(name="Other")
    runner.invoke(args=["keys", "rotate-receipt", site_key])
    runner.invoke(args=["email-consents", "double-opt-in", other_key, "off"])
    runner.invoke(args=["keys", "rotate-master", "--old-master-key", "A" * 43 + "="])
    one = json.loads(runner.invoke(args=["audit", "list", site_key, "--json"]).output)
    assert [e["action"] for e in one] == ["site.created", "secret.rotated"]
    every = json.loads(runner.invoke(args=["audit", "list", "--json"]).output)
    assert [e["site_key"] for e in every] == [site_key, other_key, site_key, other_key, None]
    assert every[-1]["target"] == {"kind": "installation", "id": None} and every[-1]["details"]["secret"] == "master"
    rotated = runner.invoke(args=["audit", "list", "--action", "secret.rotated"]).output.splitlines()
    assert len(rotated) == 2 and all("\tsecret.rotated\t" in line for line in rotated)
    assert rotated[0].split("\t")[1] == site_key and rotated[1].split("\t")[1] == "-"
    since = json.loads(runner.invoke(args=["audit", "list", "--json", "--from", every[2]["time"]]).output)
    assert [e["action"] for e in since] == ["secret.rotated", "site.updated", "secret.rotated"]
    bad = runner.invoke(args=["audit", "list", "--from", "tuesday"])
    assert bad.exit_code != 0 and "ISO 8601" in bad.output
    assert runner.invoke(args=["audit", "list", "nosuchsite"]).exit_code != 0


def test_details_from_a_callers_input_are_cut_to_a_summary(app, client, site_ctx):
    _, _, auth = site_ctx
    host = ("a" * 60 + ".") * 4 + "example"  # a webhook's host is the caller's text, up to its URL's 2,048
    r = client.post("/api/v1/webhooks", json={"url": f"http://{host}/hook", "events": ["consent.recorded"]},
                    headers=auth)
    assert r.status_code == 201
    assert rows(app)[-1]["details"]["host"] == host[:200]
