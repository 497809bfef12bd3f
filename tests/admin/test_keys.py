"""The API keys page: the site's keys by id, a new key's secret shown once (and working against the
API), revoking after a confirmation step, each audited as the user; owners only, route by route."""
import re

import pytest

from tests.admin.conftest import audit_entries, main_text, user_id


def keys_page(site_key):
    return f"/admin/sites/{site_key}/keys"


def test_an_owner_creates_a_key_sees_its_secret_once_and_revokes_it(app, client, dashboard, make_user, make_site,
                                                                      runner):
    site_key, first_key = make_site()
    owner = make_user("owner", sites=[site_key])
    d = dashboard()
    d.sign_in(owner)
    page = d.get(keys_page(site_key))
    assert page.status_code == 200 and first_key[:17] in main_text(page) and first_key not in page.get_data(True)
    assert f'href="{keys_page(site_key)}"' in page.get_data(as_text=True)  # in the site's navigation

    r = d.submit(keys_page(site_key), keys_page(site_key), name="checkout server")
    html = r.get_data(as_text=True)
    secret = re.search(r'<code id="new-secret">(opsiq_sk_[A-Za-z0-9_-]+)</code>', html).group(1)
    assert r.status_code == 200 and 'data-copy="new-secret"' in html and "shown this once" in main_text(r)
    assert r.headers["Cache-Control"] == "no-store"
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/webhooks", headers=headers).status_code == 200  # the key works
    listing = d.get(keys_page(site_key))
    assert secret[:17] in main_text(listing) and "checkout server" in main_text(listing)
    assert secret not in listing.get_data(as_text=True)  # never shown again
    [created] = audit_entries(app, "key.created")
    assert created["actor"] == f"user:{user_id(runner, owner)}" and created["target_id"] == secret[:17]

    revoke = f"{keys_page(site_key)}/{secret[:17]}/revoke"
    confirm = d.get(revoke)
    assert confirm.status_code == 200 and "cannot be undone" in main_text(confirm)
    assert not audit_entries(app, "key.revoked")  # the confirmation page changes nothing
    r = d.submit(revoke, revoke)
    assert r.status_code == 302 and r.headers["Location"].endswith(keys_page(site_key))
    assert client.get("/api/v1/webhooks", headers=headers).status_code == 401
    assert "revoked" in main_text(d.get(keys_page(site_key)))
    [revoked] = audit_entries(app, "key.revoked")
    assert revoked["actor"] == created["actor"] and revoked["target_id"] == secret[:17]
    assert d.get(revoke).status_code == 404  # revoked already: nothing to confirm
    assert client.get("/api/v1/webhooks", headers={"Authorization": f"Bearer {first_key}"}).status_code == 200


def test_a_key_of_another_site_cannot_be_revoked_from_this_one(app, client, dashboard, make_user, make_site):
    site_a, _ = make_site(name="Shop A")
    site_b, key_b = make_site(name="Shop B")
    d = dashboard()
    d.sign_in(make_user("owner"))  # an installation owner sees both sites
    token = d.form(keys_page(site_a), keys_page(site_a))["csrf_token"]
    r = d.client.post(f"{keys_page(site_a)}/{key_b[:17]}/revoke", data={"csrf_token": token})
    assert r.status_code == 404 and not audit_entries(app, "key.revoked")
    assert client.get("/api/v1/webhooks", headers={"Authorization": f"Bearer {key_b}"}).status_code == 200


@pytest.mark.parametrize("role", ["editor", "privacy", "viewer"])
def test_only_owners_reach_the_keys_routes(app, dashboard, make_user, make_site, role):
    site_key, api_key = make_site()
    d = dashboard()
    d.sign_in(make_user(role, sites=[site_key]))
    # a token of the user's own session, so that a refusal is the role's and not CSRF's
    own_token = d.form("/admin/account", "/admin/account/password")["password-csrf_token"]
    revoke = f"{keys_page(site_key)}/{api_key[:17]}/revoke"
    for path in (keys_page(site_key), revoke):
        r = d.get(path)
        assert r.status_code == 403 and "may not create and revoke API keys" in main_text(r), path
        assert d.client.post(path, data={"csrf_token": own_token, "name": "x"}).status_code == 403, path
    assert f'href="{keys_page(site_key)}"' not in d.get(f"/admin/sites/{site_key}").get_data(as_text=True)
    assert not audit_entries(app, "key.created") and not audit_entries(app, "key.revoked")


def test_a_site_not_granted_answers_404_on_every_keys_route(dashboard, make_user, make_site):
    site_a, _ = make_site(name="Shop A")
    site_b, key_b = make_site(name="Shop B")
    d = dashboard()
    d.sign_in(make_user("owner", sites=[site_a]))
    token = d.form(keys_page(site_a), keys_page(site_a))["csrf_token"]
    for path in (keys_page(site_b), f"{keys_page(site_b)}/{key_b[:17]}/revoke"):
        assert d.get(path).status_code == 404, path
        assert d.client.post(path, data={"csrf_token": token}).status_code == 404, path
