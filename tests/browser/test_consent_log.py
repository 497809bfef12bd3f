"""The consent log in real Chromium: a visitor decides on the demo page, and the site's privacy
officer pastes the receipt the widget kept, finds the record and opens its page, which says the
record verifies; every page passes axe-core and reads at phone width."""
from tests.browser.conftest import axe_violations, dashboard_context, make_dashboard_user, sign_in


def test_a_privacy_officer_finds_a_visitors_record_by_its_receipt(app, browser, live_server, runner, demo_site,
                                                                 visit, screenshots):
    make_dashboard_user(runner, "pia@demo.example", "privacy", demo_site)
    visitor = visit(where="DE")
    visitor.open()
    visitor.click("Reject all")
    state = visitor.wait_acked()
    receipt, record_id = state["receipt"], state["recordId"]
    assert receipt and record_id

    ctx, page, errors = dashboard_context(browser)
    try:
        sign_in(page, live_server, "pia@demo.example")
        page.get_by_role("link", name="Demo shop").click()
        page.get_by_role("link", name="Consent log").click()
        page.wait_for_url(f"{live_server}/admin/sites/{demo_site}/consents")
        table = page.get_by_role("table")
        assert record_id in table.inner_html() and "reject all" in table.inner_text()
        assert axe_violations(page) == []
        screenshots(page, "consent-log")

        page.get_by_label("Search by").select_option(label="Receipt")
        page.get_by_label("Search for").fill(receipt)
        page.get_by_role("button", name="Search").click()
        page.get_by_text("This receipt verifies").wait_for()
        assert record_id in page.get_by_role("status").first.inner_text()
        rows = page.get_by_role("table").locator("tbody tr")
        assert rows.count() == 1 and "DE" in rows.inner_text()
        assert axe_violations(page) == []
        screenshots(page, "consent-log-receipt")

        rows.get_by_role("link").click()
        page.wait_for_url(f"{live_server}/admin/sites/{demo_site}/consents/{record_id}")
        proof = page.get_by_role("region", name="This record verifies")
        assert "Hash: verifies." in proof.inner_text()
        assert receipt in page.locator("#record-receipt").inner_text()
        assert axe_violations(page) == []
        screenshots(page, "consent-record")

        page.set_viewport_size({"width": 375, "height": 740})  # a phone: nothing wider than the screen
        for path, name in ((f"/admin/sites/{demo_site}/consents", "consent-log-phone"),
                           (f"/admin/sites/{demo_site}/consents/{record_id}", "consent-record-phone")):
            page.goto(live_server + path)
            assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth"), path
            screenshots(page, name)
        assert errors == [] and visitor.errors == []
    finally:
        ctx.close()
