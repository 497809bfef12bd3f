"""The proof pack pages in real Chromium: a viewer opens the site's proof packs from its
navigation, reaches the version's "Download ZIP" link by keyboard and downloads the pack; once
`flask proof rebuild` has completed the pack, an editor's page shows its screenshots. Every page passes axe-core and
reads at phone width."""
import zipfile

from tests.admin.conftest import new_address
from tests.browser.conftest import CHROMIUM, axe_violations, dashboard_context, make_dashboard_user, sign_in


def test_a_viewer_downloads_a_pack_by_keyboard_and_an_editor_sees_its_screenshots(
        app, browser, live_server, runner, make_site, screenshots, tmp_path):
    site_key, _ = make_site(name="Shop", languages=["en"])
    assert runner.invoke(args=["proof", "build", site_key, "--version", "1"]).exit_code == 0
    make_dashboard_user(runner, "vera@shop.example", "viewer", site_key)
    make_dashboard_user(runner, "ed@shop.example", "editor", site_key)
    base = f"{live_server}/admin/sites/{site_key}/proof"

    ctx, page, errors = dashboard_context(browser, accept_downloads=True)
    try:
        sign_in(page, live_server, "vera@shop.example")
        page.get_by_role("link", name="Shop").click()
        page.get_by_role("link", name="Proof packs").click()
        page.wait_for_url(base)
        assert "Built without screenshots" in page.get_by_role("table").inner_text()
        assert axe_violations(page) == []
        screenshots(page, "proof-packs")

        link = page.get_by_role("link", name="Download ZIP of version 1")
        for _ in range(40):  # Tab until the link has the focus
            page.keyboard.press("Tab")
            if link.evaluate("a => a === document.activeElement"):
                break
        else:
            raise AssertionError("the Download ZIP link is not reachable by keyboard")
        with page.expect_download() as info:
            page.keyboard.press("Enter")
        download = info.value
        assert download.suggested_filename == f"proof-{site_key}-v1.zip"
        path = tmp_path / "pack.zip"
        download.save_as(path)
        with zipfile.ZipFile(path) as z:
            assert {"manifest.json", "verify_pack.py", "document.json"} <= set(z.namelist())

        page.get_by_role("link", name="Version 1", exact=True).click()
        page.wait_for_url(f"{base}/1")
        assert "This pack has no screenshots" in page.locator("main").inner_text()
        assert axe_violations(page) == []
        screenshots(page, "proof-pack-without-screenshots")
    finally:
        ctx.close()

    # completed with Chromium by the command (the page's own Rebuild button is tested over HTTP)
    app.config["PROOF_CHROMIUM"] = CHROMIUM  # the browser fixture skipped the test if it is missing
    try:
        r = runner.invoke(args=["proof", "rebuild", site_key, "--version", "1"])
        assert r.exit_code == 0, r.output
    finally:
        app.config["PROOF_CHROMIUM"] = None
    ctx = browser.new_context(extra_http_headers={"X-Forwarded-For": new_address()})
    page = ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        sign_in(page, live_server, "ed@shop.example")
        page.goto(f"{base}/1")
        page.get_by_text("with 6 screenshots").first.wait_for()
        images = page.get_by_role("img")
        assert images.count() == 6
        assert page.get_by_role("img", name="The preferences dialog in language en, regime opt_out").count() == 1
        page.evaluate("() => Promise.all([...document.images].map(i => i.decode()))")
        assert page.evaluate("() => [...document.images].every(i => i.naturalWidth == 1280)")
        assert axe_violations(page) == []
        screenshots(page, "proof-pack")

        page.set_viewport_size({"width": 375, "height": 740})  # a phone: nothing wider than the screen
        for path, name in ((base, "proof-packs-phone"), (f"{base}/1", "proof-pack-phone")):
            page.goto(path)
            assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth"), path
            screenshots(page, name)
        assert errors == []
    finally:
        ctx.close()
