"""The one input gate: bodies nested too deep, strings no database stores, path and query values
that cannot name anything. Each is answered in the one error shape, on the front door and through
Flask alike, and none reaches a database (on PostgreSQL a NUL fails a whole statement)."""
import json

import pytest

from tests.conftest import IPS, from_ip, make_consent

ORIGIN = "https://shop.example"


def both_ways(app, send):
    """send() through the front door and through Flask's views: the two answers, which must agree."""
    hot = send()
    app.config["HOT_PATHS"] = False
    try:
        plain = send()
    finally:
        app.config["HOT_PATHS"] = True
    assert (hot.status_code, hot.json) == (plain.status_code, plain.json)
    return hot


@pytest.mark.parametrize("levels", [40, 5000])  # past the limit; past what the JSON parser itself can nest
@pytest.mark.parametrize("path", ["/api/v1/consents", "/api/v1/consent-checks", "/api/v1/consent-checks/batch",
                                  "/api/v1/identities/browser", "/api/v1/email-consents"])
def test_a_body_nested_too_deep_is_a_400_before_anything_else(app, client, site, path, levels):
    deep = b'{"items": ' + b"[" * levels + b"]" * levels + b"}"
    auth = {"Authorization": f"Bearer {site[1]}"}
    r = both_ways(app, lambda: client.post(path, data=deep, content_type="text/plain", headers=auth))
    assert r.status_code == 400 and r.json["message"] == "The body is nested deeper than 32 levels."


def test_a_body_at_the_nesting_limit_is_read(client, site):
    """32 levels pass the gate (and are then judged by their schema, like any body)."""
    body = b'{"items": ' + b"[" * 31 + b"]" * 31 + b"}"
    r = client.post("/api/v1/consent-checks/batch", data=body, content_type="application/json",
                    headers={"Authorization": f"Bearer {site[1]}"})
    assert r.status_code == 422 and r.json["errors"]["items"]


@pytest.mark.parametrize("field, value", [("site_key", "k\ud800"), ("page_url", "https://shop.example/\ud800"),
                                          ("page_url", "https://shop.example/\u0000"), ("policy_version", "1\u0000"),
                                          ("decisions", {"analytics\ud800": True})])
def test_a_string_no_database_stores_is_a_422_naming_its_field(app, client, site, field, value):
    site_key, _ = site
    body = json.dumps({**make_consent(site_key), field: value})  # json.dumps escapes both as \\uXXXX
    r = both_ways(app, lambda: client.post("/api/v1/consents", data=body, content_type="text/plain",
                                           headers=from_ip(IPS["DE"], Origin=ORIGIN)))
    assert r.status_code == 422 and list(r.json["errors"]) == [field]


@pytest.mark.parametrize("path, body", [
    ("/api/v1/email-consents", {"email": "jane\ud800@example.com", "source": "s", "wording": "w", "language": "en"}),
    ("/api/v1/identities", {"visitor_id": "v-12345678", "external_id": "x\u0000"}),
    ("/api/v1/consent-checks", {"email": "jane@example.com\ud800", "purpose": "email_marketing"}),
    ("/api/v1/identities/consent", {"email": "jane@example.com\u0000"}),
])
def test_server_api_bodies_pass_the_same_gate(client, site, path, body):
    r = client.post(path, data=json.dumps(body), content_type="application/json",
                    headers={"Authorization": f"Bearer {site[1]}"})
    assert r.status_code == 422 and r.json["code"] == 422


@pytest.mark.parametrize("path", ["/api/v1/visitors/v-1234%005678/consent", "/api/v1/sites/k%00k/config",
                                  "/w/k%00k.js", "/api/v1/webhooks/ep_%00/deliveries", "/u/a%00b", "/c/a%00b"])
def test_a_path_value_with_a_nul_names_nothing(client, site, path):
    r = client.get(path, headers={"Authorization": f"Bearer {site[1]}"})
    assert r.status_code == 404 and r.json["code"] == 404


def test_a_query_value_with_a_nul_is_refused_by_name(client, site):
    r = client.get("/api/v1/consents?visitor_id=v-1234%005678", headers={"Authorization": f"Bearer {site[1]}"})
    assert r.status_code == 422 and list(r.json["errors"]) == ["visitor_id"]


def test_a_webhook_url_with_no_such_port_is_a_422(client, site):
    r = client.post("/api/v1/webhooks", json={"url": "https://hooks.example:99999/x", "events": ["consent.recorded"]},
                    headers={"Authorization": f"Bearer {site[1]}"})
    assert r.status_code == 422 and r.json["errors"]["url"] == ["the port must be a number from 1 to 65535"]


def test_an_export_cursor_beyond_any_row_id_is_a_400(client, site):
    import base64

    cursor = base64.urlsafe_b64encode(b"r1:" + b"9" * 40).rstrip(b"=").decode()
    r = client.get(f"/api/v1/consents?cursor={cursor}", headers={"Authorization": f"Bearer {site[1]}"})
    assert r.status_code == 400 and "cursor" in r.json["errors"]


@pytest.mark.parametrize("claims", [{"s": ["a"], "h": "x"}, {"s": {"a": 1}, "r": "x"}, ["s"], {"s": None}])
def test_a_mail_link_whose_payload_is_not_ours_is_not_valid(client, site, claims):
    from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer

    for path, ser in (("/u/", URLSafeSerializer("guess", salt="opsiq.unsubscribe.v1")),
                      ("/c/", URLSafeTimedSerializer("guess", salt="opsiq.email-confirm.v1"))):
        token = ser.dumps(claims)
        for r in (client.get(path + token), client.post(path + token)):
            assert r.status_code == 404, (path, claims, r.status_code)


def test_a_mail_link_signed_by_the_site_with_claims_of_another_shape_is_not_valid(app, client, site):
    from itsdangerous import URLSafeSerializer

    from app.services.keyring import keyring
    from app.services.sites.snapshot import site_snapshot

    with app.app_context():
        secret = keyring(site_snapshot(site[0], 0).id).link_secret
    token = URLSafeSerializer(secret, salt="opsiq.unsubscribe.v1").dumps({"s": site[0], "h": ["not", "a", "hash"]})
    assert client.post("/u/" + token).status_code == 404


@pytest.mark.parametrize("claims", [{"email": ["jane@example.com"]}, {"email": {"a": 1}}, {"external_id": 5},
                                    {"email": "jane@example.com", "visitor_id": ["v-12345678"]}])
def test_an_identity_token_with_claims_of_another_shape_is_refused(app, client, site, claims):
    from app.services.identities import identity_serializer
    from app.services.sites.snapshot import site_snapshot

    with app.app_context():
        token = identity_serializer(site_snapshot(site[0], 0).id).dumps(claims)
    r = client.post("/api/v1/identities/browser", json={"site_key": site[0], "visitor_id": "v-12345678", "token": token,
                                                             "visitor_secret": "s" * 32},
                    headers={"Origin": ORIGIN})
    assert r.status_code == 401 and r.json["code"] == 401
