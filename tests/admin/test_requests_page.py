"""The register of data-subject requests through HTTP: requests recorded on the page and through the
API, listed with their due dates and what is overdue; the export the API gives, downloaded; an
erasure only through its confirmation, then its counts; every action audited as its user; and the
roles, route by route."""
import datetime as dt
import json
import re

import pytest

from tests.admin.conftest import audit_entries, main_text, user_id
from tests.api.test_subject_erasure import site_rows
from tests.api.test_subjects import auth, email_consent, link, record

JANE = "jane.doe@example.com"


def token_of(d, page="/admin/"):
    """A CSRF token of the session (from the sign-out form every page carries)."""
    return re.search(r'name="csrf_token" value="([^"]+)"', d.get(page).get_data(as_text=True)).group(1)


def rows_of(r):
    """The register's table rows as their text, in order."""
    html = r.get_data(as_text=True)
    body = re.search(r'<table class="register">.*?<tbody>(.*?)</tbody>', html, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in re.findall(r"<tr.*?</tr>", body.group(1), re.S)
            ] if body else []


def kept_rows(app, key):
    """The site's rows but its audit entries (each view of a request is audited: a read of personal data)."""
    return [line for line in site_rows(app, key).splitlines() if not line.startswith("audit_entries:")]


def record_on_page(d, key, kind, selector, value, received):
    page = f"/admin/sites/{key}/requests"
    return d.submit(page, page, **{"request-kind": kind, "request-selector": selector, "request-value": value,
                                   "request-received_at": received.isoformat()})


def api_requests(client, api_key, status=None):
    r = client.get("/api/v1/subject-requests", query_string={"status": status} if status else {}, headers=auth(api_key))
    assert r.status_code == 200, r.json
    return r.json["requests"]


@pytest.fixture
def signed_in(dashboard, make_user, site):
    """signed_in(role) -> (a dashboard signed in with that role on the site, site key, api key, user email)."""

    def sign_in(role):
        email = make_user(role, sites=[site[0]])
        d = dashboard()
        assert d.sign_in(email).status_code == 302
        return d, site[0], site[1], email

    return sign_in


def jane(client, site_key, api_key):
    """Jane: two browsers with consents, her email and external id, an email consent she withdrew."""
    for vid in ("jane-phone-0001", "jane-laptop-0001", "jane-phone-0001"):
        record(client, site_key, vid)
    record(client, site_key, "bob-browser-0001")
    link(client, api_key, "jane-phone-0001", email=JANE, external_id="cust-jane-77")
    link(client, api_key, "jane-laptop-0001", email=JANE)
    link(client, api_key, "bob-browser-0001", email="bob@example.com")
    email_consent(client, api_key, JANE, "Jane's weekly letter")
    r = client.post("/api/v1/email-consents/withdraw", json={"email": JANE}, headers=auth(api_key))
    assert r.status_code == 200, r.json


def test_requests_from_the_page_and_the_api_are_listed_with_due_dates_and_the_overdue_said(
        app, client, runner, signed_in):
    d, key, api_key, email = signed_in("privacy")
    today = dt.datetime.now(dt.UTC).date()
    r = record_on_page(d, key, "erasure", "email", " Jane.Doe@Example.com ", today - dt.timedelta(days=31))
    assert r.status_code == 302, main_text(r)
    r = client.post("/api/v1/subject-requests", json={"kind": "access", "visitor_id": "visitor-0000-abc"},
                    headers=auth(api_key))
    assert r.status_code == 201, r.json
    from_api = r.json

    page = d.get(f"/admin/sites/{key}/requests")
    assert page.status_code == 200
    assert "Recorded the erasure request" in main_text(page)
    listed = api_requests(client, api_key)
    assert [q["kind"] for q in listed] == ["erasure", "access"]  # oldest due first
    overdue, fresh = rows_of(page)
    on_page = listed[0]
    assert on_page["selector"] == {"email": JANE} and on_page["overdue"] is True
    assert on_page["received_at"][:10] == (today - dt.timedelta(days=31)).isoformat()
    # due 30 days after receipt, and said to be overdue in words, not by colour alone
    assert overdue.startswith(f"{(today - dt.timedelta(days=1)).isoformat()} Overdue Erasure {on_page['request_id']}")
    assert fresh.startswith(f"{from_api['due_at'][:10]} Open Access {from_api['request_id']}")
    assert "Visitor id: visitor-0000-abc" in fresh
    # the list shows an email masked, as the CLI does; the full address is for the erasure's confirmation
    assert "Email: j*******@e******.com" in overdue and JANE not in page.get_data(as_text=True).lower()
    assert "1 overdue" in main_text(page)
    # the page's request is the register's, recorded and listed as its user
    actor = f"user:{user_id(runner, email)}"
    assert [e["actor"] for e in audit_entries(app, "subject_request.created")] == [actor, "key:" + api_key[:17]]
    assert actor in [e["actor"] for e in audit_entries(app, "subject_request.listed")]


def test_what_the_form_refuses_records_nothing(client, signed_in):
    d, key, api_key, _ = signed_in("privacy")
    today = dt.datetime.now(dt.UTC).date()
    for selector, value, received, says in (
            ("email", "not-an-address", today, "Not a valid email address."),
            ("visitor_id", "short", today, "8 to 64 characters"),
            ("email", JANE, today + dt.timedelta(days=2), "received_at is in the future"),
            ("external_id", "", today, "This field is required.")):
        r = record_on_page(d, key, "access", selector, value, received)
        assert r.status_code == 422 and says in main_text(r), (selector, value, main_text(r))
    assert api_requests(client, api_key) == []


def test_export_downloads_the_apis_document_and_fulfils_the_access_request(app, client, runner, signed_in):
    d, key, api_key, email = signed_in("privacy")
    jane(client, key, api_key)
    request = client.post("/api/v1/subject-requests", json={"kind": "access", "email": JANE},
                          headers=auth(api_key)).json
    page = f"/admin/sites/{key}/requests"
    action = f"/admin/sites/{key}/requests/{request['request_id']}/export"
    r = d.submit(page, action)
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.headers["Content-Disposition"].startswith("attachment;") and r.headers["Cache-Control"] == "no-store"
    assert r.is_streamed
    ours = json.loads(r.get_data(as_text=True))
    theirs = client.post("/api/v1/subjects/export", json={"email": JANE}, headers=auth(api_key)).json
    assert ours.pop("generated_at") and theirs.pop("generated_at")
    assert ours == theirs and len(ours["consent_records"]) == 3 and len(ours["email_consents"]) == 2
    # the access request is fulfilled by it, and no longer open
    [done] = api_requests(client, api_key)
    assert done["status"] == "fulfilled" and done["fulfilled_at"]
    assert api_requests(client, api_key, "open") == []
    assert rows_of(d.get(page)) == []
    assert "Fulfilled" in rows_of(d.get(f"{page}?status=all"))[0]
    actor = f"user:{user_id(runner, email)}"
    [exported] = [e for e in audit_entries(app, "subject.exported") if e["actor"] == actor]
    assert exported["details"]["request_id"] == request["request_id"] and exported["target_kind"] == "email"
    assert [e["actor"] for e in audit_entries(app, "subject_request.fulfilled")] == [actor]
    # fulfilled: exporting it again does not fulfil it twice
    assert d.client.post(action, data={"csrf_token": token_of(d)}).status_code == 409


def test_an_erasure_needs_its_confirmation_then_erases_and_shows_what_went(app, client, runner, signed_in):
    d, key, api_key, email = signed_in("owner")
    jane(client, key, api_key)
    today = dt.datetime.now(dt.UTC).date()
    assert record_on_page(d, key, "erasure", "email", JANE, today).status_code == 302
    [request] = api_requests(client, api_key)
    rid = request["request_id"]
    page = f"/admin/sites/{key}/requests"
    assert f'href="/admin/sites/{key}/requests/{rid}/erase"' in d.get(page).get_data(as_text=True)

    confirm = d.get(f"{page}/{rid}/erase")
    text = main_text(confirm)
    assert confirm.status_code == 200 and f"Email: {JANE}" in text  # in full, to confirm the right person
    expected = {"consent_records": 3, "identities": 1, "identity_links": 2, "email_consent_records": 2,
                "webhook_events": 0, "subject_requests": 1}
    assert "Consent records (their personal fields; the decisions stay, anonymous) 3" in text
    assert "Email consent records 2" in text and "Identities (the person's email and external id) 1" in text

    before = kept_rows(app, key)
    # a POST without the word, or with another, erases nothing and answers the confirmation again
    for fields in ({}, {"erase-confirm": "yes"}):
        r = d.client.post(f"{page}/{rid}/erase", data={"csrf_token": token_of(d), **fields})
        assert r.status_code == 400 and "Type the word ERASE to erase; nothing was erased." in main_text(r)
        assert "What would be erased now" in main_text(r)
    assert kept_rows(app, key) == before and api_requests(client, api_key, "open") == [request]
    assert audit_entries(app, "subject.erased") == []

    r = d.submit(f"{page}/{rid}/erase", f"{page}/{rid}/erase", **{"erase-confirm": "ERASE"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"{page}?status=all")
    shown = d.get(r.headers["Location"])
    text = main_text(shown)
    assert f"Erased the subject of request {rid}" in text and f"Erased for request {rid}" in text
    assert "Consent records (their personal fields; the decisions stay, anonymous) 3" in text
    assert "Email consent records 2" in text and "Requests of the register (kept, without who asked) 1" in text
    [row] = rows_of(shown)
    assert "Fulfilled" in row and "Email: erased" in row  # the request names no one now
    assert "Erased for request" not in main_text(d.get(page))  # shown once
    # the register's request is fulfilled and names no one; nothing of Jane is left
    [done] = api_requests(client, api_key)
    assert done["status"] == "fulfilled" and done["selector"] == {"email": None}
    after = site_rows(app, key)
    for trace in ("jane-phone-0001", "jane-laptop-0001", "cust-jane-77", JANE):
        assert trace not in after
    assert "bob-browser-0001" in after
    actor = f"user:{user_id(runner, email)}"
    [erased] = audit_entries(app, "subject.erased")
    assert erased["actor"] == actor and erased["details"]["request_id"] == rid
    assert {k: erased["details"][k] for k in expected} == expected  # what the confirmation said
    assert [e["actor"] for e in audit_entries(app, "subject_request.fulfilled")] == [actor]
    assert "jane" not in json.dumps([e for e in audit_entries(app)], default=str).lower()
    # the confirmation of a fulfilled request offers nothing to erase
    again = d.get(f"{page}/{rid}/erase")
    assert again.status_code == 200 and "fulfilled already" in main_text(again) and "erase-confirm" not in \
        again.get_data(as_text=True)
    r = d.client.post(f"{page}/{rid}/erase", data={"csrf_token": token_of(d), "erase-confirm": "ERASE"})
    assert r.status_code == 410  # it names no one: there is no one to erase


def test_an_open_request_of_another_kind_offers_export_and_no_erasure(client, signed_in):
    d, key, api_key, _ = signed_in("owner")
    made = client.post("/api/v1/subject-requests", json={"kind": "objection", "external_id": "cust-9"},
                       headers=auth(api_key)).json
    html = d.get(f"/admin/sites/{key}/requests").get_data(as_text=True)
    assert f"/requests/{made['request_id']}/export" in html and f"/requests/{made['request_id']}/erase" not in html
    r = d.get(f"/admin/sites/{key}/requests/{made['request_id']}/erase")
    assert "Only an erasure request is answered by erasing" in main_text(r) and "erase-confirm" not in \
        r.get_data(as_text=True)
    assert d.get(f"/admin/sites/{key}/requests/no-such-request/erase").status_code == 404


def test_roles_route_by_route(client, dashboard, make_user, site, make_site):
    key, api_key = site
    other_key, _ = make_site(name="Other")
    made = client.post("/api/v1/subject-requests", json={"kind": "erasure", "visitor_id": "visitor-role-0001"},
                       headers=auth(api_key)).json
    rid = made["request_id"]
    base = f"/admin/sites/{key}/requests"
    today = dt.datetime.now(dt.UTC).date().isoformat()
    new = {"request-kind": "access", "request-selector": "visitor_id", "request-value": "visitor-role-0002",
           "request-received_at": today}
    for role in ("viewer", "editor", "privacy", "owner"):
        d = dashboard()
        d.sign_in(make_user(role, sites=[key]))
        token = token_of(d)
        may_manage = role in ("privacy", "owner")
        nav = d.get(f"/admin/sites/{key}").get_data(as_text=True)
        assert (f'href="{base}"' in nav) is may_manage, role
        if may_manage:  # privacy is not offered what it may not do
            assert (f"{base}/{rid}/erase" in d.get(base).get_data(as_text=True)) is (role == "owner"), role
        assert d.get(base).status_code == (200 if may_manage else 403), role
        r = d.client.post(base, data={"csrf_token": token, **new})
        assert r.status_code == (302 if may_manage else 403), role
        r = d.client.post(f"{base}/{rid}/export", data={"csrf_token": token})
        assert r.status_code == (200 if may_manage else 403), role
        assert d.get(f"{base}/{rid}/erase").status_code == (200 if role == "owner" else 403), role
        r = d.client.post(f"{base}/{rid}/erase", data={"csrf_token": token, "erase-confirm": "ERASE"})
        assert r.status_code == (302 if role == "owner" else 403), role
        # another site's register is not theirs to see
        assert d.get(f"/admin/sites/{other_key}/requests").status_code == 404, role
    # only the owner's POST erased, once
    [done] = [q for q in api_requests(client, api_key) if q["request_id"] == rid]
    assert done["status"] == "fulfilled"


def test_a_post_without_its_csrf_token_is_refused(client, signed_in):
    d, key, api_key, _ = signed_in("owner")
    made = client.post("/api/v1/subject-requests", json={"kind": "erasure", "visitor_id": "visitor-csrf-0001"},
                       headers=auth(api_key)).json
    r = d.client.post(f"/admin/sites/{key}/requests/{made['request_id']}/erase", data={"erase-confirm": "ERASE"})
    assert r.status_code == 400
    assert [q["request_id"] for q in api_requests(client, api_key, "open")] == [made["request_id"]]
