"""opsiq_client.receipts: a collector checks receipts offline with the site's receipt secrets."""
import datetime as dt
import subprocess
import sys

import pytest
from itsdangerous import URLSafeSerializer
from opsiq_client.receipts import verify_receipt

from tests.conftest import IPS, from_ip, make_consent

ORIGIN = "https://shop.example"


def record(client, site_key, **body):
    r = client.post("/api/v1/consents", json=make_consent(site_key, **body), headers=from_ip(IPS["DE"], Origin=ORIGIN))
    assert r.status_code == 201
    return r.json


def secrets_of(runner, site_key):
    r = runner.invoke(args=["keys", "receipt-secrets", site_key])
    assert r.exit_code == 0, r.output
    return r.output.split()


def test_a_real_receipt_answers_per_purpose(client, runner, site):
    site_key, _ = site
    rec = record(client, site_key, decisions={"analytics": True, "marketing": False})
    secrets = secrets_of(runner, site_key)
    assert len(secrets) == 1
    check = verify_receipt(rec["receipt"], secrets, purpose="analytics")
    assert check.valid and check.allowed and check.reason == "granted" and bool(check) is True
    assert check.payload["rid"] == rec["record_id"] and check.payload["site"] == site_key
    refused = verify_receipt(rec["receipt"], secrets[0], purpose="marketing")
    assert refused.valid and not refused.allowed and refused.reason == "refused"
    assert verify_receipt(rec["receipt"], secrets, purpose="telepathy").reason == "unknown_purpose"
    plain = verify_receipt(rec["receipt"], secrets)
    assert plain.valid and plain.reason == "valid"


def test_expiry_and_policy_version(client, runner, site):
    site_key, _ = site
    rec = record(client, site_key, method="accept_all")
    secrets = secrets_of(runner, site_key)
    expires = dt.datetime.fromisoformat(rec["expires_at"])
    assert verify_receipt(rec["receipt"], secrets, "analytics", now=expires - dt.timedelta(seconds=1)).allowed
    late = verify_receipt(rec["receipt"], secrets, "analytics", now=expires + dt.timedelta(seconds=1))
    assert not late.valid and not late.allowed and late.reason == "expired" and late.payload["rid"]
    assert verify_receipt(rec["receipt"], secrets, "analytics", now=expires.timestamp() + 1).reason == "expired"
    old = verify_receipt(rec["receipt"], secrets, "analytics", policy_version="2")
    assert not old.allowed and old.reason == "policy_superseded"


def test_forged_truncated_resigned_and_garbage_are_refused_without_exceptions(client, runner, site):
    site_key, _ = site
    rec = record(client, site_key, decisions={"analytics": True, "marketing": False})
    token = rec["receipt"]
    secrets = secrets_of(runner, site_key)
    # re-signed: the same claims signed with a secret that is not the site's
    payload = URLSafeSerializer(secrets, salt="opsiq.receipt.v1").loads(token)
    resigned = URLSafeSerializer("attacker-secret", salt="opsiq.receipt.v1").dumps(payload)
    assert verify_receipt(resigned, secrets, "analytics").reason == "bad_signature"
    # forged: claims edited after signing (marketing flipped on)
    payload["d"]["marketing"] = True
    body = URLSafeSerializer(secrets, salt="opsiq.receipt.v1").dumps(payload).rpartition(".")[0]
    forged = body + "." + token.rpartition(".")[2]
    assert verify_receipt(forged, secrets, "marketing").reason == "bad_signature"
    # the right secret but another salt is another kind of token, not a receipt
    other = URLSafeSerializer(secrets, salt="something.else").dumps(payload)
    assert verify_receipt(other, secrets).reason == "bad_signature"
    # truncated anywhere
    for cut in (1, 5, len(token) // 2, len(token) - 1):
        check = verify_receipt(token[:-cut], secrets, "analytics")
        assert not check.valid and check.reason in ("bad_signature", "malformed"), (cut, check)
    for garbage in (None, 42, b"\xff\xfe", "", ".", "a.b", "é.é", "x" * 100_000, ["a"], token + "é"):
        check = verify_receipt(garbage, secrets, "analytics")
        assert not check.valid and not check.allowed and check.reason in ("malformed", "bad_signature")
    assert verify_receipt(token, [], "analytics").reason == "no_secret"
    assert verify_receipt(token, None, "analytics").reason == "no_secret"


def test_receipts_signed_before_a_rotation_still_verify(client, runner, site):
    site_key, _ = site
    before = record(client, site_key, method="accept_all")
    assert runner.invoke(args=["keys", "rotate-receipt", site_key]).exit_code == 0
    after = record(client, site_key, method="accept_all")
    secrets = secrets_of(runner, site_key)
    assert len(secrets) == 2
    assert verify_receipt(before["receipt"], secrets, "analytics").allowed
    assert verify_receipt(after["receipt"], secrets, "analytics").allowed
    assert verify_receipt(after["receipt"], secrets[:1], "analytics").reason == "bad_signature"
    r = runner.invoke(args=["keys", "receipt-secrets", site_key, "--json"])
    assert r.exit_code == 0 and r.output.strip().startswith("[")
    assert runner.invoke(args=["keys", "receipt-secrets", "nosuchsite"]).exit_code != 0


def test_the_client_module_needs_no_flask():
    code = ("import sys, opsiq_client.receipts; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'app', 'itsdangerous', 'werkzeug')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("secret", ["s3cret", b"s3cret"])
def test_matches_itsdangerous_for_compressed_and_plain_tokens(secret):
    ser = URLSafeSerializer(secret, salt="opsiq.receipt.v1")
    far = 2**40
    small = ser.dumps({"v": 1, "d": {"a": True}, "exp": far})
    big = ser.dumps({"v": 1, "d": {f"p{i}": True for i in range(50)}, "exp": far})
    assert big.startswith(".")  # zlib-compressed payload
    assert verify_receipt(small, secret, "a").allowed
    assert verify_receipt(big, secret, "p7").allowed


def _signed(secret, raw, compress=False):
    """A token over `raw` bytes, signed as the site signs receipts (what only a secret holder can make)."""
    import base64
    import hashlib
    import hmac
    import zlib

    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
    payload = (b"." + b64(zlib.compress(raw, 9))) if compress else b64(raw)
    key = hashlib.sha1(b"opsiq.receipt.v1signer" + secret.encode()).digest()
    return (payload + b"." + b64(hmac.new(key, payload, hashlib.sha1).digest())).decode()


def test_nothing_of_a_forged_receipt_is_decoded_and_no_token_makes_it_raise(client, runner, site):
    """A forged token is refused on its signature alone (a deep or huge payload costs nothing); an
    authentic one that is nested too deep or inflates too far is malformed; neither raises, here or
    through POST /api/v1/receipts/verify."""
    import time

    site_key, api_key = site
    secrets = secrets_of(runner, site_key)
    deep = b"[" * 100_000 + b"]" * 100_000
    forged_deep = _signed("not-the-secret", b'{"v":1,"d":' + deep + b"}", compress=True)
    bomb = _signed(secrets[-1], b'{"v":1,"d":{},"x":"' + b"0" * 5_000_000 + b'"}', compress=True)
    authentic_deep = _signed(secrets[-1], b'{"v":1,"d":' + deep[:8_000] + deep[-8_000:] + b"}")
    started = time.perf_counter()
    assert verify_receipt(forged_deep, secrets, "analytics").reason == "bad_signature"
    assert time.perf_counter() - started < 0.05  # refused before any inflating or parsing
    assert verify_receipt(bomb, secrets, "analytics").reason == "malformed"
    assert verify_receipt(authentic_deep, secrets, "analytics").reason == "malformed"
    compressed_deep = _signed(secrets[-1], b'{"v":1,"d":' + deep + b"}", compress=True)
    assert verify_receipt(compressed_deep, secrets, "analytics").reason == "malformed"
    for token in (forged_deep, compressed_deep):
        assert len(token) < 8_000  # deep nesting compresses to little: it fits the API's body limit
        r = client.post("/api/v1/receipts/verify", json={"receipt": token}, headers={"Authorization": f"Bearer {api_key}"})
        assert r.status_code == 200 and r.json["authentic"] is False, r.json
