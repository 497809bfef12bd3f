"""The register of data-subject requests: due dates, what is open, fulfilment by an export, and no
plaintext personal data in its table."""
import datetime as dt

import sqlalchemy as sa

from app.extensions import db
from tests.api.test_subjects import auth, export, people

NOW = dt.datetime.now(dt.UTC)


def register(client, api_key, kind="access", received_at=None, **selector):
    body = {"kind": kind, **selector}
    if received_at is not None:
        body["received_at"] = received_at.isoformat()
    return client.post("/api/v1/subject-requests", json=body, headers=auth(api_key))


def listed(client, api_key, query=""):
    r = client.get(f"/api/v1/subject-requests{query}", headers=auth(api_key))
    assert r.status_code == 200, r.json
    return r.json["requests"]


def test_requests_are_due_in_30_days_and_listed_oldest_due_first(client, site):
    _, api_key = site
    late = register(client, api_key, received_at=NOW - dt.timedelta(days=40), email="Late@Example.com")
    assert late.status_code == 201, late.json
    fresh = register(client, api_key, "erasure", external_id="cust-1").json
    middle = register(client, api_key, "objection", received_at=NOW - dt.timedelta(days=10), visitor_id="visitor-aaaa")
    late, middle = late.json, middle.json
    assert dt.datetime.fromisoformat(late["due_at"]) - dt.datetime.fromisoformat(late["received_at"]) == dt.timedelta(30)
    assert late["overdue"] and not middle["overdue"] and not fresh["overdue"] and late["status"] == "open"
    assert late["selector"] == {"email": "late@example.com"} and late["fulfilled_at"] is None
    assert [r["request_id"] for r in listed(client, api_key, "?status=open")] == [
        late["request_id"], middle["request_id"], fresh["request_id"]]
    assert listed(client, api_key, "?status=fulfilled") == []
    assert client.get("/api/v1/subject-requests?status=closed", headers=auth(api_key)).status_code == 422
    assert client.get("/api/v1/subject-requests").status_code == 401


def test_bad_requests_are_refused_by_field(client, site):
    _, api_key = site
    for body, field in (({"kind": "gossip", "email": "a@b.example"}, "kind"),
                        ({"email": "a@b.example"}, "kind"),
                        ({"kind": "access"}, "visitor_id"),
                        ({"kind": "access", "email": "a@b.example", "person_id": "p"}, "visitor_id"),
                        ({"kind": "access", "email": "a@b.example", "received_at": "2026-01-01T00:00:00"},
                         "received_at"),
                        ({"kind": "access", "email": "a@b.example",
                          "received_at": (NOW + dt.timedelta(days=2)).isoformat()}, "received_at")):
        r = client.post("/api/v1/subject-requests", json=body, headers=auth(api_key))
        assert r.status_code == 422 and field in r.json["errors"], (body, r.json)


def test_an_export_fulfils_the_access_request_it_names(client, make_site):
    _, api_key, jane, _, _ = people(client, make_site)
    req = register(client, api_key, email="jane@example.com").json
    erasure = register(client, api_key, "erasure", email="jane@example.com").json
    bob = register(client, api_key, email="bob@example.com").json
    by_person = register(client, api_key, person_id=jane).json
    # an export answers only an access request, about the same subject by the same selector
    assert export(client, api_key, email="jane@example.com", request_id=erasure["request_id"]).status_code == 422
    assert export(client, api_key, email="jane@example.com", request_id=bob["request_id"]).status_code == 422
    assert export(client, api_key, email="jane@example.com", request_id=by_person["request_id"]).status_code == 422
    assert export(client, api_key, email="jane@example.com", request_id="no-such-request").status_code == 404
    _, other_api = make_site(name="Other shop")
    assert export(client, other_api, email="jane@example.com", request_id=req["request_id"]).status_code == 404
    r = export(client, api_key, email="JANE@example.com", request_id=req["request_id"])
    assert r.status_code == 200 and r.json["identities"][0]["person_id"] == jane
    [done] = listed(client, api_key, "?status=fulfilled")
    assert done["request_id"] == req["request_id"] and done["fulfilled_at"] and not done["overdue"]
    assert req["request_id"] not in [x["request_id"] for x in listed(client, api_key, "?status=open")]
    again = export(client, api_key, email="jane@example.com", request_id=req["request_id"])
    assert again.status_code == 409 and again.json["code"] == 409
    assert export(client, api_key, person_id=jane, request_id=by_person["request_id"]).status_code == 200


def test_the_register_keeps_no_selector_in_the_clear(app, client, site):
    _, api_key = site
    for selector in ({"email": "Jane.Secret@Example.com"}, {"external_id": "cust-secret-77"},
                     {"visitor_id": "visitor-secret-99"}):
        assert register(client, api_key, **selector).status_code == 201
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT * FROM subject_requests")).all()
    assert len(rows) == 3
    text = " ".join(str(v) for row in rows for v in row).lower()
    for raw in ("jane.secret@example.com", "jane.secret", "cust-secret-77", "visitor-secret-99"):
        assert raw not in text, raw


def test_flask_subjects_requests_prints_the_register(client, runner, make_site):
    (site_key, api_key), (other_key, other_api) = make_site(), make_site(name="Other")
    late = register(client, api_key, received_at=NOW - dt.timedelta(days=31), email="late@example.com").json
    other = register(client, other_api, "erasure", visitor_id="visitor-bbbb").json
    r = runner.invoke(args=["subjects", "requests", site_key, "--status", "open"])
    assert r.exit_code == 0, r.output
    [line] = r.output.splitlines()
    assert "OVERDUE" in line and late["request_id"] in line and "access" in line and site_key in line
    assert "late@example.com" not in line and "email=l***@e******.com" in line
    every = runner.invoke(args=["subjects", "requests"]).output.splitlines()
    assert [late["request_id"] in every[0], other["request_id"] in every[1]] == [True, True]
    assert other_key in every[1] and "visitor_id=visitor-bbbb" in every[1]
    assert runner.invoke(args=["subjects", "requests", site_key, "--status", "fulfilled"]).output == ""
