"""The banner editor in real Chromium: an editor changes the German description, sees it in the
live preview of the real widget (which axe-core passes in every regime), publishes it, and a German
visitor who had already chosen is asked again, with the new text."""
from app.extensions import db
from app.services.sites.administration import create_site
from tests.admin.conftest import new_address
from tests.browser.conftest import Visitor, axe_violations, dashboard_context, make_dashboard_user, sign_in

NEW = "Neu formuliert: Wir fragen erst, dann messen wir."


def test_edit_preview_publish_and_the_visitor_is_asked_again(app, browser, live_server, runner, screenshots):
    with app.app_context():
        site, _ = create_site("Laden", [live_server], ["en", "de"], "en", policy_url=f"{live_server}/demo/privacy")
        key = site.site_key
        db.session.remove()
    make_dashboard_user(runner, "eve@laden.example", "editor", key)
    visitor = Visitor(browser, live_server, key, where="DE", language="de")
    ctx, page, errors = dashboard_context(browser)
    # routed, so never from the browser's cache: /w/<site_key>.js may be cached for 5 minutes, and
    # the test asks what the server serves now
    visitor.page.route("**/w/*", lambda route: route.continue_())
    try:
        visitor.open()
        assert visitor.banner_shown()
        visitor.click("Alle akzeptieren")
        visitor.wait_acked()

        sign_in(page, live_server, "eve@laden.example")
        page.goto(f"{live_server}/admin/sites/{key}/banner?lang=de")
        preview = page.frame_locator("iframe[name=preview]")
        preview.locator("#opsiq-consent").get_by_role("button", name="Alle akzeptieren").wait_for()
        assert axe_violations(page) == []
        screenshots(page, "banner-editor")

        page.get_by_label("description", exact=True).fill(NEW)  # the preview follows as one types
        preview.locator("#opsiq-consent").get_by_text(NEW).first.wait_for()
        frame = page.frame(name="preview")
        assert axe_violations(page, frame) == []
        for regime, label in (("opt_out", "Opt-out (US-CA)"), ("notice", "Notice")):
            page.get_by_label("Regime", exact=True).select_option(label=label)
            page.wait_for_function("r => frames[0].opsiqConsent && frames[0].opsiqConsent.get().regime == r",
                                   arg=regime)
            preview.locator("#opsiq-consent").get_by_text(NEW).first.wait_for()
            assert axe_violations(page, page.frame(name="preview")) == [], regime
        page.get_by_label("Show").select_option(label="Preferences dialog")
        preview.locator("#opsiq-consent").get_by_role("dialog").wait_for()
        assert axe_violations(page, page.frame(name="preview")) == []
        screenshots(page, "banner-preview-dialog")
        # the preview stored nothing where the site's pages on this origin would read it
        assert page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('opsiq.'))") == []

        page.get_by_role("button", name="Save draft").click()
        page.get_by_text("Draft saved.").wait_for()
        visitor.open()  # saved, not published: the visitor's choice stands, no banner
        assert not visitor.banner_shown()

        page.get_by_role("link", name="review and publish").click()
        table = page.get_by_role("table")
        assert "texts.de.description" in table.inner_text() and NEW in table.inner_text()
        assert axe_violations(page) == []
        screenshots(page, "publish")
        page.get_by_role("button", name="Publish").click()
        page.get_by_text("as policy version 2: every visitor is asked again").wait_for()

        visitor.open()  # a new policy version: asked again, in the new words
        assert visitor.banner_shown()
        visitor.page.locator("#opsiq-consent").get_by_text(NEW).first.wait_for()
        assert errors == [] and visitor.errors == []
    finally:
        visitor.close()
        ctx.close()


def test_theme_colours_show_in_the_preview_and_keep_axe_happy(app, browser, live_server, runner):
    with app.app_context():
        site, _ = create_site("Farbe", [live_server], ["en"], "en")
        key = site.site_key
        db.session.remove()
    make_dashboard_user(runner, "tom@farbe.example", "editor", key)
    ctx = browser.new_context(extra_http_headers={"X-Forwarded-For": new_address()})
    page = ctx.new_page()
    try:
        sign_in(page, live_server, "tom@farbe.example")
        page.goto(f"{live_server}/admin/sites/{key}/banner?lang=en")
        page.get_by_label("Background").fill("#fff8e7")
        page.get_by_label("Accent (buttons)").fill("#7c2d12")
        colours = ("() => { const f = frames[0], h = f && f.document.querySelector('#opsiq-consent');"
                   " const b = h && h.shadowRoot.querySelector('section'); if (!b) return null;"
                   " return [f.getComputedStyle(b).backgroundColor,"
                   " f.getComputedStyle(b.querySelector('button.x')).backgroundColor] }")
        page.wait_for_function(f"() => ({colours})()?.[0] == 'rgb(255, 248, 231)'")
        assert page.evaluate(colours) == ["rgb(255, 248, 231)", "rgb(124, 45, 18)"]
        assert axe_violations(page, page.frame(name="preview")) == []
    finally:
        ctx.close()
