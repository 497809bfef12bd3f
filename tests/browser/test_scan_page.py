"""The Scan page in real Chromium: an editor queues a scan of the demo shop, the worker runs it, the
page lists it done with no findings and opens its report (screenshots inline, under the report's
own policy); axe-core passes the page, with its form's errors too, and it reads at phone width."""
from tests.browser.conftest import CHROMIUM, axe_violations, dashboard_context, make_dashboard_user, sign_in


def test_an_editor_queues_a_scan_the_worker_runs_it_and_the_report_opens(
        app, browser, live_server, runner, demo_site, screenshots, monkeypatch):
    monkeypatch.setitem(app.config, "SCAN_CHROMIUM", CHROMIUM)
    monkeypatch.setitem(app.config, "SCAN_PAGE_SECONDS", 15)
    make_dashboard_user(runner, "eve@demo.example", "editor", demo_site)
    ctx, page, errors = dashboard_context(browser)
    try:
        sign_in(page, live_server, "eve@demo.example")
        page.goto(f"{live_server}/admin/sites/{demo_site}")
        page.get_by_role("link", name="Scan").click()
        page.get_by_text("No scan yet.").wait_for()
        assert axe_violations(page) == []

        page.get_by_label("Page URL").fill("ftp://demo.example/")
        page.get_by_role("button", name="Queue the scan").click()
        page.get_by_text("must be an http(s) URL").first.wait_for()
        assert axe_violations(page) == []  # the form with its error too

        demo = f"{live_server}/demo?site={demo_site}"
        page.get_by_label("Page URL").fill(demo)
        page.get_by_label("Regions").fill("DE")
        page.get_by_role("button", name="Queue the scan").click()
        page.get_by_text("is queued; the worker runs it").wait_for()
        row = page.get_by_role("row").filter(has_text=demo)
        assert "queued" in row.inner_text()

        result = runner.invoke(args=["worker", "--once"])
        assert result.exit_code == 0 and "worker: scan: 1" in result.output, result.output
        page.reload()
        row = page.get_by_role("row").filter(has_text=demo)
        assert "done" in row.inner_text() and "\t0\t" in row.inner_text()
        assert axe_violations(page) == []
        screenshots(page, "scans")
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth + 1")
        screenshots(page, "scans-phone")
        page.set_viewport_size({"width": 1280, "height": 800})

        row.get_by_role("link", name="Report").click()
        page.get_by_text("No findings.").wait_for()
        shots = page.locator("img[src^='data:image/png;base64,']")
        assert shots.count() == 4  # one per state
        assert page.evaluate("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
        screenshots(page, "scan-report")
        assert errors == []
    finally:
        ctx.close()
