"""The webhooks page: subscribing a URL (its secret shown once, and signing what is delivered),
deliveries and dead letters with their attempts, replay, disabling after a confirmation step,
rotating the secret; editors and owners only, route by route, each change audited as the user."""
import base64
import hashlib
import hmac
import re

import pytest

from tests.admin.conftest import audit_entries, main_text, user_id
from tests.conftest import IPS, from_ip, make_consent


def hooks(site_key):
    return f"/admin/sites/{site_key}/webhooks"


def signed_by(secret, headers, body):
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    mine = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return f"v1,{mine}" in headers["webhook-signature"].split()


def add(d, site_key, url, events=("consent.recorded",)):
    r = d.submit(hooks(site_key), hooks(site_key), url=url, events=list(events))
    found = re.search(r'<code id="webhook-secret">(whsec_[^<]+)</code>', r.get_data(as_text=True))
    return r, found.group(1) if found else None


def test_an_editor_adds_a_webhook_sees_deliveries_dead_letters_and_replays_them(
        app, client, runner, dashboard, make_user, make_site, receiver):
    site_key, _ = make_site()
    editor = make_user("editor", sites=[site_key])
    d = dashboard()
    d.sign_in(editor)
    assert "No webhook yet" in main_text(d.get(hooks(site_key)))
    r, secret = add(d, site_key, receiver.url)
    assert r.status_code == 200 and "shown this once" in main_text(r)
    assert 'data-copy="webhook-secret"' in r.get_data(as_text=True)
    page = d.get(hooks(site_key))
    assert receiver.url in main_text(page) and "consent.recorded" in main_text(page) and "active" in main_text(page)
    assert secret not in page.get_data(as_text=True)
    [created] = audit_entries(app, "webhook.created")
    actor = f"user:{user_id(runner, editor)}"
    assert created["actor"] == actor and created["target_kind"] == "webhook"

    client.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(IPS["DE"]))
    assert runner.invoke(args=["webhooks", "work", "--once"]).exit_code == 0
    [(headers, body)] = receiver.received
    assert signed_by(secret, headers, body)  # the secret shown is the one that signs
    text = main_text(d.get(hooks(site_key)))
    assert "Recent deliveries to" in text and "delivered 1 200" in text and "No dead letters" in text

    receiver.outage = True
    client.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(IPS["DE"]))
    assert runner.invoke(args=["webhooks", "work", "--once"]).exit_code == 0
    assert "pending 1 503" in main_text(d.get(hooks(site_key)))  # one failed attempt, retried later

    disable = f"{hooks(site_key)}/{created['target_id']}/disable"
    confirm = d.get(disable)
    assert confirm.status_code == 200 and receiver.url in main_text(confirm)
    assert not audit_entries(app, "webhook.disabled")  # the confirmation page changes nothing
    r = d.submit(disable, disable)
    assert r.status_code == 302
    text = main_text(d.get(hooks(site_key)))
    assert "disabled" in text and "Dead letters of" in text and "dead 1 503 endpoint disabled" in text
    assert "Rotate the secret" not in text
    [disabled] = audit_entries(app, "webhook.disabled")
    assert disabled["actor"] == actor and disabled["target_id"] == created["target_id"]

    replay = f"{hooks(site_key)}/{created['target_id']}/replay"
    r = d.submit(hooks(site_key), replay)
    assert r.status_code == 302 and "1 dead letter(s)" in main_text(d.get(hooks(site_key)))
    [replayed] = audit_entries(app, "webhook.replayed")
    assert replayed["actor"] == actor and replayed["details"]["queued"] == 1
    assert replayed["target_id"] == created["target_id"] and replayed["site_id"] == created["site_id"]


def test_rotating_shows_the_new_secret_once_and_it_signs(app, client, runner, dashboard, make_user, make_site,
                                                         receiver):
    site_key, _ = make_site()
    d = dashboard()
    d.sign_in(make_user("owner", sites=[site_key]))
    _, old = add(d, site_key, receiver.url)
    [created] = audit_entries(app, "webhook.created")
    rotate = f"{hooks(site_key)}/{created['target_id']}/rotate"
    r = d.submit(hooks(site_key), rotate)
    new = re.search(r'<code id="webhook-secret">(whsec_[^<]+)</code>', r.get_data(as_text=True)).group(1)
    assert r.status_code == 200 and new != old and "24 hours" in main_text(r)
    assert new not in d.get(hooks(site_key)).get_data(as_text=True)
    [rotated] = audit_entries(app, "secret.rotated")
    assert rotated["target_kind"] == "webhook" and rotated["target_id"] == created["target_id"]
    client.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(IPS["DE"]))
    runner.invoke(args=["webhooks", "work", "--once"])
    [(headers, body)] = receiver.received
    assert signed_by(new, headers, body) and signed_by(old, headers, body)  # both, during the overlap


def test_a_bad_url_or_no_event_is_shown_on_the_form(app, dashboard, make_user, make_site):
    site_key, _ = make_site()
    d = dashboard()
    d.sign_in(make_user("editor", sites=[site_key]))
    r, secret = add(d, site_key, "ftp://shop.example/hooks")
    assert r.status_code == 422 and secret is None and "must be an http(s) URL" in main_text(r)
    assert 'value="ftp://shop.example/hooks"' in r.get_data(as_text=True)  # what was typed stays
    r, _ = add(d, site_key, "https://shop.example/hooks", events=())
    assert r.status_code == 422 and "choose from consent.recorded" in main_text(r)
    assert not audit_entries(app, "webhook.created")


@pytest.mark.parametrize("role", ["privacy", "viewer"])
def test_privacy_and_viewers_may_not_reach_the_webhooks_routes(app, dashboard, make_user, make_site, role):
    site_key, _ = make_site()
    owner = dashboard()
    owner.sign_in(make_user("owner", sites=[site_key]))
    add(owner, site_key, "https://shop.example/hooks")
    [created] = audit_entries(app, "webhook.created")
    ep = f"{hooks(site_key)}/{created['target_id']}"
    d = dashboard()
    d.sign_in(make_user(role, sites=[site_key]))
    token = d.form("/admin/account", "/admin/account/password")["password-csrf_token"]
    for path in (hooks(site_key), f"{ep}/disable"):
        r = d.get(path)
        assert r.status_code == 403 and "may not manage webhooks" in main_text(r), path
    for path in (hooks(site_key), f"{ep}/disable", f"{ep}/rotate", f"{ep}/replay"):
        r = d.client.post(path, data={"csrf_token": token, "url": "https://shop.example/x",
                                      "events": "consent.recorded"})
        assert r.status_code == 403, path
    assert f'href="{hooks(site_key)}"' not in d.get(f"/admin/sites/{site_key}").get_data(as_text=True)
    assert [e["action"] for e in audit_entries(app) if e["action"].startswith(("webhook", "secret"))] == [
        "webhook.created"]


def test_a_site_not_granted_or_another_sites_endpoint_answers_404(app, dashboard, make_user, make_site):
    site_a, _ = make_site(name="Shop A")
    site_b, _ = make_site(name="Shop B")
    owner = dashboard()
    owner.sign_in(make_user("owner"))
    add(owner, site_b, "https://shop.example/hooks")
    [created] = audit_entries(app, "webhook.created")
    d = dashboard()
    d.sign_in(make_user("editor", sites=[site_a]))
    token = d.form("/admin/account", "/admin/account/password")["password-csrf_token"]
    for site_key in (site_b, site_a):  # B is not granted; A is, but the endpoint is B's
        ep = f"{hooks(site_key)}/{created['target_id']}"
        for path in ([hooks(site_key)] if site_key == site_b else []) + [f"{ep}/disable"]:
            assert d.get(path).status_code == 404, path
        for path in ([hooks(site_key)] if site_key == site_b else []) + [f"{ep}/disable", f"{ep}/rotate",
                                                                          f"{ep}/replay"]:
            assert d.client.post(path, data={"csrf_token": token}).status_code == 404, path
    assert [e["action"] for e in audit_entries(app) if e["action"].startswith(("webhook", "secret"))] == [
        "webhook.created"]
