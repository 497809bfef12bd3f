"""The scanner's signed region override: a valid token places the widget's visitor where it says
(config and embed); a forged, expired or malformed one is ignored and the address decides."""
from itsdangerous import URLSafeTimedSerializer

from app.services.scanner.override import REGION_HEADER, location_from, region_token
from tests.conftest import IPS, from_ip


def test_a_signed_region_replaces_the_address_for_config_and_embed(app, client, site):
    token = region_token(app.config["SECRET_KEY"], "US", "US-CA")
    cfg = client.get(f"/api/v1/sites/{site[0]}/config", headers=from_ip(IPS["DE"], **{REGION_HEADER: token})).json
    assert (cfg["regime"], cfg["country"], cfg["region"]) == ("opt_out", "US", "US-CA")
    js = client.get(f"/w/{site[0]}.js", headers=from_ip(IPS["DE"], **{REGION_HEADER: token})).get_data(as_text=True)
    assert '"regime":"opt_out"' in js and '"region":"US-CA"' in js


def test_a_forged_or_malformed_region_is_ignored(app, client, site):
    forged = region_token("not-the-secret", "US", "US-CA")
    for value in (forged, "garbage", region_token(app.config["SECRET_KEY"], "US", "US-CA") + "x"):
        cfg = client.get(f"/api/v1/sites/{site[0]}/config", headers=from_ip(IPS["DE"], **{REGION_HEADER: value})).json
        assert (cfg["regime"], cfg["country"]) == ("opt_in", "DE")


def test_tokens_expire_and_carry_only_a_place(app):
    secret = app.config["SECRET_KEY"]
    token = region_token(secret, "DE", None)
    assert location_from(token, secret).country == "DE" and location_from(token, secret).region is None
    assert location_from(token, secret, max_age=-1) is None  # older than its limit
    assert location_from(None, secret) is None and location_from("", secret) is None
    other = URLSafeTimedSerializer(secret, salt="opsiq.scan-region").dumps({"country": 7})
    assert location_from(other, secret) is None
