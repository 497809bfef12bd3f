"""Identities: server and browser linking, tokens, and a person's joined consent."""
import time

from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from app.services.identities import IDENTITY_SALT
from tests.conftest import IPS, from_ip, make_consent, visitor_secret

ORIGIN = "https://shop.example"


def identity_secret(runner, site_key):
    r = runner.invoke(args=["identities", "secret", site_key])
    assert r.exit_code == 0, r.output
    return r.output.strip()


def test_server_links_visitors_to_one_person(client, site_ctx):
    _, _, auth = site_ctx
    r = client.post("/api/v1/identities", json={"visitor_id": "visitor-aaaa", "email": " Jane@Example.COM "},
                    headers=auth)
    assert r.status_code == 201, r.json
    first = r.json
    assert first["created"] and first["linked"]
    r = client.post("/api/v1/identities", json={"visitor_id": "visitor-bbbb", "email": "jane@example.com",
                                                "external_id": "cust-42"}, headers=auth)
    assert r.status_code == 201 and r.json["person_id"] == first["person_id"] and not r.json["created"]
    r = client.post("/api/v1/identities", json={"visitor_id": "visitor-cccc", "external_id": "cust-42"}, headers=auth)
    assert r.json["person_id"] == first["person_id"]
    r = client.post("/api/v1/identities", json={"visitor_id": "visitor-cccc"}, headers=auth)
    assert r.status_code == 422 and r.json["code"] == 422
    assert client.post("/api/v1/identities", json={"visitor_id": "visitor-aaaa", "email": "a@b.co"}).status_code == 401


def test_browser_identify_needs_a_token_signed_by_the_site(client, runner, site_ctx):
    site_key, _, _ = site_ctx
    r = runner.invoke(args=["identities", "token", site_key, "--email", "jane@example.com"])
    token = r.output.strip()
    body = {"site_key": site_key, "visitor_id": "visitor-aaaa", "visitor_secret": visitor_secret("visitor-aaaa"),
            "token": token}
    r = client.post("/api/v1/identities/browser", data=__import__("json").dumps(body),
                    headers={"Origin": ORIGIN, "Content-Type": "text/plain"})
    assert r.status_code == 201, r.json
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN

    # an unsigned claim, a claim signed with another key, garbage: all refused
    forged = URLSafeTimedSerializer("not-the-site-secret", salt=IDENTITY_SALT).dumps({"email": "ceo@example.com"})
    for bad in (forged, "eyJlbWFpbCI6ImNlb0BleGFtcGxlLmNvbSJ9", "x"):
        r = client.post("/api/v1/identities/browser", json=dict(body, token=bad), headers={"Origin": ORIGIN})
        assert r.status_code == 401 and r.json["code"] == 401, bad

    # an expired token (minted an hour ago by the customer's server)
    class OneHourAgo(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 3600

    expired = URLSafeTimedSerializer(identity_secret(runner, site_key), salt=IDENTITY_SALT,
                                     signer=OneHourAgo).dumps({"email": "jane@example.com"})
    r = client.post("/api/v1/identities/browser", json=dict(body, token=expired), headers={"Origin": ORIGIN})
    assert r.status_code == 401 and "expired" in r.json["message"]

    # bound to another visitor
    r = runner.invoke(args=["identities", "token", site_key, "--email", "jane@example.com", "--visitor-id", "visitor-zzzz"])
    r = client.post("/api/v1/identities/browser", json=dict(body, token=r.output.strip()), headers={"Origin": ORIGIN})
    assert r.status_code == 401

    r = client.post("/api/v1/identities/browser", json=body, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403


def test_a_visitor_id_alone_links_no_identity_to_that_visitor(client, runner, site_ctx):
    """Knowing a visitor's id (from a receipt, say) is not enough to link one's own identity to
    their browser: the link must carry the secret their consent writes are bound to."""
    site_key, _, _ = site_ctx
    record(client, site_key, "visitor-victim")
    token = runner.invoke(args=["identities", "token", site_key, "--email", "mallory@example.com"]).output.strip()
    body = {"site_key": site_key, "visitor_id": "visitor-victim", "token": token}
    for forged in ("f" * 32, None):
        r = client.post("/api/v1/identities/browser", json=dict(body, visitor_secret=forged) if forged else body,
                        headers={"Origin": ORIGIN})
        assert r.status_code in (403, 422) and r.json["code"] == r.status_code, r.json
    r = client.post("/api/v1/identities/browser", json=dict(body, visitor_secret=visitor_secret("visitor-victim")),
                    headers={"Origin": ORIGIN})
    assert r.status_code == 201 and r.json["visitor_id"] == "visitor-victim"


def record(client, site_key, visitor, ip=IPS["DE"], **kw):
    r = client.post("/api/v1/consents", json=make_consent(site_key, visitor_id=visitor, **kw),
                    headers=from_ip(ip, Origin=ORIGIN))
    assert r.status_code == 201, r.json
    return r.json


def test_person_consent_joins_linked_browsers_and_gpc_opts_out_of_sale(client, site_ctx):
    site_key, _, auth = site_ctx
    for v in ("laptop-0001", "phone-00001"):
        client.post("/api/v1/identities", json={"visitor_id": v, "email": "jane@example.com"}, headers=auth)
    record(client, site_key, "laptop-0001", decisions={"analytics": True, "marketing": True})
    record(client, site_key, "phone-00001", decisions={"analytics": False, "marketing": True})
    r = client.post("/api/v1/identities/consent", json={"email": "jane@example.com"}, headers=auth)
    assert r.status_code == 200, r.json
    p = r.json["purposes"]
    assert p["analytics"]["granted"] is False and p["analytics"]["visitor_id"] == "phone-00001"  # latest wins
    assert p["marketing"]["granted"] is True and r.json["gpc"] is False

    # GPC on the phone, then a later accept-all on the laptop without it: sale and share stay off
    record(client, site_key, "phone-00001", ip=IPS["US-CA"], decisions={}, method="custom", gpc=True)
    record(client, site_key, "laptop-0001", decisions={"analytics": True, "marketing": True}, method="accept_all")
    r = client.post("/api/v1/identities/consent", json={"email": "jane@example.com"}, headers=auth)
    assert r.json["gpc"] is True
    assert r.json["purposes"]["marketing"]["granted"] is False
    assert r.json["purposes"]["analytics"]["granted"] is True
    r = client.post("/api/v1/identities/consent", json={"email": "nobody@example.com"}, headers=auth)
    assert r.status_code == 404
