"""The server API for collectors: consent checks, batch checks, visitor state, receipt verification."""
import datetime as dt

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.conftest import IPS, from_ip, make_consent

ORIGIN = "https://shop.example"


def auth(api_key):
    return {"Authorization": f"Bearer {api_key}"}


def record(client, site_key, ip=IPS["DE"], gpc=False, **body):
    headers = from_ip(ip, Origin=ORIGIN, **({"Sec-GPC": "1"} if gpc else {}))
    r = client.post("/api/v1/consents", json=make_consent(site_key, **body), headers=headers)
    assert r.status_code == 201, r.json
    return r.json


def check(client, api_key, visitor_id, purpose, **extra):
    r = client.post("/api/v1/consent-checks", json={"visitor_id": visitor_id, "purpose": purpose, **extra},
                    headers=auth(api_key))
    assert r.status_code == 200, r.json
    return r.json


@pytest.fixture
def clock(app):
    """Move the server API's clock: clock.set(datetime); restored after the test."""

    class Clock:
        def set(self, when):
            app.config["CLOCK"] = lambda: when

    yield Clock()
    app.config.pop("CLOCK", None)


# --- authentication and tenant isolation ------------------------------------------------------

@pytest.mark.parametrize("method,path,body", [
    ("get", "/api/v1/visitors/v-12345678/consent", None),
    ("post", "/api/v1/consent-checks", {"visitor_id": "v-12345678", "purpose": "analytics"}),
    ("post", "/api/v1/consent-checks/batch", {"items": []}),
    ("get", "/api/v1/consents", None),
    ("post", "/api/v1/receipts/verify", {"receipt": "x.y"}),
])
def test_every_view_needs_a_valid_key(client, site, method, path, body):
    _, api_key = site
    call = getattr(client, method)
    kwargs = {"json": body} if body is not None else {}
    missing = call(path, **kwargs)
    assert missing.status_code == 401 and missing.json["code"] == 401
    assert "Bearer" in missing.headers["WWW-Authenticate"]
    wrong = call(path, headers=auth("opsiq_sk_" + "x" * 43), **kwargs)
    assert wrong.status_code == 401
    basic = call(path, headers={"Authorization": f"Basic {api_key}"}, **kwargs)
    assert basic.status_code == 401
    assert call(path, headers=auth(api_key), **kwargs).status_code in (200, 404)


def test_a_revoked_key_is_unknown(client, site, runner):
    _, api_key = site
    assert runner.invoke(args=["keys", "revoke", api_key]).exit_code == 0
    r = client.post("/api/v1/consent-checks", json={"visitor_id": "v-12345678", "purpose": "analytics"},
                    headers=auth(api_key))
    assert r.status_code == 401


def test_a_key_of_site_a_reads_nothing_of_site_b(client, make_site):
    a_key, a_api = make_site(name="A")
    b_key, b_api = make_site(name="B")
    b_rec = record(client, b_key, method="accept_all")
    # B's own key sees its visitor
    b_visitor = _visitor_of(client, b_api, b_rec["record_id"])
    assert client.get(f"/api/v1/visitors/{b_visitor}/consent", headers=auth(b_api)).status_code == 200
    # A's key: not found, no record, an empty ledger, a receipt it cannot vouch for
    r = client.get(f"/api/v1/visitors/{b_visitor}/consent", headers=auth(a_api))
    assert r.status_code == 404 and r.json["code"] == 404
    assert check(client, a_api, b_visitor, "analytics")["reason"] == "no_record_opt_in"
    assert check(client, a_api, b_visitor, "analytics")["record_id"] is None
    batch = client.post("/api/v1/consent-checks/batch", headers=auth(a_api),
                        json={"items": [{"visitor_id": b_visitor, "purpose": "analytics"}]}).json
    assert batch["results"][0]["record_id"] is None
    export = client.get("/api/v1/consents", headers=auth(a_api)).json
    assert export["records"] == []
    assert client.get(f"/api/v1/consents?visitor_id={b_visitor}", headers=auth(a_api)).json["records"] == []
    verified = client.post("/api/v1/receipts/verify", json={"receipt": b_rec["receipt"]}, headers=auth(a_api)).json
    assert verified["authentic"] is False and verified["record"] is None


def _visitor_of(client, api_key, record_id):
    rows = client.get("/api/v1/consents", headers=auth(api_key)).json["records"]
    return next(r["visitor_id"] for r in rows if r["record_id"] == record_id)


# --- the rules of a check ---------------------------------------------------------------------

def test_nothing_recorded_is_denied_and_the_regime_fails_safe_to_opt_in(client, site):
    _, api_key = site
    out = check(client, api_key, "never-seen-1", "analytics")
    assert out == {"allowed": False, "basis": "default", "reason": "no_record_opt_in", "regime": "opt_in",
                   "record_id": None, "decided_at": None, "expires_at": None, "policy_version": None}
    assert check(client, api_key, "never-seen-1", "necessary")["allowed"] is True
    # the caller can say where the visitor is: an EU address stays opt-in
    assert check(client, api_key, "never-seen-1", "analytics", ip=IPS["DE"])["reason"] == "no_record_opt_in"
    assert check(client, api_key, "never-seen-1", "analytics", country="FR")["allowed"] is False


def test_with_no_record_opt_out_and_notice_apply_the_purpose_default(client, site):
    _, api_key = site
    out = check(client, api_key, "never-seen-2", "analytics", ip=IPS["US-CA"])
    assert out["allowed"] is True and out["reason"] == "default_on" and out["regime"] == "opt_out"
    assert check(client, api_key, "never-seen-2", "analytics", country="JP")["regime"] == "notice"
    assert check(client, api_key, "never-seen-2", "analytics", country="US", region="US-CA")["allowed"] is True
    # GPC sent with the check opts out of sale and share even where the default is on
    gpc = check(client, api_key, "never-seen-2", "marketing", ip=IPS["US-CA"], gpc=True)
    assert gpc["allowed"] is False and gpc["reason"] == "gpc_optout"


def test_a_recorded_decision_decides_under_its_regime(client, site):
    site_key, api_key = site
    rec = record(client, site_key, ip=IPS["US-CA"], visitor_id="visitor-ca-1",
                 decisions={"analytics": False, "marketing": True})
    out = check(client, api_key, "visitor-ca-1", "analytics")
    assert out["allowed"] is False and out["reason"] == "refused" and out["basis"] == "record"
    assert out["record_id"] == rec["record_id"] and out["regime"] == "opt_out"
    assert dt.datetime.fromisoformat(out["expires_at"]) == dt.datetime.fromisoformat(rec["expires_at"])
    assert dt.datetime.fromisoformat(out["decided_at"]) == dt.datetime.fromisoformat(rec["decided_at"])
    assert check(client, api_key, "visitor-ca-1", "marketing")["reason"] == "granted"
    eu = record(client, site_key, ip=IPS["DE"], visitor_id="visitor-de-1", decisions={"analytics": True})
    out = check(client, api_key, "visitor-de-1", "analytics")
    assert out["allowed"] is True and out["reason"] == "granted" and out["record_id"] == eu["record_id"]
    assert check(client, api_key, "visitor-de-1", "preferences")["reason"] == "refused"


def test_the_latest_decision_wins(client, site):
    site_key, api_key = site
    record(client, site_key, visitor_id="visitor-upd-1", method="accept_all")
    assert check(client, api_key, "visitor-upd-1", "analytics")["allowed"] is True
    last = record(client, site_key, visitor_id="visitor-upd-1", method="reject_all")
    out = check(client, api_key, "visitor-upd-1", "analytics")
    assert out["allowed"] is False and out["record_id"] == last["record_id"]


def test_an_expired_decision_no_longer_allows(client, site, clock):
    site_key, api_key = site
    rec = record(client, site_key, visitor_id="visitor-exp-1", method="accept_all")
    expires = dt.datetime.fromisoformat(rec["expires_at"])
    clock.set(expires - dt.timedelta(seconds=1))
    assert check(client, api_key, "visitor-exp-1", "analytics")["allowed"] is True
    clock.set(expires + dt.timedelta(seconds=1))
    out = check(client, api_key, "visitor-exp-1", "analytics")
    assert out["allowed"] is False and out["reason"] == "expired" and out["record_id"] == rec["record_id"]
    assert check(client, api_key, "visitor-exp-1", "necessary")["allowed"] is True


def test_a_superseded_policy_no_longer_allows(client, site, runner):
    site_key, api_key = site
    record(client, site_key, visitor_id="visitor-pol-1", method="accept_all", policy_version="1")
    assert check(client, api_key, "visitor-pol-1", "analytics")["allowed"] is True
    # a version that only takes effect next month supersedes nothing yet
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)).isoformat()
    r = runner.invoke(args=["policy", "publish", site_key, "--version", "3", "--url", "https://shop.example/p3",
                            "--effective-at", later])
    assert r.exit_code == 0, r.output
    assert check(client, api_key, "visitor-pol-1", "analytics")["allowed"] is True
    r = runner.invoke(args=["policy", "publish", site_key, "--version", "2", "--url", "https://shop.example/p2"])
    assert r.exit_code == 0, r.output
    out = check(client, api_key, "visitor-pol-1", "analytics")
    assert out["allowed"] is False and out["reason"] == "policy_superseded" and out["policy_version"] == "1"
    # a decision under the new version allows again
    record(client, site_key, visitor_id="visitor-pol-1", method="accept_all", policy_version="2")
    assert check(client, api_key, "visitor-pol-1", "analytics")["reason"] == "granted"


def test_a_correction_leaves_earlier_decisions_standing_until_a_version_asks_again(client, runner, site):
    site_key, api_key = site
    record(client, site_key, visitor_id="visitor-cor-1", method="accept_all")
    r = runner.invoke(args=["policy", "publish", site_key, "--version", "1.1", "--url", "https://shop.example/p",
                            "--correction"])
    assert r.exit_code == 0 and "a correction" in r.output, r.output
    out = check(client, api_key, "visitor-cor-1", "analytics")
    assert (out["allowed"], out["reason"], out["policy_version"]) == (True, "granted", "1")
    r = runner.invoke(args=["policy", "publish", site_key, "--version", "2", "--url", "https://shop.example/p2"])
    assert r.exit_code == 0, r.output
    out = check(client, api_key, "visitor-cor-1", "analytics")
    assert (out["allowed"], out["reason"]) == (False, "policy_superseded")
    # a decision under the correction is superseded too: it came before the version that asked again
    record(client, site_key, visitor_id="visitor-cor-2", method="accept_all", policy_version="1.1")
    assert check(client, api_key, "visitor-cor-2", "analytics")["reason"] == "policy_superseded"


def test_gpc_denies_marketing_over_an_earlier_accept(client, site):
    site_key, api_key = site
    record(client, site_key, ip=IPS["US-CA"], visitor_id="visitor-gpc-1", method="accept_all")
    assert check(client, api_key, "visitor-gpc-1", "marketing")["allowed"] is True
    # the collector saw Sec-GPC: 1 on the visitor's request: the opt-out wins over the stored accept
    over = check(client, api_key, "visitor-gpc-1", "marketing", gpc=True)
    assert over["allowed"] is False and over["reason"] == "gpc_optout" and over["basis"] == "gpc"
    assert check(client, api_key, "visitor-gpc-1", "analytics", gpc=True)["allowed"] is True  # not a sale or share
    # the browser then sends GPC with a new accept: the record says so and marketing stays off
    record(client, site_key, ip=IPS["US-CA"], gpc=True, visitor_id="visitor-gpc-1", method="accept_all")
    out = check(client, api_key, "visitor-gpc-1", "marketing")
    assert out["allowed"] is False and out["reason"] == "gpc_optout"
    assert check(client, api_key, "visitor-gpc-1", "analytics")["allowed"] is True


def test_an_unknown_purpose_is_a_422_naming_the_field(client, site):
    _, api_key = site
    r = client.post("/api/v1/consent-checks", json={"visitor_id": "v-12345678", "purpose": "telepathy"},
                    headers=auth(api_key))
    assert r.status_code == 422 and "purpose" in r.json["errors"]
    r = client.post("/api/v1/consent-checks", json={"visitor_id": "v-12345678", "purpose": "analytics", "x": 1},
                    headers=auth(api_key))
    assert r.status_code == 422 and "x" in r.json["errors"]
    r = client.post("/api/v1/consent-checks", json={"purpose": "analytics"}, headers=auth(api_key))
    assert r.status_code == 422 and "visitor_id" in r.json["errors"]


# --- visitor state ----------------------------------------------------------------------------

def test_visitor_state_per_purpose_with_the_deciding_record(client, site):
    site_key, api_key = site
    rec = record(client, site_key, visitor_id="visitor-state-1", decisions={"analytics": True, "marketing": False})
    r = client.get("/api/v1/visitors/visitor-state-1/consent", headers=auth(api_key))
    assert r.status_code == 200
    out = r.json
    assert out["record_id"] == rec["record_id"] and out["regime"] == "opt_in" and out["policy_version"] == "1"
    assert set(out["purposes"]) == {"necessary", "analytics", "marketing", "preferences"}
    assert out["purposes"]["analytics"]["allowed"] is True
    assert out["purposes"]["marketing"]["reason"] == "refused"
    assert out["purposes"]["analytics"]["record_id"] == rec["record_id"]
    assert out["purposes"]["analytics"]["expires_at"] and out["purposes"]["analytics"]["decided_at"]
    assert client.get("/api/v1/visitors/never-seen-3/consent", headers=auth(api_key)).status_code == 404


# --- batch ------------------------------------------------------------------------------------

def batch(client, api_key, items):
    return client.post("/api/v1/consent-checks/batch", json={"items": items}, headers=auth(api_key))


def test_batch_answers_in_the_same_order(client, site):
    site_key, api_key = site
    record(client, site_key, visitor_id="visitor-b-1", method="accept_all")
    record(client, site_key, visitor_id="visitor-b-2", method="reject_all")
    items = [
        {"visitor_id": "visitor-b-2", "purpose": "analytics"},
        {"visitor_id": "visitor-b-1", "purpose": "analytics"},
        {"visitor_id": "nobody-b-3", "purpose": "analytics"},
        {"visitor_id": "visitor-b-1", "purpose": "necessary"},
        {"visitor_id": "visitor-b-1", "purpose": "telepathy"},
        {"visitor_id": "nobody-b-3", "purpose": "analytics", "ip": IPS["US-CA"]},
        {"visitor_id": "visitor-b-1", "purpose": "marketing", "gpc": True},
    ]
    r = batch(client, api_key, items)
    assert r.status_code == 200, r.json
    reasons = [x["reason"] for x in r.json["results"]]
    assert reasons == ["refused", "granted", "no_record_opt_in", "necessary", "unknown_purpose", "default_on",
                       "gpc_optout"]
    assert float(r.headers["Server-Timing"].split("dur=")[1]) > 0  # the server's own time, for callers
    single = [check(client, api_key, it["visitor_id"], it["purpose"], **{k: v for k, v in it.items()
                    if k not in ("visitor_id", "purpose")}) for it in items if it["purpose"] != "telepathy"]
    assert single == [x for x in r.json["results"] if x["reason"] != "unknown_purpose"]


def test_batch_of_10000_is_answered_with_a_constant_number_of_queries(app, client, site):
    site_key, api_key = site
    for i in range(3):
        record(client, site_key, visitor_id=f"visitor-q-{i}", method="accept_all")
    statements = []

    def count(*args):
        statements.append(args[2])

    items = [{"visitor_id": f"visitor-q-{i % 5000}", "purpose": "analytics"} for i in range(10_000)]
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        r = batch(client, api_key, items)
        big = len(statements)
        statements.clear()
        small = batch(client, api_key, items[:10])
    finally:
        with app.app_context():
            sa.event.remove(db.engine, "before_cursor_execute", count)
    assert r.status_code == 200 and small.status_code == 200
    assert len(r.json["results"]) == 10_000
    assert [x["allowed"] for x in r.json["results"][:4]] == [True, True, True, False]
    assert big <= len(statements) + 1, (big, len(statements))  # SQLite may chunk the visitor list in two


def test_more_than_10000_items_is_a_413_with_a_clear_message(client, site):
    _, api_key = site
    r = batch(client, api_key, [{"visitor_id": f"v{i}", "purpose": "analytics"} for i in range(10_001)])
    assert r.status_code == 413
    assert "at most 10,000" in r.json["message"] and r.json["code"] == 413


def test_only_the_batch_route_takes_large_bodies(client, site):
    site_key, api_key = site
    padding = "x" * (20 * 1024)
    r = client.post("/api/v1/consent-checks", json={"visitor_id": "v-12345678", "purpose": padding},
                    headers=auth(api_key))
    assert r.status_code == 413
    r = client.post("/api/v1/consents", json=make_consent(site_key, page_url="https://shop.example/" + padding),
                    headers=from_ip(IPS["DE"], Origin=ORIGIN))
    assert r.status_code == 413


def test_batch_input_is_validated(client, site):
    _, api_key = site
    assert batch(client, api_key, [{"visitor_id": "v-1", "purpose": "analytics", "extra": 1}]).status_code == 422
    bad = batch(client, api_key, [{"visitor_id": "v-1", "purpose": "analytics"}, {"purpose": "analytics"}])
    assert bad.status_code == 422 and "1" in bad.json["errors"]["items"]
    r = client.post("/api/v1/consent-checks/batch", json={"items": "no"}, headers=auth(api_key))
    assert r.status_code == 422
    r = client.post("/api/v1/consent-checks/batch", data="{", headers=auth(api_key))
    assert r.status_code == 400


# --- receipts verified by the server ----------------------------------------------------------

def verify(client, api_key, receipt):
    r = client.post("/api/v1/receipts/verify", json={"receipt": receipt}, headers=auth(api_key))
    assert r.status_code == 200, r.json
    return r.json


def test_receipt_verify_authentic_current_then_replaced(client, site):
    site_key, api_key = site
    first = record(client, site_key, visitor_id="visitor-rc-1", method="accept_all")
    out = verify(client, api_key, first["receipt"])
    assert out["authentic"] and out["unexpired"] and out["current"] and out["reason"] == "current"
    assert out["record"]["rid"] == first["record_id"] and out["record"]["d"]["analytics"] is True
    second = record(client, site_key, visitor_id="visitor-rc-1", method="reject_all")
    out = verify(client, api_key, first["receipt"])
    assert out["authentic"] and not out["current"] and out["reason"] == "not_current"
    assert out["current_record_id"] == second["record_id"]


def test_receipt_verify_refuses_forged_truncated_and_expired(client, site, clock):
    site_key, api_key = site
    rec = record(client, site_key, visitor_id="visitor-rc-2", method="accept_all")
    token = rec["receipt"]
    payload, _, sig = token.rpartition(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + sig
    for bad in (forged, token[:-5], token[: len(token) // 2], "garbage", "....", "é.x"):
        out = verify(client, api_key, bad)
        assert out["authentic"] is False and out["reason"] in ("bad_signature", "malformed"), (bad, out)
    clock.set(dt.datetime.fromisoformat(rec["expires_at"]) + dt.timedelta(days=1))
    out = verify(client, api_key, token)
    assert out["authentic"] and not out["unexpired"] and out["reason"] == "expired"
    r = client.post("/api/v1/receipts/verify", json={}, headers=auth(api_key))
    assert r.status_code == 422 and "receipt" in r.json["errors"]


def test_server_api_is_in_the_openapi_document_with_its_security(client):
    spec = client.get("/api/v1/openapi.json").json
    for path, method in [("/api/v1/consent-checks", "post"), ("/api/v1/consent-checks/batch", "post"),
                         ("/api/v1/consents", "get"), ("/api/v1/visitors/{visitor_id}/consent", "get"),
                         ("/api/v1/receipts/verify", "post")]:
        assert spec["paths"][path][method]["security"] == [{"ApiKey": []}]
    assert "post" in spec["paths"]["/api/v1/consents"]  # the browser write is still there


def test_a_cached_key_is_forgotten_when_revoked(app, client, site, runner):
    _, api_key = site
    app.config["SITE_CACHE_SECONDS"] = 60  # production caches keys and snapshots in process
    try:
        body = {"visitor_id": "v-12345678", "purpose": "analytics"}
        assert client.post("/api/v1/consent-checks", json=body, headers=auth(api_key)).status_code == 200
        assert client.post("/api/v1/consent-checks", json=body, headers=auth(api_key)).status_code == 200
        assert runner.invoke(args=["keys", "revoke", api_key]).exit_code == 0
        assert client.post("/api/v1/consent-checks", json=body, headers=auth(api_key)).status_code == 401
    finally:
        app.config["SITE_CACHE_SECONDS"] = 0
