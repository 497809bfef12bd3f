"""The dashboard's guards in real Chromium: repeated wrong passwords are throttled (429 page), a
form whose CSRF token is gone is refused (400 page) and changes nothing, and a viewer who opens
the banner editor is refused (403 page) and offered no link to it."""
from app.extensions import db
from app.services.sites.administration import create_site
from tests.admin.conftest import PASSWORD, audit_entries, new_address
from tests.browser.conftest import axe_violations, make_dashboard_user, sign_in


def test_throttle_csrf_and_roles_hold_in_the_browser(app, browser, live_server, runner, screenshots):
    with app.app_context():
        site, _ = create_site("Guarded", [live_server], ["en"], "en")
        key = site.site_key
        db.session.remove()
    for email, role in (("olga@guarded.example", "owner"), ("vic@guarded.example", "viewer")):
        make_dashboard_user(runner, email, role, key)
    ctx = browser.new_context(extra_http_headers={"X-Forwarded-For": new_address()})
    page = ctx.new_page()
    try:
        for _ in range(5):  # RATE_LIMIT_SIGN_IN: 5 failures an account in 15 minutes
            sign_in(page, live_server, "olga@guarded.example", "wrong guess", wait=False)
            page.get_by_role("alert").wait_for()
        sign_in(page, live_server, "olga@guarded.example", wait=False)  # even the right password waits now
        page.get_by_role("heading", name="Too many attempts").wait_for()
        assert axe_violations(page) == []
        screenshots(page, "throttled")

        sign_in(page, live_server, "vic@guarded.example")
        assert page.locator(f'a[href="/admin/sites/{key}/banner"]').count() == 0
        answer = page.goto(f"{live_server}/admin/sites/{key}/banner")
        assert answer.status == 403
        page.get_by_role("heading", name="Not allowed").wait_for()
        assert axe_violations(page) == []
        screenshots(page, "refused")

        page.goto(f"{live_server}/admin/account")  # a real form, its token taken out before it is sent
        before = len(audit_entries(app, "user.password_changed"))
        page.evaluate("() => document.querySelectorAll('input[name$=csrf_token]').forEach(i => i.remove())")
        page.get_by_label("Current password").fill(PASSWORD)
        page.get_by_label("New password", exact=True).fill("another long passphrase")
        page.get_by_label("Repeat the new password").fill("another long passphrase")
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.get_by_role("button", name="Change password").click()
        assert posted.value.status == 400
        page.get_by_role("heading", name="This form could not be accepted").wait_for()
        assert len(audit_entries(app, "user.password_changed")) == before  # nothing changed
        screenshots(page, "csrf-refused")
    finally:
        ctx.close()
