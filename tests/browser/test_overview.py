"""The overview in real Chromium: after a known set of decisions (tests/api/test_stats.py) and a
rollup, the page's choices and purposes tables show the API's figures; the charts and tables pass
axe-core and the page reads at phone width."""
from tests.admin.conftest import new_address
from tests.api.test_stats import rollup, stats, write_known_set
from tests.browser.conftest import axe_violations, make_dashboard_user, sign_in


def test_the_overview_shows_the_apis_counts(app, browser, live_server, client, runner, site_ctx, screenshots):
    site_key, _, auth = site_ctx
    write_known_set(client, runner, site_key)
    rollup(runner, site_key)
    api = stats(client, auth)["totals"]
    make_dashboard_user(runner, "val@shop.example", "viewer", site_key)
    ctx = browser.new_context(extra_http_headers={"X-Forwarded-For": new_address()})
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        sign_in(page, live_server, "val@shop.example")
        page.goto(f"{live_server}/admin/sites/{site_key}")
        cells = page.locator("#table-methods tbody tr").evaluate_all(
            "rows => rows.map(r => [...r.children].map(c => c.textContent.trim()))")
        labels = {"accept_all": "Accept all", "reject_all": "Reject all", "custom": "Custom", "dismiss": "Dismissed",
                  "gpc": "GPC", "api": "Through the API"}
        assert {c[0]: int(c[1]) for c in cells} == {labels[m]: n for m, n in api["methods"].items()}
        purposes = page.locator("#table-purposes tbody tr").evaluate_all(
            "rows => rows.map(r => [...r.children].map(c => c.textContent.trim()))")
        assert [(c[0], int(c[1]), int(c[2])) for c in purposes] == [
            (p["purpose"], p["decided"], p["granted"]) for p in api["purposes"]]
        assert page.get_by_role("img", name="Decisions per day: at most 9 a day").is_visible()
        assert axe_violations(page) == []
        screenshots(page, "overview")
        page.set_viewport_size({"width": 375, "height": 740})
        assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
        screenshots(page, "overview-phone")
        assert errors == []
    finally:
        ctx.close()
