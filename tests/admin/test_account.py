"""The account page over HTTP: changing the password, and the TOTP second factor (set up, proved,
asked at sign-in, removed; required installation-wide), with codes made by pyotp as an
authenticator app makes them."""
import re
import time

import pyotp

from tests.admin.conftest import PASSWORD, audit_entries, main_text, user_id

NEW = "an entirely new passphrase"
ACCOUNT = "/admin/account"


def change_password(d, current, new, repeat=None):
    return d.submit(ACCOUNT, f"{ACCOUNT}/password", **{
        "password-current_password": current, "password-new_password": new,
        "password-repeat_password": new if repeat is None else repeat})


def set_up_totp(d):
    """Start the setup on the account page; returns the secret it shows (as a person would copy it)."""
    r = d.submit(ACCOUNT, f"{ACCOUNT}/second-factor/setup")
    assert r.status_code == 302
    page = d.get(ACCOUNT)
    html = page.get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', html).group(1)
    uri = re.search(r'<code id="totp-uri">([^<]+)</code>', html).group(1).replace("&amp;", "&")
    assert pyotp.parse_uri(uri).secret == secret and "issuer=OpsIQ%20Consent" in uri
    return secret


def enable_totp(d, code):
    return d.submit(ACCOUNT, f"{ACCOUNT}/second-factor/enable", **{"enable-code": code})


def next_code(secret):
    """The code of the 30-second step after now: taken too (clocks drift), and later than the one
    that turned the factor on (a code of that step or an earlier one is never taken again)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_a_user_changes_their_password_and_their_other_sessions_end(app, dashboard, make_user, runner):
    email = make_user("owner")
    here, elsewhere = dashboard(), dashboard()
    here.sign_in(email)
    elsewhere.sign_in(email)
    r = change_password(here, "not my password", NEW)
    assert r.status_code == 422 and "The current password is not right." in main_text(r)
    r = change_password(here, PASSWORD, NEW, repeat="something else entirely")
    assert r.status_code == 422 and "The two new passwords differ." in main_text(r)
    r = change_password(here, PASSWORD, "too short")
    assert r.status_code == 422 and "At least 12 characters." in main_text(r)
    r = change_password(here, PASSWORD, NEW)
    assert r.status_code == 302
    assert "Your password is changed." in main_text(here.get(ACCOUNT))  # this session goes on, renewed
    assert elsewhere.get("/admin/").status_code == 302  # the other ends
    assert dashboard().sign_in(email, PASSWORD).status_code == 401
    assert dashboard().sign_in(email, NEW).status_code == 302
    [entry] = audit_entries(app, "user.password_changed")
    assert entry["actor"] == entry["actor"] == f"user:{user_id(runner, email)}"


def test_wrong_current_passwords_count_against_the_sign_in_throttle(dashboard, make_user):
    d = dashboard()
    d.sign_in(make_user("owner"))
    for _ in range(5):
        assert change_password(d, "not my password", NEW).status_code == 422
    r = change_password(d, PASSWORD, NEW)
    assert r.status_code == 429 and "Too many failed sign-ins" in main_text(r)


def test_totp_is_set_up_by_proving_a_code_then_asked_at_every_sign_in(app, dashboard, make_user, runner):
    email = make_user("owner")
    d = dashboard()
    d.sign_in(email)
    assert "Set up two-step sign-in" in main_text(d.get(ACCOUNT))
    secret = set_up_totp(d)
    totp = pyotp.TOTP(secret)
    r = enable_totp(d, "000000" if totp.now() != "000000" else "111111")
    assert r.status_code == 422 and "not the one your app shows now" in main_text(r)
    assert enable_totp(d, totp.now()).status_code == 302
    assert "Two-step sign-in is on" in main_text(d.get(ACCOUNT))
    d.sign_out()

    r = d.sign_in(email)  # the password, then the code
    assert r.status_code == 302 and r.headers["Location"] == "/admin/login/code"
    assert d.get("/admin/").status_code == 302  # not signed in yet
    page = d.get("/admin/login/code")
    assert '<label for="code">Code</label>' in page.get_data(as_text=True)
    r = d.sign_in_with_code("123456" if next_code(secret) != "123456" else "654321")
    assert r.status_code == 401 and "That code is not right" in main_text(r)
    r = d.sign_in_with_code(totp.at(time.time() - 120))  # four steps ago: too old
    assert r.status_code == 401
    code = next_code(secret)
    assert d.sign_in_with_code(code).status_code == 302
    assert d.get("/admin/").status_code == 200
    d.sign_out()
    d.sign_in(email)
    r = d.sign_in_with_code(code)  # the same code again: refused (a code is good once)
    assert r.status_code == 401

    uid = user_id(runner, email)
    assert [e["details"] for e in audit_entries(app, "user.signed_in")] == [
        {"second_factor": False}, {"second_factor": True}]
    assert [e["details"]["reason"] for e in audit_entries(app, "user.sign_in_failed")] == ["code", "code", "code"]
    assert {e["actor"] for e in audit_entries(app) if e["action"].startswith("user.")} - {audit_entries(
        app, "user.created")[0]["actor"]} == {f"user:{uid}"}
    [enabled] = audit_entries(app, "user.totp_enabled")
    assert enabled["target_id"] == str(uid)
    with app.app_context():  # the secret is stored sealed, never as typed
        from app.extensions import db
        from app.models import User

        stored = db.session.get(User, uid).totp_secret
        db.session.rollback()
    assert stored.startswith("m1:") and secret not in stored


def test_the_code_step_is_throttled_and_times_out(app, dashboard, make_user, monkeypatch):
    email = make_user("owner")
    d = dashboard()
    d.sign_in(email)
    secret = set_up_totp(d)
    enable_totp(d, pyotp.TOTP(secret).now())
    d.sign_out()
    d.sign_in(email)
    for _ in range(5):
        assert d.sign_in_with_code("000000" if pyotp.TOTP(secret).now() != "000000" else "111111").status_code == 401
    assert d.sign_in_with_code(pyotp.TOTP(secret).now()).status_code == 429
    other = dashboard()
    other.sign_in(make_user("owner"))  # another account is not held up
    assert other.get("/admin/").status_code == 200
    late = dashboard()
    assert late.get("/admin/login/code").status_code == 302  # no password given: nothing to ask a code for


def test_a_password_reset_ends_a_sign_in_waiting_for_its_code(dashboard, make_user, runner):
    email = make_user("owner")
    d = dashboard()
    d.sign_in(email)
    secret = set_up_totp(d)
    enable_totp(d, pyotp.TOTP(secret).now())
    d.sign_out()
    d.sign_in(email)
    runner.invoke(args=["users", "reset-password", email, "--password-stdin"], input=NEW + "\n")
    r = d.get("/admin/login/code")
    assert r.status_code == 302 and r.headers["Location"].startswith("/admin/login")


def test_totp_is_removed_with_the_password(app, dashboard, make_user):
    email = make_user("owner")
    d = dashboard()
    d.sign_in(email)
    secret = set_up_totp(d)
    enable_totp(d, pyotp.TOTP(secret).now())
    r = d.submit(ACCOUNT, f"{ACCOUNT}/second-factor/remove", **{"remove-password": "not my password"})
    assert r.status_code == 422 and "The password is not right." in main_text(r)
    r = d.submit(ACCOUNT, f"{ACCOUNT}/second-factor/remove", **{"remove-password": PASSWORD})
    assert r.status_code == 302 and "Two-step sign-in is off." in main_text(d.get(ACCOUNT))
    d.sign_out()
    assert d.sign_in(email).headers["Location"] == "/admin/"  # no code asked
    [entry] = audit_entries(app, "user.totp_removed")
    assert entry["details"] == {"by": "self"}


def test_an_installation_can_require_a_second_factor_of_everyone(app, dashboard, make_user, runner, make_site):
    site_key, _ = make_site()
    email = make_user("viewer", sites=[site_key])
    r = runner.invoke(args=["users", "require-2fa", "on"])
    assert r.exit_code == 0, r.output
    d = dashboard()
    assert d.sign_in(email).status_code == 302
    for path in ("/admin/", f"/admin/sites/{site_key}"):  # nothing but setting it up
        r = d.get(path)
        assert r.status_code == 302 and r.headers["Location"] == ACCOUNT, path
    assert "requires two-step sign-in: set it up to continue" in main_text(d.get(ACCOUNT))
    secret = set_up_totp(d)
    assert enable_totp(d, pyotp.TOTP(secret).now()).status_code == 302
    assert d.get("/admin/").status_code == 200
    page = main_text(d.get(ACCOUNT))
    assert "cannot be turned off" in page and "Turn off two-step sign-in" not in page
    r = d.client.post(f"{ACCOUNT}/second-factor/remove", data={
        "remove-password": PASSWORD, **{k: v for k, v in d.form(ACCOUNT, f"{ACCOUNT}/password").items()
                                       if k.endswith("csrf_token")}})
    assert r.status_code == 422 and "requires a second factor" in main_text(r)
    # a lost phone: an operator removes the factor; the user sets up a new one at their next sign-in
    r = runner.invoke(args=["users", "reset-2fa", email])
    assert r.exit_code == 0 and d.get("/admin/").status_code == 302
    d.sign_in(email)
    assert d.get("/admin/").headers["Location"] == ACCOUNT
    assert runner.invoke(args=["users", "require-2fa", "off"]).exit_code == 0
    assert d.get("/admin/").status_code == 200
    assert [e["details"] for e in audit_entries(app, "installation.updated")] == [
        {"second_factor_required": True}, {"second_factor_required": False}]
    assert audit_entries(app, "user.totp_removed")[-1]["details"] == {"by": "reset"}


def test_totp_secrets_are_sealed_again_when_the_master_key_rotates(app, dashboard, make_user, runner, monkeypatch):
    import base64
    import hashlib

    from app.services.keyring import new_master_key

    email = make_user("owner")
    d = dashboard()
    d.sign_in(email)
    secret = set_up_totp(d)
    enable_totp(d, pyotp.TOTP(secret).now())
    d.sign_out()
    old = base64.b64encode(hashlib.sha256(b"opsiq-dev-master-key|" + app.config["SECRET_KEY"].encode()).digest())
    monkeypatch.setitem(app.config, "OPSIQ_MASTER_KEY", new_master_key())
    r = runner.invoke(args=["keys", "rotate-master", "--old-master-key", old.decode()])
    assert r.exit_code == 0, r.output
    assert audit_entries(app, "secret.rotated")[-1]["details"]["resealed"] == 1
    d.sign_in(email)
    assert d.sign_in_with_code(next_code(secret)).status_code == 302


def test_a_factor_in_force_is_not_replaced_without_the_password(dashboard, make_user):
    """A session left open must not be enough to move someone's second factor to another phone."""
    d = dashboard()
    d.sign_in(make_user("owner"))
    enable_totp(d, pyotp.TOTP(set_up_totp(d)).now())
    token = {k: v for k, v in d.form(ACCOUNT, f"{ACCOUNT}/password").items() if k.endswith("csrf_token")}
    r = d.client.post(f"{ACCOUNT}/second-factor/setup", data={"setup-csrf_token": next(iter(token.values()))})
    assert r.status_code == 422 and "turn it off first" in main_text(r)
