"""Signing in and out of the dashboard over HTTP, with real CSRF tokens: the form, wrong passwords
and their throttle, disabled accounts, the session cookie, its rotation and idle timeout, and what
the audit log keeps of each."""
import logging
import re

import pytest

from tests.admin.conftest import PASSWORD, audit_entries, main_text, page_forms, user_id


def test_root_redirects_to_the_dashboard_which_asks_for_a_sign_in(dashboard):
    d = dashboard()
    r = d.get("/")
    assert r.status_code == 302 and r.headers["Location"] == "/admin/"
    r = d.get("/admin/")
    assert r.status_code == 302 and r.headers["Location"] == "/admin/login?next=/admin/"
    page = d.get("/admin/login")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert re.search(r'<label for="email">Email</label>', html) and re.search(r'<label for="password">Password</label>',
                                                                              html)
    assert '<button type="submit">Sign in</button>' in html
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Frame-Options"] == "DENY"


def test_a_user_made_by_the_cli_signs_in_and_sees_the_sites(app, dashboard, make_user, runner, make_site):
    site_key, _ = make_site(name="Shop & Co <b>", origins=("https://shop.example", "https://www.shop.example"))
    email = make_user("owner")
    d = dashboard()
    r = d.sign_in(email.upper() + " ", PASSWORD)  # an address in any case, spaces around it, is the same
    assert r.status_code == 302 and r.headers["Location"] == "/admin/"
    home = d.get("/admin/")
    text = main_text(home)
    assert home.status_code == 200 and "Shop & Co <b>" in text and site_key in text
    assert "https://www.shop.example" in text
    assert "Shop &amp; Co &lt;b&gt;" in home.get_data(as_text=True)  # a site's name is text, never markup
    assert f'href="/admin/sites/{site_key}"' in home.get_data(as_text=True)
    [entry] = audit_entries(app, "user.signed_in")
    uid = user_id(runner, email)
    assert entry["actor"] == f"user:{uid}" and entry["target_kind"] == "user" and entry["target_id"] == str(uid)
    assert entry["client_ip"] == d.address.rsplit(".", 1)[0] + ".0" and entry["site_id"] is None
    assert entry["details"] == {"second_factor": False}
    listed = runner.invoke(args=["users", "list"]).output
    assert "never" not in listed.splitlines()[0]  # the last sign-in is kept


def test_a_wrong_password_is_refused_and_audited_without_telling_which_accounts_exist(app, dashboard, make_user,
                                                                                     runner):
    email = make_user("owner")
    d = dashboard()
    wrong = d.sign_in(email, "not the password at all")
    unknown = d.sign_in("nobody@shop.example", "not the password at all")
    for r in (wrong, unknown):
        assert r.status_code == 401
        assert "The email or password is not right." in main_text(r)
        assert d.session_cookie() is None or "_user_id" not in str(d.session_cookie().value)
    assert d.get("/admin/").status_code == 302
    failed = audit_entries(app, "user.sign_in_failed")
    assert [(e["actor"], e["target_id"], e["details"]["reason"]) for e in failed] == [
        (f"user:{user_id(runner, email)}", str(user_id(runner, email)), "password"), ("anonymous", None, "unknown")]


def test_failed_sign_ins_are_throttled_per_account_and_per_address(app, dashboard, make_user):
    email = make_user("owner")
    d = dashboard()
    for _ in range(5):  # RATE_LIMIT_SIGN_IN: 5 failures per account in 15 minutes
        assert d.sign_in(email, "wrong password, again").status_code == 401
    r = d.sign_in(email, PASSWORD)  # even the right password waits now
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 900
    assert "Too many attempts" in main_text(r) and "Too many failed sign-ins. Try again in" in main_text(r)
    assert "Back to sign-in" in main_text(r)
    assert dashboard().sign_in(email, PASSWORD).status_code == 429  # from another address too: the account waits
    # the address: 20 failures in 15 minutes, whichever accounts they name
    other = dashboard()
    for i in range(20):
        assert other.sign_in(f"guess{i}@shop.example", "wrong password, again").status_code == 401
    assert other.sign_in(make_user("owner"), PASSWORD).status_code == 429
    assert len(audit_entries(app, "user.sign_in_failed")) == 25  # the refused attempts were not checked


def test_a_right_sign_in_forgets_the_accounts_failures(dashboard, make_user):
    email = make_user("owner")
    d = dashboard()
    for _ in range(4):
        d.sign_in(email, "wrong password, again")
    assert d.sign_in(email, PASSWORD).status_code == 302
    d.sign_out()
    for _ in range(4):
        assert d.sign_in(email, "wrong password, again").status_code == 401
    assert d.sign_in(email, PASSWORD).status_code == 302


def test_a_post_without_its_csrf_token_is_refused(app, dashboard, make_user):
    email = make_user("owner")
    d = dashboard()
    r = d.submit("/admin/login", token=False, email=email, password=PASSWORD)
    assert r.status_code == 400 and "did not come from this dashboard" in main_text(r)
    assert r.mimetype == "text/html"
    r = d.client.post("/admin/login", data={"email": email, "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 400
    assert audit_entries(app, "user.signed_in") == []
    assert d.sign_in(email).status_code == 302
    r = d.submit("/admin/", "/admin/logout", token=False)  # signed in, the same
    assert r.status_code == 400 and d.get("/admin/").status_code == 200
    # the JSON API and the widget's endpoints still take none (the rest of the suite posts without any)


def test_sign_out_ends_the_session(app, dashboard, make_user, runner):
    email = make_user("owner")
    d = dashboard()
    d.sign_in(email)
    r = d.sign_out()
    assert r.status_code == 302 and r.headers["Location"] == "/admin/login"
    assert "You are signed out." in main_text(d.get("/admin/login"))
    assert d.get("/admin/").status_code == 302
    [entry] = audit_entries(app, "user.signed_out")
    assert entry["actor"] == f"user:{user_id(runner, email)}" and entry["details"] == {"reason": "signed_out"}


def test_a_disabled_user_cannot_sign_in_and_is_signed_out(app, dashboard, make_user, runner):
    email = make_user("owner")
    d = dashboard()
    d.sign_in(email)
    assert d.get("/admin/").status_code == 200
    r = runner.invoke(args=["users", "disable", email])
    assert r.exit_code == 0, r.output
    assert d.get("/admin/").status_code == 302  # the session in progress ends
    r = dashboard().sign_in(email)
    assert r.status_code == 403 and "This account is disabled" in main_text(r)
    assert dashboard().sign_in(email, "wrong password, again").status_code == 401  # only the password tells
    assert [e["details"]["reason"] for e in audit_entries(app, "user.sign_in_failed")] == ["disabled", "password"]
    assert runner.invoke(args=["users", "enable", email]).exit_code == 0
    assert dashboard().sign_in(email).status_code == 302


def test_a_password_reset_ends_every_session_of_the_user(app, dashboard, make_user, runner):
    email = make_user("owner")
    first, second = dashboard(), dashboard()
    first.sign_in(email)
    second.sign_in(email)
    assert first.get("/admin/").status_code == second.get("/admin/").status_code == 200
    r = runner.invoke(args=["users", "reset-password", email, "--password-stdin"], input="a brand new passphrase\n")
    assert r.exit_code == 0, r.output
    for d in (first, second):
        r = d.get("/admin/")
        assert r.status_code == 302 and r.headers["Location"].startswith("/admin/login")
    assert dashboard().sign_in(email, PASSWORD).status_code == 401
    assert dashboard().sign_in(email, "a brand new passphrase").status_code == 302


def test_the_session_cookie_is_httponly_lax_and_for_the_dashboard_only(dashboard, make_user):
    d = dashboard()
    r = d.sign_in(make_user("owner"))
    [cookie] = [c for c in r.headers.getlist("Set-Cookie") if c.startswith("opsiq_session=")]
    flags = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
    assert "httponly" in flags and flags["samesite"] == "SameSite=Lax" and flags["path"] == "Path=/admin"
    assert "secure" not in flags  # development serves http://127.0.0.1 (production: see test_production_cookie)
    assert "expires" not in flags  # gone when the browser closes
    # the API and the widget never get it, nor do their answers vary by it
    assert d.get("/api/v1/openapi.json").headers.get("Set-Cookie") is None
    assert "Cookie" not in d.get("/api/v1/openapi.json").headers.get("Vary", "")


def test_signing_in_starts_a_new_session(dashboard, make_user):
    email = make_user("owner")
    d = dashboard()
    before = d.form("/admin/login")["csrf_token"]
    anonymous_cookie = d.session_cookie().value
    d.sign_in(email)
    assert d.session_cookie().value != anonymous_cookie
    with d.client.session_transaction("/admin/") as s:
        first_sid = s["sid"]
        assert set(s) >= {"_user_id", "sid", "seen"} and "csrf_token" not in s  # the old CSRF secret is gone
    r = d.client.post("/admin/logout", data={"csrf_token": before})  # a token from before the sign-in
    assert r.status_code == 400
    d.sign_out()
    d.sign_in(email)
    with d.client.session_transaction("/admin/") as s:
        assert s["sid"] != first_sid


@pytest.mark.parametrize("idle_minutes, signed_in", [(29, True), (31, False)])
def test_an_idle_session_is_signed_out(app, dashboard, make_user, runner, idle_minutes, signed_in):
    email = make_user("owner")
    d = dashboard()
    d.sign_in(email)
    with d.client.session_transaction("/admin/") as s:
        s["seen"] -= idle_minutes * 60  # as if the last request was that long ago (ADMIN_IDLE_MINUTES: 30)
    r = d.get("/admin/")
    if signed_in:
        assert r.status_code == 200
        assert audit_entries(app, "user.signed_out") == []
        return
    assert r.status_code == 302 and r.headers["Location"] == "/admin/login?next=/admin/"
    assert "signed out after 30 minutes without activity" in main_text(d.get(r.headers["Location"]))
    assert d.get("/admin/").status_code == 302
    [entry] = audit_entries(app, "user.signed_out")
    assert entry["actor"] == f"user:{user_id(runner, email)}" and entry["details"] == {"reason": "idle"}


def test_after_sign_in_the_user_goes_where_they_were_going_and_nowhere_else(dashboard, make_user, make_site):
    site_key, _ = make_site()
    email = make_user("owner")
    d = dashboard()
    r = d.get(f"/admin/sites/{site_key}")
    assert r.headers["Location"] == f"/admin/login?next=/admin/sites/{site_key}"
    r = d.submit(r.headers["Location"], email=email, password=PASSWORD)
    assert r.headers["Location"] == f"/admin/sites/{site_key}"
    d.sign_out()
    for target in ("https://evil.example/admin/", "//evil.example/admin/", "/api/v1/consents"):
        r = d.submit(f"/admin/login?next={target}", email=email, password=PASSWORD)
        assert r.status_code == 302 and r.headers["Location"] == "/admin/", target
        d.sign_out()


def test_no_email_is_logged_or_audited(app, dashboard, make_user, caplog):
    caplog.set_level(logging.DEBUG)
    email = make_user("owner")
    d = dashboard()
    d.sign_in(email, "wrong password, again")
    d.sign_in(email)
    d.submit("/admin/account", "/admin/account/password", **{
        "password-current_password": PASSWORD, "password-new_password": "another long passphrase",
        "password-repeat_password": "another long passphrase"})
    d.sign_out()
    d.sign_in("unknown@shop.example", "wrong password, again")
    assert email not in caplog.text and "unknown@shop.example" not in caplog.text
    text = repr(audit_entries(app))
    assert "shop.example" not in text and len(audit_entries(app)) >= 5


def test_the_sign_in_form_keeps_its_fields_labelled_when_it_fails(dashboard):
    d = dashboard()
    r = d.submit("/admin/login", email="", password="")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'aria-invalid="true"' in html and 'aria-describedby="email-error"' in html
    [form] = page_forms(html)
    assert set(form["fields"]) == {"csrf_token", "email", "password"}
