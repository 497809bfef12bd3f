"""The site settings page: the email double-opt-in default, saved as `flask email-consents
double-opt-in` saves it (what `flask sites export` then says), audited as site.updated by the
user; editors and owners only, route by route."""
import json

import pytest

from tests.admin.conftest import audit_entries, main_text, user_id


def settings(site_key):
    return f"/admin/sites/{site_key}/settings"


def exported(runner, site_key):
    return json.loads(runner.invoke(args=["sites", "export", site_key]).output)["email_double_opt_in"]


def test_an_editor_turns_double_opt_in_off_and_on(app, runner, dashboard, make_user, make_site):
    site_key, _ = make_site()
    editor = make_user("editor", sites=[site_key])
    d = dashboard()
    d.sign_in(editor)
    page = d.get(settings(site_key))
    assert page.status_code == 200 and f'href="{settings(site_key)}"' in page.get_data(as_text=True)
    assert d.form(settings(site_key), settings(site_key))["email_double_opt_in"] == "on" and exported(runner, site_key)

    r = d.submit(settings(site_key), settings(site_key), email_double_opt_in="off")
    assert r.status_code == 302 and exported(runner, site_key) is False
    assert "now off" in main_text(d.get(settings(site_key)))
    assert d.form(settings(site_key), settings(site_key))["email_double_opt_in"] == "off"
    [entry] = audit_entries(app, "site.updated")
    assert entry["actor"] == f"user:{user_id(runner, editor)}" and entry["details"] == {"email_double_opt_in": False}
    assert "off" in main_text(d.get(f"/admin/sites/{site_key}"))  # the overview's settings say so too

    d.submit(settings(site_key), settings(site_key))  # unchanged: nothing written
    assert len(audit_entries(app, "site.updated")) == 1 and "Nothing changed" in main_text(d.get(settings(site_key)))
    d.submit(settings(site_key), settings(site_key), email_double_opt_in="on")
    assert exported(runner, site_key) is True and len(audit_entries(app, "site.updated")) == 2


def test_a_choice_that_is_neither_on_nor_off_is_refused(app, dashboard, make_user, make_site):
    site_key, _ = make_site()
    d = dashboard()
    d.sign_in(make_user("owner", sites=[site_key]))
    r = d.submit(settings(site_key), settings(site_key), email_double_opt_in="maybe")
    assert r.status_code == 422 and "Choose on or off" in main_text(r) and not audit_entries(app, "site.updated")


@pytest.mark.parametrize("role", ["privacy", "viewer"])
def test_privacy_and_viewers_may_not_reach_the_settings(app, dashboard, make_user, make_site, role):
    site_key, _ = make_site()
    d = dashboard()
    d.sign_in(make_user(role, sites=[site_key]))
    token = d.form("/admin/account", "/admin/account/password")["password-csrf_token"]
    r = d.get(settings(site_key))
    assert r.status_code == 403 and "may not edit the banner" in main_text(r)
    r = d.client.post(settings(site_key), data={"csrf_token": token, "email_double_opt_in": "off"})
    assert r.status_code == 403 and not audit_entries(app, "site.updated")
    assert f'href="{settings(site_key)}"' not in d.get(f"/admin/sites/{site_key}").get_data(as_text=True)


def test_a_site_not_granted_answers_404(app, dashboard, make_user, make_site):
    site_a, _ = make_site(name="Shop A")
    site_b, _ = make_site(name="Shop B")
    d = dashboard()
    d.sign_in(make_user("owner", sites=[site_a]))
    token = d.form(settings(site_a), settings(site_a))["csrf_token"]
    assert d.get(settings(site_b)).status_code == 404
    r = d.client.post(settings(site_b), data={"csrf_token": token, "email_double_opt_in": "off"})
    assert r.status_code == 404 and not audit_entries(app, "site.updated")
