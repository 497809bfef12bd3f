"""Erasure of a person or a browser (GDPR 17) through the API, the browser and the CLI: afterwards
nothing in the site's rows names them (email, visitor ids, address prefix, user agent, page), the
decisions stay as anonymous statistics, the ledger verifies and still catches an edit, an address
that withdrew stays suppressed, downstream systems are told, and no one else loses anything."""
import json

import sqlalchemy as sa

from app.extensions import db
from app.ledger import seals
from app.ledger.verify import verify_site
from app.models import ConsentRecord, Site
from tests.api.test_subjects import ORIGIN, auth, email_consent, link
from tests.conftest import IPS, from_ip, make_consent, visitor_secret

JANE_UA = "Mozilla/5.0 JaneBrowser/7.1"


def record(client, site_key, visitor_id, ip, agent, page):
    body = make_consent(site_key, visitor_id=visitor_id, page_url=page)
    r = client.post("/api/v1/consents", json=body, headers=from_ip(ip, Origin=ORIGIN, **{"User-Agent": agent}))
    assert r.status_code == 201, r.json
    return r.json


def site_rows(app, site_key):
    """Every row of every table that belongs to the site (or to its rows), as text."""
    with app.app_context():
        site_id = db.session.execute(sa.select(Site.id).where(Site.site_key == site_key)).scalar_one()
        out = []
        for table in db.metadata.sorted_tables:
            q = sa.select(table)
            if "site_id" in table.c:  # the rest (deliveries, say) in whole: no other site holds Jane there
                q = q.where(table.c.site_id == site_id)
            out += [f"{table.name}: {json.dumps(dict(r), default=str)}" for r in db.session.execute(q).mappings()]
        db.session.remove()
        return "\n".join(out)


def verify(app, site_key):
    with app.app_context():
        site_id = db.session.execute(sa.select(Site.id).where(Site.site_key == site_key)).scalar_one()
        seals.seal_site(site_id, 0)
        report = verify_site(site_id)
        db.session.remove()
        return report


def test_erasing_a_person_leaves_nothing_that_names_them(app, client, runner, make_site, receiver):
    (site_key, api_key), (other_key, _) = make_site(), make_site(name="Other")
    r = client.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["subject.erased"]}, headers=auth(api_key))
    assert r.status_code == 201, r.json
    for vid, page in (("jane-phone-0001", "https://shop.example/jane-wishlist"),
                      ("jane-laptop-0001", "https://shop.example/jane-basket")):
        record(client, site_key, vid, IPS["FR"], JANE_UA, page)
    record(client, site_key, "jane-phone-0001", IPS["FR"], JANE_UA, "https://shop.example/jane-wishlist")
    record(client, site_key, "bob-browser-0001", IPS["DE"], "BobAgent/1", "https://shop.example/bob")
    record(client, other_key, "jane-phone-0001", IPS["FR"], JANE_UA, "https://shop.example/jane-wishlist")
    link(client, api_key, "jane-phone-0001", email="Jane@Example.com", external_id="cust-jane-77")
    link(client, api_key, "jane-laptop-0001", email="jane@example.com")
    link(client, api_key, "bob-browser-0001", email="bob@example.com")
    email_consent(client, api_key, "jane@example.com", "Jane's weekly letter")
    client.post("/api/v1/email-consents/withdraw", json={"email": "jane@example.com"}, headers=auth(api_key))
    email_consent(client, api_key, "bob@example.com", "Bob's offers")
    request = client.post("/api/v1/subject-requests", json={"kind": "erasure", "email": "jane@example.com"},
                          headers=auth(api_key)).json
    traces = ("jane@example.com", "Jane@Example.com", "jane-phone-0001", "jane-laptop-0001", "cust-jane-77",
              "2.2.2.0", "JaneBrowser", "jane-wishlist", "jane-basket")
    # sealed first: the erasure's deletions must verify as lawful, not as tampering
    assert runner.invoke(args=["ledger", "seal", "--lag", "0"]).exit_code == 0
    before = site_rows(app, site_key)
    # the scan sees what is stored as it is while it is there (emails and external ids never are: encrypted)
    assert [t for t in traces[2:] if t not in before] == ["cust-jane-77"]

    r = client.post("/api/v1/subjects/erase", json={"email": "jane@example.com", "request_id": request["request_id"]},
                    headers=auth(api_key))
    assert r.status_code == 200, r.json
    assert r.json["consent_records"] == 3 and r.json["identities"] == 1 and r.json["identity_links"] == 2
    assert r.json["email_consent_records"] == 2 and r.json["subject_requests"] == 1

    after = site_rows(app, site_key)
    assert [t for t in traces if t in after] == []
    # Bob, and the other site's records of the same visitor id, are untouched
    assert "bob-browser-0001" in after and "BobAgent" in after and "bob@example.com" not in after  # (encrypted)
    assert "jane-phone-0001" in site_rows(app, other_key)
    # the decisions stay, anonymous, and the ledger verifies; an edit is still caught
    with app.app_context():
        kept = db.session.execute(sa.select(ConsentRecord.visitor_id, ConsentRecord.decisions)
                                  .where(ConsentRecord.visitor_id.like("erased:%"))).all()
        db.session.remove()
    assert len(kept) == 3 and all(d for _, d in kept)
    report = verify(app, site_key)
    assert report["ok"], report["problems"]
    r = runner.invoke(args=["ledger", "verify", site_key])  # the email and audit chains too
    assert r.exit_code == 0 and f"{site_key} email chain: OK (3 sealed in 1 seal(s), 0 not yet sealed, 2 deleted)" \
        in r.output, r.output
    with app.app_context():
        db.session.execute(sa.update(ConsentRecord.__table__).where(ConsentRecord.visitor_id.like("erased:%"))
                           .values(decisions={"analytics": True}))
        db.session.commit()
    assert not verify(app, site_key)["ok"]
    # the address that withdrew stays suppressed; the request is fulfilled and names no one
    check = client.post("/api/v1/consent-checks", json={"email": "jane@example.com", "purpose": "email_marketing"},
                        headers=auth(api_key)).json
    assert check["allowed"] is False
    listed = client.get("/api/v1/subject-requests", headers=auth(api_key)).json["requests"]
    assert [(q["status"], q["selector"]) for q in listed] == [("fulfilled", {"email": None})]
    # downstream systems are told whom to erase
    runner.invoke(args=["worker", "--once"])
    [event] = [e for e in receiver.unique_events().values() if e["type"] == "subject.erased"]
    assert event["data"]["email"] == "jane@example.com"
    assert sorted(event["data"]["visitor_ids"]) == ["jane-laptop-0001", "jane-phone-0001"]
    # the audit log says an erasure happened, and names no one
    log = client.get("/api/v1/audit-log?action=subject.erased", headers=auth(api_key)).json["entries"]
    assert len(log) == 1 and "jane" not in json.dumps(log).lower()


def test_a_browser_erases_its_own_visitor_with_its_secret_only(app, client, site):
    site_key, api_key = site
    record(client, site_key, "v-self-erase-1", IPS["FR"], JANE_UA, "https://shop.example/p")
    body = {"site_key": site_key, "visitor_id": "v-self-erase-1", "visitor_secret": "f" * 32}
    r = client.post("/api/v1/subjects/browser-erase", json=body, headers=from_ip(IPS["FR"], Origin=ORIGIN))
    assert r.status_code == 403
    body["visitor_secret"] = visitor_secret("v-self-erase-1")
    r = client.post("/api/v1/subjects/browser-erase", data=json.dumps(body),
                    headers=from_ip(IPS["FR"], Origin=ORIGIN, **{"Content-Type": "text/plain"}))
    assert r.status_code == 200 and r.json["consent_records"] == 1, r.json
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "v-self-erase-1" not in site_rows(app, site_key)
    # erased: its secret proves nothing any more
    assert client.post("/api/v1/subjects/browser-export", json=body,
                       headers=from_ip(IPS["FR"], Origin=ORIGIN)).status_code == 403


def test_the_cli_erases_after_asking(app, runner, client, site):
    site_key, _ = site
    record(client, site_key, "v-cli-erase-01", IPS["FR"], JANE_UA, "https://shop.example/p")
    r = runner.invoke(args=["subjects", "erase", site_key, "--visitor-id", "v-cli-erase-01"], input="n\n")
    assert r.exit_code == 1 and "v-cli-erase-01" in site_rows(app, site_key)
    r = runner.invoke(args=["subjects", "erase", site_key, "--visitor-id", "v-cli-erase-01", "--yes"])
    assert r.exit_code == 0 and "consent records: 1" in r.output, r.output
    assert "v-cli-erase-01" not in site_rows(app, site_key)


def test_replaying_erasures_after_a_restore_erases_the_subjects_again(app, client, runner, site):
    """A backup taken before an erasure brings the person back when restored: `flask subjects
    replay-erasures --since` (the time of the backup) finds them again by the audit log's keyed
    hashes and erases them again. The restore is played here by writing the same data again."""
    site_key, api_key = site
    import datetime as dt

    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S")

    def restore():
        record(client, site_key, "jane-phone-0002", IPS["FR"], JANE_UA, "https://shop.example/jane-wishlist")
        link(client, api_key, "jane-phone-0002", email="jane@example.com")
        record(client, site_key, "v-restored-0001", IPS["FR"], JANE_UA, "https://shop.example/jane-basket")

    restore()
    assert client.post("/api/v1/subjects/erase", json={"email": "jane@example.com"}, headers=auth(api_key)).status_code == 200
    assert client.post("/api/v1/subjects/erase", json={"visitor_id": "v-restored-0001"},
                       headers=auth(api_key)).status_code == 200
    assert "jane-phone-0002" not in site_rows(app, site_key)
    restore()  # the backup comes back
    assert "jane-phone-0002" in site_rows(app, site_key) and "v-restored-0001" in site_rows(app, site_key)
    r = runner.invoke(args=["subjects", "replay-erasures", "--since", since])
    assert r.exit_code == 0 and "2 erasure(s) re-applied" in r.output, r.output
    after = site_rows(app, site_key)
    assert [t for t in ("jane-phone-0002", "v-restored-0001", "JaneBrowser", "jane-wishlist") if t in after] == []
