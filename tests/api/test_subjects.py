"""POST /api/v1/subjects/export: everything of one person or browser, nothing of anyone else, streamed."""
import tracemalloc

from app.extensions import ledger
from app.services.sites.snapshot import site_snapshot
from tests.conftest import IPS, from_ip, make_consent
from tests.ledger.conftest import make_draft

ORIGIN = "https://shop.example"


def auth(api_key):
    return {"Authorization": f"Bearer {api_key}"}


def record(client, site_key, visitor_id, **body):
    r = client.post("/api/v1/consents", json=make_consent(site_key, visitor_id=visitor_id, **body),
                    headers=from_ip(IPS["DE"], Origin=ORIGIN, **{"User-Agent": f"agent-of-{visitor_id}"}))
    assert r.status_code == 201, r.json
    return r.json


def link(client, api_key, visitor_id, **who):
    r = client.post("/api/v1/identities", json={"visitor_id": visitor_id, **who}, headers=auth(api_key))
    assert r.status_code == 201, r.json
    return r.json["person_id"]


def email_consent(client, api_key, email, wording):
    r = client.post("/api/v1/email-consents", headers=auth(api_key), json={
        "email": email, "source": "https://shop.example/newsletter", "wording": wording, "language": "en",
        "double_opt_in": False})
    assert r.status_code == 201, r.json
    return r.json["record_id"]


def export(client, api_key, **selector):
    return client.post("/api/v1/subjects/export", json=selector, headers=auth(api_key))


def people(client, make_site):
    """Jane (two browsers, an email consent she withdrew) and Bob on one site; on another site the
    same visitor id and Jane's address again, as another controller's data."""
    (site_key, api_key), (other_key, other_api) = make_site(), make_site(name="Other")
    made = {"jane": [], "bob": [], "anon": [], "other": []}
    for vid in ("jane-browser-1", "jane-browser-2", "jane-browser-1"):
        made["jane"].append(record(client, site_key, vid))
    made["bob"].append(record(client, site_key, "bob-browser-1"))
    made["anon"].append(record(client, site_key, "anon-browser-1"))
    made["other"].append(record(client, other_key, "jane-browser-1"))
    jane = link(client, api_key, "jane-browser-1", email="Jane@Example.com", external_id="cust-jane")
    assert link(client, api_key, "jane-browser-2", email="jane@example.com") == jane
    link(client, api_key, "bob-browser-1", email="bob@example.com", external_id="cust-bob")
    link(client, other_api, "jane-browser-1", email="jane@example.com", external_id="other-cust")
    emails = {"jane": [email_consent(client, api_key, "jane@example.com", "Jane's weekly letter")],
              "bob": [email_consent(client, api_key, "bob@example.com", "Bob's offers")],
              "other": [email_consent(client, other_api, "jane@example.com", "Other site's letter")]}
    r = client.post("/api/v1/email-consents/withdraw", json={"email": "jane@example.com"}, headers=auth(api_key))
    emails["jane"].append(r.json["record_id"])
    return site_key, api_key, jane, made, emails


def test_a_persons_export_holds_all_of_them_and_nothing_of_anyone_else(client, make_site):
    _, api_key, jane, made, emails = people(client, make_site)
    r = export(client, api_key, email=" JANE@example.com ")
    assert r.status_code == 200, r.json
    assert r.headers["Cache-Control"] == "no-store"
    doc = r.json
    assert {"generated_at", "controller", "identities", "email_consents", "consent_records"} <= set(doc)
    assert [x["record_id"] for x in doc["consent_records"]] == [m["record_id"] for m in made["jane"]]
    assert [x["receipt"] for x in doc["consent_records"]] == [m["receipt"] for m in made["jane"]]
    assert doc["consent_records"][0]["user_agent"] == "agent-of-jane-browser-1"
    assert doc["subject"]["visitor_ids"] == ["jane-browser-1", "jane-browser-2"]
    [person] = doc["identities"]
    assert person["person_id"] == jane and person["email"] == "jane@example.com"
    assert person["external_id"] == "cust-jane"
    assert [v["visitor_id"] for v in person["links"]] == ["jane-browser-1", "jane-browser-2"]
    assert [e["record_id"] for e in doc["email_consents"]] == emails["jane"]
    assert [e["event"] for e in doc["email_consents"]] == ["submitted", "withdrawn"]
    assert doc["email_consents"][0]["wording"] == "Jane's weekly letter" and doc["email_suppressed"] is True
    # what was shown: the texts and purposes of the configuration each record names
    shown = doc["texts_shown"][doc["consent_records"][0]["config_hash"]]
    assert shown["texts"]["en"]["accept_all"] == "Accept all" and shown["purposes"][0]["slug"] == "necessary"
    assert doc["consent_records"][0]["policy_version"] == "1"
    assert doc["controller"]["site"] == "Shop" and "organisation" in doc["controller"]["missing"]
    # nothing of anyone else: not Bob, not the anonymous visitor, not the other site's records or person
    text = r.get_data(as_text=True)
    for foreign in ("bob", "anon-browser", "Other site", "other-cust", made["other"][0]["record_id"],
                    emails["other"][0], *[m["record_id"] for m in made["bob"]]):
        assert foreign not in text, foreign
    # the same person by every selector
    for selector in ({"person_id": jane}, {"external_id": "cust-jane"}):
        again = export(client, api_key, **selector).json
        assert again["consent_records"] == doc["consent_records"] and again["identities"] == doc["identities"]
        assert again["email_consents"] == doc["email_consents"]


def test_a_visitors_export_is_that_browser_only(client, make_site):
    _, api_key, jane, made, _ = people(client, make_site)
    doc = export(client, api_key, visitor_id="jane-browser-2").json
    assert [x["record_id"] for x in doc["consent_records"]] == [made["jane"][1]["record_id"]]
    [person] = doc["identities"]
    assert person["person_id"] == jane and [v["visitor_id"] for v in person["links"]] == ["jane-browser-2"]
    assert doc["email_consents"] == []


def test_selectors_and_keys(client, make_site):
    _, api_key, jane, _, _ = people(client, make_site)
    for bad in ({}, {"email": "jane@example.com", "visitor_id": "jane-browser-1"}, {"visitor_id": "x"},
                {"email": "not an address"}, {"person_id": jane, "name": "Jane"}):
        r = export(client, api_key, **bad)
        assert r.status_code == 422 and r.json["code"] == 422, bad
    assert export(client, api_key, person_id="no-such-person").status_code == 404
    assert export(client, api_key, external_id="nobody").status_code == 404
    empty = export(client, api_key, email="stranger@example.com").json  # nothing held is an answer too
    assert empty["consent_records"] == [] and empty["identities"] == [] and empty["email_consents"] == []
    assert client.post("/api/v1/subjects/export", json={"person_id": jane}).status_code == 401
    # another site's key sees its own person of that address, none of this site's
    _, other_api = make_site(name="Third")
    assert export(client, other_api, person_id=jane).status_code == 404


def test_the_document_states_the_one_selector_rule(client):
    spec = client.get("/api/v1/openapi.json").json
    body = spec["paths"]["/api/v1/subjects/export"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schema = spec["components"]["schemas"][body["$ref"].rpartition("/")[2]]
    assert set(schema["properties"]) == {"visitor_id", "email", "external_id", "person_id", "request_id"}
    assert [branch["required"] for branch in schema["oneOf"]] == [["visitor_id"], ["email"], ["external_id"],
                                                                  ["person_id"]]


def test_a_large_subject_streams_one_batch_at_a_time(app, client, site):
    """A browser with thousands of records: the answer streams, and reading it all holds far less
    than the document (were every record held at once, the peak would pass the body's size)."""
    site_key, api_key = site
    with app.app_context():
        snap = site_snapshot(site_key, 0)
        drafts = [make_draft(snap, visitor_id="big-visitor-1") for _ in range(3000)]
        for i in range(0, len(drafts), 500):
            ledger.state.repository.write(drafts[i:i + 500])
    tracemalloc.start()
    try:
        r = client.post("/api/v1/subjects/export", json={"visitor_id": "big-visitor-1"}, headers=auth(api_key),
                        buffered=False)
        assert r.status_code == 200 and r.is_streamed
        pieces = [len(piece) for piece in r.response]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    r.close()
    assert len(pieces) > 10 and peak < sum(pieces) / 2, (peak, sum(pieces))
    head = client.post("/api/v1/subjects/export", json={"visitor_id": "big-visitor-1"}, headers=auth(api_key)).json
    assert len(head["consent_records"]) == 3000
