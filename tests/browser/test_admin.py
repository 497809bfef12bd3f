"""The dashboard in real Chromium against the running app: a person signs in through the page's
labelled fields and sees their sites; every page passes axe-core and reads at phone width."""
from tests.admin.conftest import PASSWORD
from tests.browser.conftest import axe_violations, dashboard_context, make_dashboard_user


def test_an_owner_signs_in_through_the_page_and_sees_the_site_list(app, browser, live_server, runner, make_site,
                                                                   screenshots):
    site_key, _ = make_site(name="Corner shop", origins=("https://corner.example",))
    make_dashboard_user(runner, "ann@corner.example", "owner", site_key)
    ctx, page, errors = dashboard_context(browser)
    try:
        page.goto(live_server + "/")
        assert page.url == f"{live_server}/admin/login?next=/admin/"
        assert axe_violations(page) == []
        screenshots(page, "login")
        page.get_by_label("Email").fill("ann@corner.example")
        page.get_by_label("Password").fill("not the password at all")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("alert").wait_for()
        assert "The email or password is not right." in page.get_by_role("alert").inner_text()
        assert axe_violations(page) == []  # the form with its errors too
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server}/admin/")
        table = page.get_by_role("table")
        assert "Corner shop" in table.inner_text() and site_key in table.inner_text()
        assert "https://corner.example" in table.inner_text()
        assert axe_violations(page) == []
        screenshots(page, "sites")

        page.get_by_role("link", name="Corner shop").click()
        page.wait_for_url(f"{live_server}/admin/sites/{site_key}")
        copy = page.get_by_role("button", name="Copy the tag")
        assert copy.is_visible()  # shown once the script runs (its policy allows our own script only)
        ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
        copy.click()
        page.get_by_text("Copied.").wait_for()
        assert page.evaluate("() => navigator.clipboard.readText()") == (
            f'<script src="{live_server}/w/{site_key}.js" async></script>')
        assert axe_violations(page) == []
        screenshots(page, "site")

        page.get_by_role("link", name="Account").click()
        page.get_by_role("button", name="Set up two-step sign-in").click()
        page.get_by_label("Code from your app").wait_for()
        assert axe_violations(page) == []
        screenshots(page, "account")

        page.set_viewport_size({"width": 375, "height": 740})  # a phone: nothing wider than the screen
        for path in ("/admin/", f"/admin/sites/{site_key}", "/admin/account"):
            page.goto(live_server + path)
            assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth"), path
        screenshots(page, "site-phone")

        page.keyboard.press("Tab")  # the first stop is the skip link, and it shows
        assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{live_server}/admin/login")
        assert "You are signed out." in page.get_by_role("status").inner_text()
        assert errors == []
    finally:
        ctx.close()
