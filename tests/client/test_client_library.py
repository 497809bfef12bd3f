"""opsiq_client against the real app served on loopback (werkzeug), as a collector would use it."""
import pytest
from opsiq_client.client import ConsentAPIError, ConsentClient

from tests.conftest import IPS, from_ip, make_consent


@pytest.fixture
def live(live_server):
    return live_server


def test_marketing_flow_through_the_client(app, client, live, site_ctx):
    site_key, api_key, auth = site_ctx
    consent = ConsentClient(live, api_key)
    assert consent.may_email("jane@example.com") is False  # default deny

    out = client.post("/api/v1/email-consents", json={"email": "jane@example.com", "source": "form",
                                                      "wording": "Newsletter", "language": "en"}, headers=auth).json
    assert consent.may_email("jane@example.com") is False  # not yet confirmed
    client.post(out["confirm_url"].split("localhost", 1)[-1])
    assert consent.may_email("JANE@example.com") is True
    answer = consent.check(email="jane@example.com", purpose="email_marketing")
    assert answer["basis"] == "double_opt_in" and answer["confirmation_record_id"]

    r = client.post("/api/v1/consents", json=make_consent(site_key, visitor_id="visitor-0001",
                                                          decisions={"analytics": True, "marketing": True}),
                    headers=from_ip(IPS["DE"], Origin="https://shop.example"))
    assert r.status_code == 201, r.json
    assert consent.check(visitor_id="visitor-0001", purpose="analytics")["allowed"] is True
    results = consent.check_many(emails=["nobody@example.com", "jane@example.com"])
    assert [r["allowed"] for r in results] == [False, True]
    mixed = consent.check_many([{"visitor_id": "visitor-0001", "purpose": "marketing"},
                                {"email": "jane@example.com", "purpose": "email_marketing"}])
    assert [r["allowed"] for r in mixed] == [True, True]
    assert [r["allowed"] for r in consent.check_many(["visitor-0001", "visitor-0002"], purpose="analytics")] == [True, False]

    with pytest.raises(ConsentAPIError) as e:
        ConsentClient(live, "opsiq_sk_wrong").may_email("jane@example.com")
    assert e.value.status == 401
    with pytest.raises(ConsentAPIError) as e:
        consent.check(email="jane@example.com", purpose="analytics")
    assert e.value.status == 422


def test_verify_webhook_rejects_tampering_and_old_deliveries():
    import time

    from opsiq_client.webhooks import WebhookVerificationError, verify_webhook

    from app.services.webhooks.endpoints import new_secret
    from app.services.webhooks.signing import sign

    secret, body, ts = new_secret(), b'{"type":"consent.recorded"}', str(int(time.time()))
    headers = {"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": sign(secret, "msg_1", ts, body)}
    assert verify_webhook(headers, body, secret)["type"] == "consent.recorded"
    for bad_body, bad_secret, bad_now in ((body + b" ", secret, None), (body, new_secret(), None),
                                          (body, secret, time.time() + 301)):
        with pytest.raises(WebhookVerificationError):
            verify_webhook(headers, bad_body, bad_secret, now=bad_now)
