"""The keys, webhooks, settings and users pages in real Chromium: an installation owner makes an
API key (its secret shown once, copied with the button), revokes it through its confirmation step,
adds a webhook, sets the double-opt-in default, adds a user with a generated password and changes
their role; axe-core finds nothing on any page, and each is screenshotted."""
from app.extensions import db
from app.services.sites.administration import create_site
from tests.admin.conftest import new_address
from tests.browser.conftest import axe_violations, make_dashboard_user, sign_in


def test_keys_webhooks_settings_and_users_pages(app, browser, live_server, runner, screenshots):
    with app.app_context():
        site, _ = create_site("Laden", [live_server], ["en", "de"], "en", policy_url=f"{live_server}/demo/privacy")
        key = site.site_key
        db.session.remove()
    make_dashboard_user(runner, "olga@laden.example", "owner")
    ctx = browser.new_context(extra_http_headers={"X-Forwarded-For": new_address()},
                              permissions=["clipboard-read", "clipboard-write"])
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    base = f"{live_server}/admin/sites/{key}"
    try:
        sign_in(page, live_server, "olga@laden.example")

        page.goto(f"{base}/keys")
        assert axe_violations(page) == []
        screenshots(page, "api-keys")
        page.get_by_label("Label (optional)").fill("checkout server")
        page.get_by_role("button", name="Create a key").click()
        secret = page.locator("#new-secret").text_content().strip()
        assert secret.startswith("opsiq_sk_")
        page.get_by_role("button", name="Copy the key").click()
        page.get_by_text("Copied.").wait_for()
        assert page.evaluate("navigator.clipboard.readText()") == secret
        assert axe_violations(page) == []
        screenshots(page, "api-key-created")
        page.get_by_role("link", name="Back to the API keys").click()
        page.get_by_role("link", name=f"Revoke {secret[:17]}").click()
        page.wait_for_url("**/revoke")
        assert axe_violations(page) == []
        screenshots(page, "api-key-revoke")
        page.get_by_role("button", name="Revoke the key").click()
        page.get_by_text(f"The key {secret[:17]}… is revoked.").wait_for()

        page.goto(f"{base}/webhooks")
        page.get_by_label("URL").fill("https://hooks.laden.example/in")
        page.get_by_label("consent.recorded").check()
        page.get_by_role("button", name="Add the webhook").click()
        assert page.locator("#webhook-secret").text_content().startswith("whsec_")
        assert axe_violations(page) == []
        page.get_by_role("link", name="Back to the webhooks").click()
        page.wait_for_url(f"{base}/webhooks")
        assert axe_violations(page) == []
        screenshots(page, "webhooks")

        page.goto(f"{base}/settings")
        page.get_by_label("Off (single opt-in)").check()
        page.get_by_role("button", name="Save the settings").click()
        page.get_by_text("Email double opt-in is now off").wait_for()
        assert axe_violations(page) == []
        screenshots(page, "site-settings")

        page.goto(f"{live_server}/admin/users")
        page.get_by_label("Email").fill("kai@laden.example")
        page.get_by_label("Role", exact=True).select_option("viewer")
        page.get_by_label("Laden").check()
        page.get_by_role("button", name="Add the user").click()
        assert len(page.locator("#new-password").text_content().strip()) >= 12
        assert axe_violations(page) == []
        screenshots(page, "user-created")
        page.goto(f"{live_server}/admin/users")
        assert axe_violations(page) == []
        screenshots(page, "users")
        page.get_by_role("link", name="kai@laden.example").click()
        page.get_by_label("Role", exact=True).select_option("editor")
        page.get_by_role("button", name="Save the role and sites").click()
        page.get_by_text("kai@laden.example is now editor").wait_for()
        assert axe_violations(page) == []
        screenshots(page, "user")
        page.get_by_role("link", name="Reset the password").click()
        page.wait_for_url("**/reset-password")
        assert axe_violations(page) == []
        page.set_viewport_size({"width": 375, "height": 800})  # a phone's width: nothing wider than the screen
        for path in (f"{base}/keys", f"{base}/webhooks", f"{base}/settings", "/admin/users"):
            page.goto(path if path.startswith("http") else live_server + path)
            assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth"), path
        screenshots(page, "users-phone")
        assert errors == []
    finally:
        ctx.close()
