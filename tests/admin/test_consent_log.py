"""The consent log through HTTP: records written through the API, found by visitor id, record id,
a pasted receipt (a tampered one does not verify), or a person's email or external id (audited);
paged newest first by cursor; the range as CSV equal to the API's export; each record's page
with its receipt and whether its hash and seal verify; and the roles it takes."""
import base64
import datetime as dt
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.ledger import rules
from app.models import ConsentRecord, LedgerSeal
from app.services.consent_log import PAGE_SIZE, RECORD_FIELDS
from tests.admin.conftest import audit_entries, main_text, page_forms, user_id
from tests.conftest import IPS, from_ip, make_consent

EMAIL = "Jane.Doe@Example.com"


def record(client, site_key, ip=IPS["DE"], **body):
    """Write one decision through POST /api/v1/consents; its answer (record_id, receipt, decided_at...)."""
    r = client.post("/api/v1/consents", json=make_consent(site_key, **body), headers=from_ip(ip))
    assert r.status_code == 201, r.json
    return r.json


def link(client, api_key, visitor_id, **who):
    r = client.post("/api/v1/identities", json={"visitor_id": visitor_id, **who},
                    headers={"Authorization": f"Bearer {api_key}"})
    assert r.status_code == 201, r.json
    return r.json["person_id"]


def log_url(site_key):
    return f"/admin/sites/{site_key}/consents"


def record_ids(response):
    """The record ids of the log's table, in its order (each row links to its record's page)."""
    return re.findall(r'/consents/([0-9a-f-]{36})"', response.get_data(as_text=True))


def search(d, site_key, kind, query, **fields):
    """Post the log's search form as a person fills it."""
    page = log_url(site_key)
    return d.submit(page, page, kind=kind, query=query, **fields)


@pytest.fixture
def officer(dashboard, make_user, site):
    """(a dashboard signed in as the site's privacy officer, site key, api key, the officer's email)."""
    email = make_user("privacy", sites=[site[0]])
    d = dashboard()
    assert d.sign_in(email).status_code == 302
    return d, site[0], site[1], email


def test_the_log_shows_records_newest_first_a_page_at_a_time(client, officer):
    d, key, _, _ = officer
    written = [record(client, key, ip=IPS["US-CA"] if i % 2 else IPS["DE"])["record_id"] for i in range(PAGE_SIZE + 5)]
    r = d.get(log_url(key))
    assert r.status_code == 200
    first = record_ids(r)
    assert first == written[::-1][:PAGE_SIZE]
    text = main_text(r)
    assert "Records, newest first" in text and "US-CA" in text and "DE" in text and "opt-in" in text
    assert "Granted: analytics, necessary" in text and "Refused: marketing" in text
    older = re.search(r'<a href="([^"]+)">Older records</a>', r.get_data(as_text=True)).group(1)
    r = d.get(older.replace("&amp;", "&"))
    assert record_ids(r) == written[::-1][PAGE_SIZE:]
    assert "Older records" not in main_text(r) and "Newest records" in main_text(r)
    # a record written after the first page was read does not shift the pages behind it
    newest = record(client, key)["record_id"]
    assert record_ids(d.get(older.replace("&amp;", "&"))) == written[::-1][PAGE_SIZE:]
    assert record_ids(d.get(log_url(key)))[:2] == [newest, written[-1]]
    assert d.get(log_url(key) + "?cursor=bm90LWEtY3Vyc29y").status_code == 422


def test_search_by_visitor_id_and_record_id(client, officer):
    d, key, _, _ = officer
    a = [record(client, key, visitor_id="visitor-aaaa-0001")["record_id"] for _ in range(2)]
    b = record(client, key, visitor_id="visitor-bbbb-0002")["record_id"]
    r = search(d, key, "visitor_id", "visitor-aaaa-0001")
    assert r.status_code == 303 and parse_qs(urlsplit(r.location).query) == {"visitor_id": ["visitor-aaaa-0001"]}
    r = d.get(r.location)
    assert record_ids(r) == a[::-1] and "Records found, newest first" in main_text(r)
    assert 'value="visitor-aaaa-0001"' in r.get_data(as_text=True)  # the form keeps what was searched
    r = d.get(search(d, key, "record_id", b).location)
    assert record_ids(r) == [b] and "visitor-bbbb-0002" in main_text(r)
    assert record_ids(d.get(log_url(key) + "?record_id=00000000-0000-4000-8000-000000000000")) == []
    r = d.get(search(d, key, "visitor_id", "no spaces allowed").location)
    assert r.status_code == 422 and "That is not a visitor id" in main_text(r)


def tampered(receipt, **changes):
    """The receipt with its payload changed and its signature kept (what a forger without the key can do)."""
    payload, sig = receipt.rsplit(".", 1)
    doc = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    doc.update(changes)
    new = base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{new}.{sig}"


def test_a_pasted_receipt_finds_its_record_and_a_tampered_one_does_not_verify(client, make_site, officer):
    d, key, _, _ = officer
    mine = record(client, key, visitor_id="visitor-receipt-01")
    later = record(client, key, visitor_id="visitor-receipt-01", method="accept_all", decisions={})
    r = search(d, key, "receipt", mine["receipt"])
    assert r.status_code == 200
    text = main_text(r)
    assert "This receipt verifies" in text and mine["record_id"] in text
    assert "A later decision of this visitor has replaced it" in text and "says what the receipt says" in text
    assert record_ids(r) == [mine["record_id"]] and "The record the receipt names" in text
    assert "This receipt verifies" in main_text(search(d, key, "receipt", later["receipt"]))
    assert "It is the visitor's current decision" in main_text(search(d, key, "receipt", later["receipt"]))

    forged = tampered(mine["receipt"], d={"analytics": True, "marketing": True, "necessary": True})
    for token, why in ((forged, "not signed with this site's receipt key"), ("not-a-receipt", "it is not a receipt")):
        r = search(d, key, "receipt", token)
        assert r.status_code == 200 and record_ids(r) == [], token
        assert "This receipt does not verify" in main_text(r) and why in main_text(r), token
    other_key, _ = make_site(name="Other")
    theirs = record(client, other_key)["receipt"]
    r = search(d, key, "receipt", theirs)  # another site's receipt is no proof of anything here
    assert "This receipt does not verify" in main_text(r) and record_ids(r) == []


def test_a_person_is_found_by_email_or_external_id_through_the_identity_index_audited(app, client, runner,
                                                                                         officer):
    d, key, api_key, email = officer
    jane = [record(client, key, visitor_id="jane-browser-1")["record_id"],
            record(client, key, visitor_id="jane-browser-2")["record_id"],
            record(client, key, visitor_id="jane-browser-1")["record_id"]]
    record(client, key, visitor_id="bob-browser-1")
    person = link(client, api_key, "jane-browser-1", email="jane.doe@example.com", external_id="cust-42")
    link(client, api_key, "jane-browser-2", email="jane.doe@example.com")

    r = search(d, key, "email", f"  {EMAIL} ")  # as typed: case and spaces do not matter
    assert r.status_code == 200 and r.request.path == log_url(key)
    assert record_ids(r) == jane[::-1]
    text = main_text(r)
    assert person in text and "2 linked visitor(s)" in text and "bob-browser-1" not in text
    assert "This look-up is in the audit log" in text
    r = search(d, key, "external_id", "cust-42")
    assert record_ids(r) == jane[::-1]
    r = search(d, key, "email", "nobody@example.com")
    assert record_ids(r) == [] and "No one with that email is known on this site" in main_text(r)

    entries = audit_entries(app, "consent_log.searched")
    linked = {e["target_kind"]: e["target_id"] for e in audit_entries(app, "identity.linked")}
    assert [(e["target_kind"], e["details"]["found"], e["details"]["records"]) for e in entries] == [
        ("email", True, 3), ("external_id", True, 3), ("email", False, 0)]
    actor = f"user:{user_id(runner, email)}"
    for e in entries:
        assert e["actor"] == actor and re.fullmatch(r"[0-9a-f]{64}", e["target_id"])
        assert "example.com" not in repr(e) and "cust-42" not in repr(e)  # the keyed hash, never the value
    # the same keyed hash the identity index keeps: the audit log can say whom it was about
    assert entries[0]["target_id"] == linked["email"]


def test_a_persons_records_are_paged_by_posting_again_each_page_audited(app, client, officer):
    d, key, api_key, _ = officer
    written = [record(client, key, visitor_id="many-visits-01")["record_id"] for _ in range(PAGE_SIZE + 2)]
    link(client, api_key, "many-visits-01", external_id="cust-7")
    r = search(d, key, "external_id", "cust-7")
    assert record_ids(r) == written[::-1][:PAGE_SIZE]
    # the next page is a form posting the search again with its cursor: no external id in any URL
    html = r.get_data(as_text=True)
    assert "cust-7" not in "".join(re.findall(r'href="([^"]*)"', html))
    [older] = [f for f in page_forms(html) if f["fields"].get("cursor")]
    r = d.client.post(older["action"], data=older["fields"])
    assert record_ids(r) == written[::-1][PAGE_SIZE:]
    assert [e["details"]["next_page"] for e in audit_entries(app, "consent_log.searched")] == [False, True]


def test_a_time_range_and_its_csv_are_the_api_exports(app, client, site_ctx, dashboard, make_user, runner):
    key, api_key, auth = site_ctx
    email = make_user("privacy", sites=[key])
    d = dashboard()
    d.sign_in(email)
    made = [record(client, key, ip=ip) for ip in (IPS["DE"], IPS["FR"], IPS["US-CA"], IPS["GB"])]
    start, end = made[1]["decided_at"], made[3]["decided_at"]  # the 2nd and 3rd: [start, end)
    field = lambda iso: dt.datetime.fromisoformat(iso).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")  # noqa: E731
    r = d.get(search(d, key, "visitor_id", "", **{"from": field(start), "to": field(end)}).location)
    assert record_ids(r) == [made[2]["record_id"], made[1]["record_id"]]
    csv_link = re.search(r'<a href="([^"]+)" download>Download these records as CSV</a>', r.get_data(as_text=True))
    ours = d.get(csv_link.group(1).replace("&amp;", "&"))
    assert ours.status_code == 200 and ours.mimetype == "text/csv"
    assert ours.headers["Content-Disposition"] == f'attachment; filename="consents-{key}.csv"'
    api = client.get("/api/v1/consents", query_string={"format": "csv", "from": start, "to": end}, headers=auth)
    assert api.status_code == 200
    assert ours.get_data(as_text=True) == api.get_data(as_text=True)
    assert len(ours.get_data(as_text=True).splitlines()) == 3  # the header and the two records

    # the whole log, and one visitor's, as the API gives them
    whole = re.search(r'<a href="([^"]+)" download>', unescaped(d.get(log_url(key)))).group(1)
    assert d.get(whole).get_data() == client.get("/api/v1/consents?format=csv", headers=auth).get_data()
    vid = "csv-visitor-0001"
    record(client, key, visitor_id=vid)
    mine = d.get(f"/admin/sites/{key}/consents.csv?visitor_id={vid}").get_data()
    assert mine == client.get(f"/api/v1/consents?format=csv&visitor_id={vid}", headers=auth).get_data()
    assert len(mine.splitlines()) == 2

    # audited as the API's export is: export.read, by the officer
    reads = audit_entries(app, "export.read")
    actor = f"user:{user_id(runner, email)}"
    ours_reads = [e for e in reads if e["actor"] == actor]
    assert [(e["details"]["format"], e["details"]["records"]) for e in ours_reads] == [
        ("csv", 2), ("csv", 4), ("csv", 1)]
    assert ours_reads[2]["details"]["visitor"] == [e for e in reads if e["actor"] != actor][-1]["details"]["visitor"]
    r = d.get(f"/admin/sites/{key}/consents.csv?from=yesterday")
    assert r.status_code == 422


def unescaped(response):
    """A page's HTML with its links' `&amp;` as the browser follows them."""
    return response.get_data(as_text=True).replace("&amp;", "&")


def set_column(app, record_id, **values):
    """Change a stored record behind the ledger's back (what someone with database access could do)."""
    with app.app_context():
        db.session.execute(sa.update(ConsentRecord).where(ConsentRecord.record_id == record_id).values(**values))
        db.session.commit()


def test_a_records_page_shows_every_field_its_receipt_and_its_proof(app, client, runner, officer):
    d, key, _, _ = officer
    made = record(client, key, visitor_id="visitor-proof-001")
    page = f"/admin/sites/{key}/consents/{made['record_id']}"
    r = d.get(page)
    assert r.status_code == 200
    text = main_text(r)
    assert "This record verifies" in text and "Hash: verifies." in text and "Not sealed yet." in text
    for name in RECORD_FIELDS:
        assert f"<dt>{name}</dt>" in r.get_data(as_text=True), name
    assert "visitor-proof-001" in text and "81.169.145.0" in text and "https://shop.example/products" in text
    assert made["receipt"] in text  # the record's receipt is the one the visitor was given

    assert runner.invoke(args=["ledger", "seal", key, "--lag", "0"]).exit_code == 0
    text = main_text(d.get(page))
    assert "This record verifies" in text and "Sealed in seal 1 (1 records" in text
    assert "the seal's hash verifies (it chains to the seal before it) and its MAC is the ledger's" in text

    set_column(app, made["record_id"], decisions={"analytics": True, "marketing": True, "necessary": True})
    text = main_text(d.get(page))
    assert "This record does not verify" in text and "Hash: does not verify." in text
    assert f"record {made['record_id']} differs from what seal 1 holds" in text
    assert "This receipt verifies" in main_text(search(d, key, "receipt", made["receipt"]))
    assert "no longer says what the receipt says, in: decisions" in main_text(search(d, key, "receipt",
                                                                                          made["receipt"]))

    other = record(client, key)
    runner.invoke(args=["ledger", "seal", key, "--lag", "0"])
    with app.app_context():
        db.session.execute(sa.update(LedgerSeal).where(LedgerSeal.seq == 2).values(mac="0" * 64))
        db.session.commit()
    text = main_text(d.get(f"/admin/sites/{key}/consents/{other['record_id']}"))
    assert "This record does not verify" in text and "Hash: verifies." in text
    assert "the seal does not verify" in text and "does not carry the ledger's MAC" in text
    assert d.get(f"/admin/sites/{key}/consents/00000000-0000-4000-8000-000000000000").status_code == 404


def test_a_record_forged_between_two_seals_shows_it_is_in_no_seal(app, client, runner, make_site, officer):
    d, key, _, _ = officer
    other, _ = make_site(name="Other")
    record(client, key)
    runner.invoke(args=["ledger", "seal", key, "--lag", "0"])
    freed = record(client, other)["record_id"]
    record(client, key)
    runner.invoke(args=["ledger", "seal", key, "--lag", "0"])
    late = record(client, key)["record_id"]
    with app.app_context():  # the late record moved, back-dated and re-hashed by the rules, to the freed row id
        t = ConsentRecord.__table__
        gap = db.session.execute(sa.select(t.c.id).where(t.c.record_id == freed)).scalar()
        forged = dict(db.session.execute(sa.select(t).where(t.c.record_id == late)).mappings().one())
        db.session.execute(sa.delete(t).where(t.c.id.in_([gap, forged["id"]])))
        forged.update(id=gap, created_at=forged["created_at"] - dt.timedelta(hours=1))
        forged["record_hash"] = rules.hash_in_stored_form(forged, forged["record_hash"])
        db.session.execute(sa.insert(t).values(**forged))
        db.session.commit()
    text = main_text(d.get(f"/admin/sites/{key}/consents/{late}"))
    assert "This record does not verify" in text and "Hash: verifies." in text
    assert "In no seal: seal 2 answers for this row but does not list it" in text
    assert f"record {late} was not in seal 2" in text


def test_an_erased_record_shows_it_is_erased_and_still_verifies(client, runner, site_ctx, dashboard, make_user):
    key, api_key, auth = site_ctx
    d = dashboard()
    d.sign_in(make_user("privacy", sites=[key]))
    made = record(client, key, visitor_id="visitor-erase-01")
    runner.invoke(args=["ledger", "seal", key, "--lag", "0"])
    r = client.post("/api/v1/subjects/erase", json={"visitor_id": "visitor-erase-01"}, headers=auth)
    assert r.status_code == 200, r.json
    r = d.get(f"/admin/sites/{key}/consents/{made['record_id']}")
    text = main_text(r)
    assert "This record verifies" in text and "Hash: verifies." in text and "Erased at" in text
    assert "by erasure entry" in text and "Sealed in seal 1" in text
    assert "visitor-erase-01" not in text and "81.169.145.0" not in text and f"erased:{made['record_id']}" in text
    assert "None: the record is erased" in text and made["receipt"] not in text
    r = search(d, key, "receipt", made["receipt"])  # the visitor's receipt still finds it
    assert "This receipt verifies" in main_text(r) and "erased since" in main_text(r)
    assert record_ids(r) == [made["record_id"]] and "erased" in main_text(r)
    assert record_ids(d.get(log_url(key))) == [made["record_id"]]


def test_only_the_privacy_officer_and_the_owner_read_the_log(client, dashboard, make_user, make_site):
    key, api_key = make_site()
    other, _ = make_site(name="Other")
    made = record(client, key)
    routes = ["/admin/sites/{key}/consents", "/admin/sites/{key}/consents.csv",
              "/admin/sites/{key}/consents/" + made["record_id"]]
    for role, status in (("viewer", 403), ("editor", 403), ("privacy", 200), ("owner", 200)):
        d = dashboard()
        d.sign_in(make_user(role, sites=[key]))
        for route in routes:
            assert d.get(route.format(key=key)).status_code == status, (role, route)
            assert d.get(route.format(key=other)).status_code == 404, (role, route)  # not granted: no such site
        nav = d.get(f"/admin/sites/{key}").get_data(as_text=True)
        assert (f'href="/admin/sites/{key}/consents"' in nav) == (status == 200), role
        # the search form's POST is refused alike (its token taken from a page the user may see)
        token = re.search(r'name="csrf_token" value="([^"]+)"', nav).group(1)
        for site_key, expected in ((key, 303 if status == 200 else 403), (other, 404)):
            r = d.client.post(f"/admin/sites/{site_key}/consents", data={"csrf_token": token, "kind": "visitor_id",
                                                                        "query": "visitor-0000-0001"})
            assert r.status_code == expected, (role, site_key)
        r = d.client.post(f"/admin/sites/{key}/consents", data={"csrf_token": token, "kind": "email",
                                                               "query": "jane@example.com"})
        assert r.status_code == status, role
        if role == "viewer":
            assert "Your role (viewer) may not read the consent log" in main_text(d.get(routes[0].format(key=key)))


def test_a_records_page_names_its_widget_build_and_its_proof_pack(app, client, runner, officer):
    d, key, _, _ = officer
    build = client.get(f"/api/v1/sites/{key}/config", headers=from_ip(IPS["DE"])).json["widget_build"]
    made = record(client, key, widget_build=build)
    page = f"/admin/sites/{key}/consents/{made['record_id']}"
    text = main_text(d.get(page))
    assert f"Widget build {build} : a build this server served." in text  # (the code's tags leave a space)
    assert "No proof pack yet for policy version 1: the worker builds it." in text
    assert runner.invoke(args=["proof", "build", key, "--version", "1"]).exit_code == 0
    text = main_text(d.get(page))
    assert "Proof pack of policy version 1:" in text and ", made with this very widget build." in text
    assert f'href="/admin/sites/{key}/proof/1"' in d.get(page).get_data(as_text=True)
    other = record(client, key)
    text = main_text(d.get(f"/admin/sites/{key}/consents/{other['record_id']}"))
    assert "No widget build : the decision came from another client" in text
