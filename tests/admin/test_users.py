"""The users page for installation owners: making a user (a password given, or generated and shown
once), changing their role and sites, disabling and enabling, resetting their password (generated,
shown once) and their second factor, each after its confirmation step where it locks someone out,
audited as the owner who did it; refused (403) to everyone else, route by route."""
import re

import pyotp
import pytest

from tests.admin.conftest import audit_entries, main_text, user_id


def shown_password(r):
    found = re.search(r'<code id="new-password">([^<]+)</code>', r.get_data(as_text=True))
    return found.group(1) if found else None


def test_an_installation_owner_adds_a_user_with_a_generated_password_shown_once(app, runner, dashboard, make_user,
                                                                                 make_site):
    site_a, _ = make_site(name="Shop A")
    site_b, _ = make_site(name="Shop B")
    admin = make_user("owner")
    d = dashboard()
    d.sign_in(admin)
    r = d.submit("/admin/users", "/admin/users", email="new.editor@shop.example", role="editor", sites=[site_a])
    password = shown_password(r)
    assert r.status_code == 200 and password and "shown this once" in main_text(r)
    assert 'data-copy="new-password"' in r.get_data(as_text=True) and r.headers["Cache-Control"] == "no-store"
    listing = d.get("/admin/users")
    assert "new.editor@shop.example" in main_text(listing) and password not in listing.get_data(as_text=True)
    [created] = audit_entries(app, "user.created")[-1:]
    new_id = user_id(runner, "new.editor@shop.example")
    assert created["actor"] == f"user:{user_id(runner, admin)}" and created["target_id"] == str(new_id)
    assert created["details"] == {"role": "editor", "all_sites": False, "sites": [site_a]}
    assert "new.editor" not in repr(created)  # a user by id, never by email

    e = dashboard()
    assert e.sign_in("new.editor@shop.example", password).status_code == 302
    assert e.get(f"/admin/sites/{site_a}/banner").status_code == 200
    assert e.get(f"/admin/sites/{site_b}").status_code == 404


def test_a_user_made_with_a_password_given_and_the_errors_on_the_form(app, dashboard, make_user, make_site):
    site_key, _ = make_site()
    d = dashboard()
    d.sign_in(make_user("owner"))
    r = d.submit("/admin/users", "/admin/users", email="viewer@shop.example", role="viewer", sites=[site_key],
                 password="another long passphrase")
    assert r.status_code == 302 and "with the password you gave" in main_text(d.get("/admin/users"))
    assert dashboard().sign_in("viewer@shop.example", "another long passphrase").status_code == 302
    r = d.submit("/admin/users", "/admin/users", email="viewer@shop.example", role="viewer", sites=[site_key])
    assert r.status_code == 409 and "exists already" in main_text(r) and shown_password(r) is None
    r = d.submit("/admin/users", "/admin/users", email="privacy@shop.example", role="privacy")
    assert r.status_code == 422 and "needs a site" in main_text(r)
    assert 'value="privacy@shop.example"' in r.get_data(as_text=True)  # what was typed stays
    r = d.submit("/admin/users", "/admin/users", email="p2@shop.example", role="owner", password="short")
    assert r.status_code == 422 and "12 characters" in main_text(r)
    assert len(audit_entries(app, "user.created")) == 2  # the owner made by the CLI, and the viewer


def test_changing_role_and_sites_disabling_enabling(app, runner, dashboard, make_user, make_site):
    site_a, _ = make_site(name="Shop A")
    site_b, _ = make_site(name="Shop B")
    admin = make_user("owner")
    viewer = make_user("viewer", sites=[site_a])
    vid = user_id(runner, viewer)
    d = dashboard()
    d.sign_in(admin)
    v = dashboard()
    v.sign_in(viewer)
    assert v.get(f"/admin/sites/{site_a}/banner").status_code == 403
    page = f"/admin/users/{vid}"
    r = d.submit(page, page, role="editor", sites=[site_b])
    assert r.status_code == 302 and "is now editor" in main_text(d.get(page))
    assert v.get(f"/admin/sites/{site_b}/banner").status_code == 200  # at once, in the session they have
    assert v.get(f"/admin/sites/{site_a}").status_code == 404
    [changed] = audit_entries(app, "user.role_changed")
    assert changed["actor"] == f"user:{user_id(runner, admin)}" and changed["target_id"] == str(vid)
    assert changed["details"] == {"role": "editor", "all_sites": False, "sites": [site_b]}
    r = d.submit(page, page, role="viewer", sites=[])
    assert r.status_code == 422 and "Choose at least one site" in main_text(r)

    confirm = d.get(f"{page}/disable")
    assert confirm.status_code == 200 and "Disable" in main_text(confirm) and not audit_entries(app, "user.disabled")
    r = d.submit(f"{page}/disable", f"{page}/disable")
    assert r.status_code == 302 and "disabled" in main_text(d.get(page))
    assert v.get("/admin/").status_code == 302  # signed out
    assert dashboard().sign_in(viewer).status_code == 403
    r = d.submit(page, f"{page}/enable")
    assert r.status_code == 302 and dashboard().sign_in(viewer).status_code == 302
    assert [e["actor"] for e in audit_entries(app) if e["action"] in ("user.disabled", "user.enabled")] == [
        f"user:{user_id(runner, admin)}"] * 2


def test_the_last_installation_owner_cannot_be_disabled_or_demoted(app, runner, dashboard, make_user, make_site):
    site_key, _ = make_site()
    admin = make_user("owner")
    page = f"/admin/users/{user_id(runner, admin)}"
    d = dashboard()
    d.sign_in(admin)
    r = d.submit(f"{page}/disable", f"{page}/disable")
    assert r.status_code == 409 and "last installation owner" in main_text(r)
    r = d.submit(page, page, role="owner", sites=[site_key])
    assert r.status_code == 409 and "last installation owner" in main_text(r)
    assert d.get("/admin/users").status_code == 200
    assert not audit_entries(app, "user.disabled") and not audit_entries(app, "user.role_changed")


def test_resetting_a_password_and_a_second_factor(app, runner, dashboard, make_user, make_site):
    site_key, _ = make_site()
    admin = make_user("owner")
    editor = make_user("editor", sites=[site_key])
    page = f"/admin/users/{user_id(runner, editor)}"
    e = dashboard()
    e.sign_in(editor)
    e.submit("/admin/account", "/admin/account/second-factor/setup")
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', e.get("/admin/account").get_data(True)).group(1)
    e.submit("/admin/account", "/admin/account/second-factor/enable", **{"enable-code": pyotp.TOTP(secret).now()})
    d = dashboard()
    d.sign_in(admin)
    assert "Reset two-step sign-in" in main_text(d.get(page))

    assert "cannot" not in main_text(d.get(f"{page}/reset-password")) and not audit_entries(app, "user.password_reset")
    r = d.submit(f"{page}/reset-password", f"{page}/reset-password")
    password = shown_password(r)
    assert r.status_code == 200 and password and password not in d.get(page).get_data(as_text=True)
    assert e.get("/admin/").status_code == 302  # their session ended
    assert dashboard().sign_in(editor).status_code == 401  # the old password no longer works
    [reset] = audit_entries(app, "user.password_reset")
    assert reset["actor"] == f"user:{user_id(runner, admin)}" and reset["target_id"] == page.rsplit("/", 1)[1]

    d.get(f"{page}/reset-second-factor")
    assert [x["details"] for x in audit_entries(app, "user.totp_removed")] == []
    r = d.submit(f"{page}/reset-second-factor", f"{page}/reset-second-factor")
    assert r.status_code == 302 and "Reset two-step sign-in" not in main_text(d.get(page))
    [removed] = audit_entries(app, "user.totp_removed")
    assert removed["details"] == {"by": "reset"} and removed["actor"] == reset["actor"]
    s = dashboard()
    r = s.sign_in(editor, password)
    assert r.status_code == 302 and "/login/code" not in r.headers["Location"]  # no code asked any more


ROUTES = ["/admin/users", "/admin/users/{id}", "/admin/users/{id}/disable", "/admin/users/{id}/enable",
          "/admin/users/{id}/reset-password", "/admin/users/{id}/reset-second-factor"]


@pytest.mark.parametrize("role", ["owner-of-a-site", "editor", "privacy", "viewer"])
def test_only_installation_owners_reach_the_users_routes(app, runner, dashboard, make_user, make_site, role):
    site_key, _ = make_site()
    target = make_user("viewer", sites=[site_key])
    tid = user_id(runner, target)
    d = dashboard()
    d.sign_in(make_user(role.split("-")[0], sites=[site_key]))
    token = d.form("/admin/account", "/admin/account/password")["password-csrf_token"]
    for route in ROUTES:
        path = route.format(id=tid)
        if not path.endswith("/enable"):  # a POST only
            r = d.get(path)
            assert r.status_code == 403 and "may not manage users" in main_text(r), path
        r = d.client.post(path, data={"csrf_token": token, "email": "x@shop.example", "role": "owner"})
        assert r.status_code == 403, path
    assert len(audit_entries(app, "user.created")) == 2
    assert not [e for e in audit_entries(app) if e["action"] in (
        "user.role_changed", "user.disabled", "user.enabled", "user.password_reset", "user.totp_removed")]


def test_a_user_that_does_not_exist_answers_404(dashboard, make_user):
    d = dashboard()
    d.sign_in(make_user("owner"))
    token = d.form("/admin/users", "/admin/users")["csrf_token"]
    for route in ROUTES[1:]:
        path = route.format(id=999999)
        if not path.endswith("/enable"):
            assert d.get(path).status_code == 404, path
        assert d.client.post(path, data={"csrf_token": token}).status_code == 404, path
