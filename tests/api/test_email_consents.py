"""Email marketing consent: single and double opt-in, unsubscribe, and the check."""
import json
import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import EmailConsentRecord, EmailSuppression
from tests.conftest import IPS, from_ip, make_consent

SIGNUP = {"source": "https://shop.example/newsletter", "wording": "Send me the weekly newsletter.", "language": "en"}


def signup(client, auth, email, **kw):
    r = client.post("/api/v1/email-consents", json={"email": email, **SIGNUP, **kw}, headers=auth)
    assert r.status_code == 201, r.json
    return r.json


def check(client, auth, email):
    r = client.post("/api/v1/email-consents/check", json={"email": email, "purpose": "email_marketing"}, headers=auth)
    assert r.status_code == 200, r.json
    return r.json


def path(url):
    return re.sub(r"^https?://[^/]+", "", url)


def events(app):
    with app.app_context():
        return [(r.event, r.method) for r in db.session.execute(
            sa.select(EmailConsentRecord).order_by(EmailConsentRecord.id)).scalars()]


def test_unknown_address_is_denied(client, site_ctx):
    out = check(client, site_ctx[2], "stranger@example.com")
    assert out["allowed"] is False and out["basis"] == "none" and out["submission_record_id"] is None


def test_double_opt_in_counts_only_after_the_click(app, client, site_ctx):
    auth = site_ctx[2]
    out = signup(client, auth, "Jane@Example.com")
    assert out["status"] == "pending" and out["double_opt_in"] and out["confirm_url"]
    assert out["list_unsubscribe_headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert check(client, auth, "jane@example.com")["allowed"] is False

    # following the link (or a mail scanner prefetching it) only shows the confirm button
    r = client.get(path(out["confirm_url"]))
    assert r.status_code == 200 and b'method="post"' in r.data
    assert check(client, auth, "jane@example.com")["allowed"] is False
    r = client.post(path(out["confirm_url"]), headers=from_ip(IPS["DE"]))
    assert r.status_code == 200 and b"confirmed" in r.data and r.mimetype == "text/html"
    answer = check(client, auth, " JANE@example.com")
    assert answer["allowed"] is True and answer["basis"] == "double_opt_in"
    assert answer["submission_record_id"] == out["record_id"] and answer["confirmation_record_id"]
    assert answer["given_at"] and answer["confirmed_at"] and answer["withdrawn_at"] is None

    # a second click records nothing new
    assert client.post(path(out["confirm_url"])).status_code == 200
    assert events(app) == [("submitted", "api"), ("confirmed", "link")]


def test_single_opt_in_counts_at_once(client, site_ctx):
    auth = site_ctx[2]
    out = signup(client, auth, "sam@example.com", double_opt_in=False)
    assert out["status"] == "confirmed" and out["confirm_url"] is None
    answer = check(client, auth, "sam@example.com")
    assert answer["allowed"] is True and answer["basis"] == "single_opt_in"
    assert answer["submission_record_id"] == out["record_id"] and answer["confirmation_record_id"] is None


def test_site_default_can_be_single_opt_in(client, runner, site_ctx):
    site_key, _, auth = site_ctx
    assert runner.invoke(args=["email-consents", "double-opt-in", site_key, "off"]).exit_code == 0
    assert signup(client, auth, "sam@example.com")["basis"] == "single_opt_in"


def test_one_click_unsubscribe_wins_over_an_older_opt_in(app, client, site_ctx):
    auth = site_ctx[2]
    out = signup(client, auth, "jane.doe@example.com")
    client.post(path(out["confirm_url"]))
    assert check(client, auth, "jane.doe@example.com")["allowed"]

    page = client.get(path(out["unsubscribe_url"]))
    assert page.status_code == 200 and b'method="post"' in page.data
    assert b"j*******@e******.com" in page.data and b"jane.doe" not in page.data
    assert check(client, auth, "jane.doe@example.com")["allowed"]  # a GET (a link scanner) changes nothing

    r = client.post(path(out["unsubscribe_url"]), data={"List-Unsubscribe": "One-Click"})  # RFC 8058
    assert r.status_code == 200
    answer = check(client, auth, "jane.doe@example.com")
    assert answer["allowed"] is False and answer["withdrawal_record_id"] and answer["withdrawn_at"]
    # the old confirmation link cannot revive it
    assert client.post(path(out["confirm_url"])).status_code == 410
    assert check(client, auth, "jane.doe@example.com")["allowed"] is False
    assert events(app)[-1] == ("withdrawn", "one_click")
    with app.app_context():
        [sup] = db.session.execute(sa.select(EmailSuppression)).scalars().all()
        assert len(sup.email_hash) == 64


def test_api_withdrawal_and_a_later_double_opt_in(client, site_ctx):
    auth = site_ctx[2]
    signup(client, auth, "sam@example.com", double_opt_in=False)
    r = client.post("/api/v1/email-consents/withdraw", json={"email": "SAM@example.com"}, headers=auth)
    assert r.status_code == 200 and r.json["allowed"] is False
    assert check(client, auth, "sam@example.com")["allowed"] is False
    # a fresh signup is pending until confirmed, and the suppression holds meanwhile
    again = signup(client, auth, "sam@example.com")
    assert check(client, auth, "sam@example.com")["allowed"] is False
    client.post(path(again["confirm_url"]))
    assert check(client, auth, "sam@example.com")["allowed"] is True


def test_single_opt_in_cannot_lift_a_suppression(client, site_ctx):
    auth = site_ctx[2]
    signup(client, auth, "pat@example.com", double_opt_in=False)
    client.post("/api/v1/email-consents/withdraw", json={"email": "pat@example.com"}, headers=auth)
    again = signup(client, auth, "pat@example.com", double_opt_in=False)
    assert again["double_opt_in"] is True and again["status"] == "pending" and again["confirm_url"]
    assert check(client, auth, "pat@example.com")["allowed"] is False
    client.post(path(again["confirm_url"]))
    assert check(client, auth, "pat@example.com")["basis"] == "double_opt_in"


def test_banner_marketing_grant_never_allows_email(client, site_ctx):
    site_key, _, auth = site_ctx
    client.post("/api/v1/identities", json={"visitor_id": "visitor-jane1", "email": "jane@example.com"}, headers=auth)
    r = client.post("/api/v1/consents", json=make_consent(site_key, visitor_id="visitor-jane1", method="accept_all",
                                                          decisions={"marketing": True}),
                    headers=from_ip(IPS["DE"], Origin="https://shop.example"))
    assert r.status_code == 201 and r.json["decisions"]["marketing"] is True
    answer = check(client, auth, "jane@example.com")
    assert answer["allowed"] is False and answer["basis"] == "none"


def test_expired_or_forged_confirmation_link(app, client, site_ctx, monkeypatch):
    auth = site_ctx[2]
    out = signup(client, auth, "late@example.com")
    assert client.get(path(out["confirm_url"]) + "x").status_code == 404
    monkeypatch.setitem(app.config, "EMAIL_CONFIRM_MAX_AGE", -1)
    r = client.post(path(out["confirm_url"]))
    assert r.status_code == 410 and b"expired" in r.data
    assert check(client, auth, "late@example.com")["allowed"] is False


def test_batch_keeps_order_and_limits(client, site_ctx):
    auth = site_ctx[2]
    signup(client, auth, "a@example.com", double_opt_in=False)
    signup(client, auth, "c@example.com", double_opt_in=False)
    client.post("/api/v1/email-consents/withdraw", json={"email": "c@example.com"}, headers=auth)
    emails = ["c@example.com", "b@example.com", "A@example.com", "not-an-address", "a@example.com"]
    r = client.post("/api/v1/email-consents/check/batch", json={"emails": emails}, headers=auth)
    assert r.status_code == 200, r.json
    assert [x["email"] for x in r.json["results"]] == emails
    assert [x["allowed"] for x in r.json["results"]] == [False, False, True, False, True]
    for bad in ([], ["x@example.com"] * 10_001):
        r = client.post("/api/v1/email-consents/check/batch", json={"emails": bad}, headers=auth)
        assert r.status_code == 422 and r.json["code"] == 422
    r = client.post("/api/v1/email-consents/check/batch", json={"emails": ["a@example.com"] * 10_000}, headers=auth)
    assert r.status_code == 200 and len(r.json["results"]) == 10_000


@pytest.mark.parametrize("body", [{"email": "x@example.com"}, {"email": "nope", **SIGNUP}, {**SIGNUP}])
def test_signup_validation(client, site_ctx, body):
    r = client.post("/api/v1/email-consents", json=body, headers=site_ctx[2])
    assert r.status_code == 422 and r.json["errors"]


def test_a_forged_unsubscribe_link_changes_nothing(client, site_ctx):
    auth = site_ctx[2]
    out = signup(client, auth, "kim@example.com", double_opt_in=False)
    for send in (client.get, client.post):
        r = send(path(out["unsubscribe_url"]) + "x")
        assert r.status_code == 404 and r.mimetype == "text/html" and b"Link not valid" in r.data
    assert check(client, auth, "kim@example.com")["allowed"] is True


def test_the_site_sets_the_double_opt_in_default_and_its_document_carries_it(app, client, runner, site_ctx):
    """`flask email-consents double-opt-in SITE off`: a signup that does not say counts at once;
    the setting is the site's (in its exported document, restored by an import) and back on again."""
    site_key, _, auth = site_ctx
    r = runner.invoke(args=["email-consents", "double-opt-in", site_key, "off"])
    assert r.exit_code == 0, r.output
    out = signup(client, auth, "lee@example.com")
    assert out["double_opt_in"] is False and out["status"] == "confirmed" and out["confirm_url"] is None
    assert check(client, auth, "lee@example.com")["basis"] == "single_opt_in"

    exported = runner.invoke(args=["sites", "export", site_key])
    doc = json.loads(exported.output)
    assert doc["email_double_opt_in"] is False
    doc["email_double_opt_in"] = True
    with app.app_context():
        from app.services.sites.documents import import_site

        import_site(doc)
    again = signup(client, auth, "max@example.com")
    assert again["double_opt_in"] is True and again["status"] == "pending" and again["confirm_url"]
    bad = runner.invoke(args=["sites", "import", "-"], input=json.dumps({**doc, "email_double_opt_in": "no"}))
    assert bad.exit_code == 1 and "email_double_opt_in: true or false" in bad.output
