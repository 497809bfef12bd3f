"""Erasing a person from the requests page in real Chromium: an owner records Jane's erasure
request, erases her through the confirmation step, sees what went, and finds the erasure and the
request in the site's audit log; axe-core passes every page, and each reads at phone width."""
from tests.admin.test_requests_page import JANE, api_requests, jane
from tests.browser.conftest import axe_violations, dashboard_context, make_dashboard_user, sign_in


def test_an_owner_erases_a_person_from_the_requests_page_and_the_audit_log_shows_it(
        app, browser, client, live_server, runner, make_site, screenshots):
    key, api_key = make_site(name="Corner shop")
    jane(client, key, api_key)  # her consents, identity and email consent, through the API
    make_dashboard_user(runner, "ann@corner.example", "owner", key)
    ctx, page, errors = dashboard_context(browser)
    try:
        sign_in(page, live_server, "ann@corner.example")
        page.goto(f"{live_server}/admin/sites/{key}")
        page.get_by_role("link", name="Requests").click()
        page.get_by_text("No open requests.").wait_for()
        assert axe_violations(page) == []

        page.get_by_label("Kind").select_option(label="Erasure")
        page.get_by_label("Identified by").select_option(label="Email")
        page.get_by_label("Identifier").fill(JANE)
        page.get_by_role("button", name="Record the request").click()
        page.get_by_text("Recorded the erasure request").wait_for()
        [request] = api_requests(client, api_key)
        rid = request["request_id"]
        row = page.get_by_role("row").filter(has_text=rid)
        assert "Open" in row.inner_text() and "j*******@e******.com" in row.inner_text()
        assert axe_violations(page) == []
        screenshots(page, "requests")

        row.get_by_role("link", name=f"Erase the subject of request {rid}").click()
        page.get_by_role("table", name="What would be erased now").wait_for()
        assert JANE in page.locator("main").inner_text()  # in full, to confirm the right person
        assert axe_violations(page) == []
        screenshots(page, "erase-confirm")
        page.get_by_role("button", name="Erase").click()  # without the word: nothing is erased
        page.get_by_text("Type the word ERASE to erase; nothing was erased.").wait_for()
        assert api_requests(client, api_key, "open") == [request]
        assert axe_violations(page) == []  # the form with its error too
        page.get_by_label("Type ERASE to confirm").fill("ERASE")
        page.get_by_role("button", name="Erase").click()
        page.get_by_text(f"Erased for request {rid}").wait_for()
        counts = page.get_by_role("table", name="What the erasure removed, per kind").inner_text()
        assert "Consent records (their personal fields; the decisions stay, anonymous)\t3" in counts
        assert "Email consent records\t2" in counts
        erased_row = page.get_by_role("row").filter(has_text=rid)
        assert "Fulfilled" in erased_row.inner_text() and "Email: erased" in erased_row.inner_text()
        assert [q["status"] for q in api_requests(client, api_key)] == ["fulfilled"]
        assert axe_violations(page) == []
        screenshots(page, "requests-erased")

        page.get_by_role("link", name="Audit log").click()
        log = page.get_by_role("table", name="Audit entries, newest first")
        log.wait_for()
        rows = [row.locator("th, td").all_inner_texts() for row in log.locator("tbody tr").all()]
        for action in ("subject.erased", "subject_request.fulfilled", "subject_request.created"):
            [actor] = [cells[1] for cells in rows if cells[2] == action]
            assert actor.startswith("user:") and actor.endswith("ann@corner.example"), action
        assert JANE not in page.content()
        assert axe_violations(page) == []
        screenshots(page, "audit-log")
        page.get_by_label("Action").select_option("subject.erased")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url(f"**/admin/sites/{key}/audit?*action=subject.erased*")
        assert [row.locator("td").nth(1).inner_text() for row in log.locator("tbody tr").all()] == ["subject.erased"]
        assert axe_violations(page) == []

        page.set_viewport_size({"width": 375, "height": 740})  # a phone: the page no wider than the screen
        for path in (f"/admin/sites/{key}/requests?status=all", f"/admin/sites/{key}/requests/{rid}/erase",
                     f"/admin/sites/{key}/audit"):
            page.goto(live_server + path)
            assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth"), path
            assert axe_violations(page) == [], path  # a table wider than the screen scrolls, by keyboard too
        screenshots(page, "audit-log-phone")
        assert errors == []
    finally:
        ctx.close()
