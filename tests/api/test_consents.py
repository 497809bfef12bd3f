"""POST /api/v1/consents: recording decisions through the HTTP API."""
import json

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeSerializer

from app.extensions import db
from app.models import ConsentRecord, ReceiptKey
from tests.conftest import IPS, from_ip, make_consent

ORIGIN = "https://shop.example"


def post(client, body, ip=IPS["DE"], **headers):
    return client.post("/api/v1/consents", json=body, headers=from_ip(ip, Origin=ORIGIN, **headers))


def rows(app):
    with app.app_context():
        return db.session.execute(sa.select(ConsentRecord).order_by(ConsentRecord.id)).scalars().all()


def test_records_a_decision_with_every_proof_field(app, client, site):
    site_key, _ = site
    body = make_consent(site_key)
    r = client.post(
        "/api/v1/consents", json=body,
        headers=from_ip("81.169.145.77", Origin=ORIGIN, **{"User-Agent": "Mozilla/5.0 test"}))
    assert r.status_code == 201, r.json
    out = r.json
    assert out["regime"] == "opt_in" and out["country"] == "DE" and out["region"] == "DE-BE"
    assert out["decisions"] == {"necessary": True, "analytics": True, "marketing": False, "preferences": False}
    assert out["event"] == "given"
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    [rec] = rows(app)
    assert rec.record_id == out["record_id"]
    assert rec.ip_truncated == "81.169.145.0"  # never the raw address
    assert rec.visitor_id == body["visitor_id"] and rec.method == "custom"
    assert rec.policy_version == "1" and rec.policy_url == "https://shop.example/privacy"
    assert rec.language == "en" and rec.page_url == body["page_url"] and rec.user_agent == "Mozilla/5.0 test"
    assert rec.country == "DE" and rec.region == "DE-BE" and str(rec.geoip_build) == "2018-07-03"
    assert rec.gpc is False and rec.prev_record_id is None and len(rec.config_hash) == 64
    assert (rec.expires_at - rec.created_at).days == 180
    # the raw address appears nowhere in the row
    assert "81.169.145.77" not in json.dumps({c: str(getattr(rec, c)) for c in ConsentRecord.__table__.columns.keys()})


def test_receipt_is_signed_with_the_site_receipt_key(app, client, site):
    from app.services.sites.administration import require_site
    from app.services.sites.keys import receipt_secrets

    site_key, _ = site
    out = post(client, make_consent(site_key)).json
    with app.app_context():
        secrets = receipt_secrets(require_site(site_key))
        stored = db.session.execute(sa.select(ReceiptKey.secret)).scalars().all()
    payload = URLSafeSerializer(secrets, salt="opsiq.receipt.v1").loads(out["receipt"])
    assert payload["rid"] == out["record_id"] and payload["site"] == site_key
    assert payload["d"]["analytics"] is True and payload["rg"] == "opt_in"
    # the database holds the secret encrypted under the site's key: a copy of it cannot sign
    assert len(stored) == 1 and stored[0].startswith("v1:") and secrets[0] not in stored[0]
    try:
        URLSafeSerializer(stored, salt="opsiq.receipt.v1").loads(out["receipt"])
        raise AssertionError("the stored value verified a receipt")
    except Exception as e:  # noqa: BLE001
        assert type(e).__name__ == "BadSignature"


def test_text_plain_body_is_accepted_without_preflight(client, site):
    site_key, _ = site
    r = client.post("/api/v1/consents", data=json.dumps(make_consent(site_key)),
                    headers=from_ip(IPS["DE"], Origin=ORIGIN, **{"Content-Type": "text/plain;charset=UTF-8"}))
    assert r.status_code == 201, r.json


def test_same_client_record_id_is_idempotent(app, client, site):
    site_key, _ = site
    body = make_consent(site_key)
    first = post(client, body)
    again = post(client, body)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json["record_id"] == first.json["record_id"]
    assert len(rows(app)) == 1


def test_necessary_is_always_true_and_unknown_purpose_rejected(client, site):
    site_key, _ = site
    r = post(client, make_consent(site_key, decisions={"necessary": False, "analytics": False}))
    assert r.status_code == 201 and r.json["decisions"]["necessary"] is True
    r = post(client, make_consent(site_key, decisions={"telepathy": True}))
    assert r.status_code == 422
    assert r.json["code"] == 422 and r.json["status"] == "Unprocessable Entity"
    assert "decisions" in r.json["errors"] and "telepathy" in json.dumps(r.json["errors"])


@pytest.mark.parametrize("method,expected", [
    ("accept_all", {"necessary": True, "analytics": True, "marketing": True, "preferences": True}),
    ("reject_all", {"necessary": True, "analytics": False, "marketing": False, "preferences": False}),
    ("dismiss", {"necessary": True, "analytics": False, "marketing": False, "preferences": False}),
])
def test_methods_fix_the_decisions_under_opt_in(client, site, method, expected):
    site_key, _ = site
    r = post(client, make_consent(site_key, method=method, decisions={"analytics": True}))
    assert r.status_code == 201 and r.json["decisions"] == expected
    assert r.json["event"] == ("given" if method == "accept_all" else "refused")


def test_records_chain_per_visitor_and_withdrawal_is_an_event(app, client, site):
    site_key, _ = site
    vid = "visitor-123456"
    a = post(client, make_consent(site_key, visitor_id=vid, method="accept_all")).json
    b = post(client, make_consent(site_key, visitor_id=vid, method="custom", decisions={"analytics": False})).json
    c = post(client, make_consent(site_key, visitor_id=vid, method="custom", decisions={"analytics": True})).json
    assert (a["event"], b["event"], c["event"]) == ("given", "withdrawn", "updated")
    recs = rows(app)
    assert [r.prev_record_id for r in recs] == [None, a["record_id"], b["record_id"]]


def test_gpc_header_exact_one_opts_out_of_marketing(app, client, site):
    site_key, _ = site
    body = make_consent(site_key, method="accept_all")
    r = post(client, body, ip=IPS["US-CA"], **{"Sec-GPC": "1"})
    assert r.json["regime"] == "opt_out" and r.json["decisions"]["marketing"] is False
    assert r.json["decisions"]["analytics"] is True
    # any value but exactly "1" is ignored
    r2 = post(client, make_consent(site_key, method="accept_all"), ip=IPS["US-CA"], **{"Sec-GPC": "true"})
    assert r2.json["decisions"]["marketing"] is True
    gpc_flags = [r.gpc for r in rows(app)]
    assert gpc_flags == [True, False]


def test_gpc_method_records_gpc_optout_without_a_click(client, site):
    site_key, _ = site
    r = post(client, make_consent(site_key, method="gpc", decisions={}, gpc=True), ip=IPS["US-CA"])
    assert r.status_code == 201
    assert r.json["event"] == "gpc_optout" and r.json["decisions"]["marketing"] is False
    assert r.json["decisions"]["analytics"] is True  # opt-out regime: the other defaults stay on


def test_opt_out_regime_keeps_defaults_for_unsent_purposes(client, site):
    site_key, _ = site
    r = post(client, make_consent(site_key, decisions={"marketing": False}), ip=IPS["US-CA"])
    assert r.json["decisions"] == {"necessary": True, "analytics": True, "marketing": False, "preferences": True}


@pytest.mark.parametrize("field,value", [
    ("visitor_id", "x"), ("client_record_id", "not-a-uuid"), ("method", "telekinesis"),
    ("decisions", {"analytics": "yes"}), ("page_url", "javascript:alert(1)"), ("gpc", "1"),
    ("page_url", "https://shop.example/a\u0000b"),  # no database stores NUL: a 422, never a 500
    ("policy_version", "99"), ("language", "tlh"),
])
def test_field_errors_are_422_naming_the_field(client, site, field, value):
    site_key, _ = site
    r = post(client, make_consent(site_key, **{field: value}))
    assert r.status_code == 422, r.json
    assert field in r.json["errors"] and r.json["message"]


def test_unknown_field_and_missing_fields(client, site):
    site_key, _ = site
    r = post(client, make_consent(site_key, is_admin=True))
    assert r.status_code == 422 and "is_admin" in r.json["errors"]
    r = post(client, {"site_key": site_key})
    assert r.status_code == 422
    assert {"visitor_id", "client_record_id", "decisions", "method"} <= set(r.json["errors"])


def test_error_statuses(client, site):
    site_key, _ = site
    r = post(client, make_consent("nosuchsite"))
    assert r.status_code == 404 and r.json["status"] == "Not Found" and "nosuchsite" in r.json["message"]
    r = client.post("/api/v1/consents", json=make_consent(site_key), headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json["code"] == 403
    r = client.post("/api/v1/consents", data="{not json", headers={"Content-Type": "text/plain"})
    assert r.status_code == 400 and r.json["code"] == 400 and "JSON" in r.json["message"]
    r = client.post("/api/v1/consents", data="[1,2]", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    big = make_consent(site_key, page_url="https://shop.example/?" + "a" * 17000)
    r = client.post("/api/v1/consents", data=json.dumps(big), headers={"Content-Type": "text/plain"})
    assert r.status_code == 413 and r.json["code"] == 413
    r = client.put("/api/v1/consents")  # GET is the ledger export (server API), PUT is nothing
    assert r.status_code == 405 and r.json["code"] == 405 and "GET" in r.headers["Allow"]
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.json["code"] == 404


def test_no_500_for_garbage(client, site):
    site_key, _ = site
    for raw in ["", "null", "1", '"s"', '{"site_key": 5}', '{"site_key":"' + site_key + '","decisions":[]}',
                "\xff\xfe", '{"decisions": {"' + "a" * 100 + '": true}}']:
        r = client.post("/api/v1/consents", data=raw.encode("utf-8", "surrogatepass") if raw else b"",
                        headers={"Content-Type": "text/plain"})
        assert 400 <= r.status_code < 500, (raw, r.status_code, r.data)
        assert set(r.json) >= {"code", "status", "message"}


def test_server_side_caller_without_origin_is_allowed(client, site):
    site_key, _ = site
    r = client.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(IPS["JP"]))
    assert r.status_code == 201 and r.json["regime"] == "notice"
    assert "Access-Control-Allow-Origin" not in r.headers


def test_preflight_for_json_callers(client):
    r = client.options("/api/v1/consents", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Content-Type" in r.headers["Access-Control-Allow-Headers"]


def test_an_address_carrying_an_ipv4_one_is_stored_and_placed_as_that_ipv4_network(app, client, site):
    """6to4 (2002:<IPv4>::/48): its /48 would keep the whole IPv4 address, so it is cut as IPv4."""
    site_key, _ = site
    r = client.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip("2002:51a9:914d::1"))
    assert r.status_code == 201 and r.json["country"] == "DE"
    with app.app_context():
        row = db.session.execute(db.select(ConsentRecord).where(ConsentRecord.record_id == r.json["record_id"])).scalar_one()
    assert row.ip_truncated == "81.169.145.0"


def test_origin_null_is_no_allowed_origin(client, site):
    """A sandboxed iframe on any page sends `Origin: null`: it gets past no site's allowed origins."""
    site_key, _ = site
    null = from_ip(IPS["DE"], Origin="null")
    r = client.post("/api/v1/consents", json=make_consent(site_key), headers=null)
    assert r.status_code == 403 and "Access-Control-Allow-Origin" not in r.headers
    assert client.get(f"/api/v1/sites/{site_key}/config", headers=null).status_code == 403
    browser = client.post("/api/v1/identities/browser", json={"site_key": site_key, "visitor_id": "v-null-0001",
                                                               "visitor_secret": "s" * 32, "token": "x"}, headers=null)
    assert browser.status_code == 403
    preflight = client.options("/api/v1/consents", headers={"Origin": "null"})
    assert "Access-Control-Allow-Origin" not in preflight.headers
    listed = client.options("/api/v1/consents", headers={"Origin": "https://shop.example"})
    assert listed.headers["Access-Control-Allow-Origin"] == "https://shop.example"


@pytest.mark.parametrize("hot", [True, False], ids=["front door", "flask"])
def test_knowing_a_visitor_id_is_not_enough_to_change_their_consent(app, client, site, hot):
    """The visitor id travels in receipts and analytics hits; a write must also carry the secret
    the visitor's first write bound. A forged one is refused and the visitor's state stays theirs."""
    site_key, api_key = site
    app.config["HOT_PATHS"] = hot
    try:
        mine = make_consent(site_key, method="reject_all", decisions={})
        victim = mine["visitor_id"]
        assert post(client, mine).status_code == 201
        forged = make_consent(site_key, visitor_id=victim, method="accept_all", decisions={}, visitor_secret="f" * 32)
        r = post(client, forged)
        assert r.status_code == 403 and r.json["code"] == 403 and "secret" in r.json["message"], r.json
        r = post(client, {k: v for k, v in forged.items() if k != "visitor_secret"})
        assert r.status_code == 422 and "visitor_secret" in str(r.json["errors"]), r.json
        # a repeat of the visitor's client_record_id with another secret gets nothing of their record
        r = post(client, dict(forged, client_record_id=mine["client_record_id"]))
        assert r.status_code == 403 and "receipt" not in r.json

        state = client.get(f"/api/v1/visitors/{victim}/consent", headers={"Authorization": f"Bearer {api_key}"})
        assert state.status_code == 200 and state.json["purposes"]["analytics"]["allowed"] is False, state.json
        assert [rec.method for rec in rows(app) if rec.visitor_id == victim] == ["reject_all"]
        # the visitor's own browser goes on writing
        own = make_consent(site_key, visitor_id=victim, method="accept_all", decisions={})
        assert post(client, own).status_code == 201
    finally:
        app.config["HOT_PATHS"] = True
