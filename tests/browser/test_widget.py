"""The widget in real Chromium on the demo page, against the running app and its ledger."""
import hashlib
import json
import re

import pytest

from app.extensions import db
from app.services.sites.administration import require_site
from app.services.sites.documents import export_site, import_site
from app.services.sites.snapshot import site_snapshot
from tests.browser.conftest import GPC_ON, SHADOW, axe_violations, ledger_rows
from tests.conftest import IPS, set_purpose

ALL_RAN = ["analytics:external", "analytics:inline", "marketing:inline"]
NON_SECURITY = ["ad_storage", "ad_user_data", "ad_personalization", "analytics_storage",
                "functionality_storage", "personalization_storage"]
# The focused widget element: a button's text, else its tag name.
ACTIVE = f"() => (e => e && (e.tagName == 'BUTTON' ? e.textContent : e.tagName))({SHADOW}.activeElement)"
IN_DIALOG = f"() => !!{SHADOW}.activeElement?.closest('[role=dialog]')"
DIALOG_OPEN = f"() => !{SHADOW}.querySelector('[role=dialog]').closest('[hidden]')"


# A page on the demo origin that gates a script on "ads", a custom purpose mapped to ad_storage.
ADS_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Ads</title>
<script src="/w/{site_key}.js" async></script></head>
<body><h1>Ads</h1><a href="#" data-opsiq-dnss>Do Not Sell or Share</a>
<script type="text/plain" data-consent="ads">window.adsRan = true</script></body></html>"""


@pytest.fixture
def ads_page(app, live_server, demo_site):
    """open_ads(visitor) -> the visitor's page showing ADS_PAGE, for a demo site that has the ads purpose."""
    set_purpose(app, demo_site, "ads", consent_mode_keys=["ad_storage"])
    url = f"{live_server}/ads-page"

    def open_ads(v):
        v.page.route(url, lambda route: route.fulfill(content_type="text/html", body=ADS_PAGE.format(site_key=demo_site)))
        return v.open(url)

    return open_ads


def ad_src(page):
    return page.locator("iframe[title=Advertisement]").get_attribute("src")


def consent_updates(dl):
    return [e[2] for e in dl if isinstance(e, list) and e[:2] == ["consent", "update"]]


def test_reject_runs_nothing_and_stores_only_the_choice(app, visit, demo_site):
    v = visit(where="DE")
    page = v.open()
    assert v.banner_buttons() == ["Accept all", "Reject all", "Settings"]
    assert v.storage() == {"local": {}, "cookie": ""}  # nothing written before a choice
    assert not any("/api/" in u for u in v.requests)  # and no request made

    v.click("Reject all")
    state = v.wait_acked()
    page.reload()
    page.wait_for_function("() => window.opsiqConsent")
    page.wait_for_timeout(300)  # give any wrongly unblocked script time to run

    assert v.ran() == [] and page.text_content("#analytics-status") == "analytics has not run"
    assert ad_src(page) is None and not v.banner_shown()
    assert not any("analytics.js" in u or "/demo/ad" in u for u in v.requests)
    after = v.storage()
    assert after["cookie"] == "" and set(after["local"]) == {"opsiq.vid", "opsiq.vsec", "opsiq.consent"}
    assert state["decisions"] == {"necessary": True, "analytics": False, "marketing": False, "preferences": False}

    [row] = ledger_rows(app, demo_site)
    assert (row["method"], row["event"], row["regime"], row["country"]) == ("reject_all", "refused", "opt_in", "DE")
    assert row["decisions"] == state["decisions"] and row["visitor_id"] == state["visitorId"]
    assert row["record_id"] == state["recordId"] and row["gpc"] is False
    assert row["page_url"] == v.url.split("?")[0]  # no query string in the ledger
    with open(app.static_folder + "/widget.js", "rb") as f:  # the record names the code that collected it
        assert row["widget_build"] == hashlib.sha256(f.read()).hexdigest()
    assert v.errors == []


def test_accept_runs_gated_code_in_document_order_and_withdrawal_cleans_up(app, visit, demo_site):
    v = visit(where="DE")
    page = v.open()
    assert v.ran() == [] and ad_src(page) is None
    v.click("Accept all")
    page.wait_for_function("() => (window.demoRan || []).length == 3")
    assert v.ran() == ALL_RAN
    assert page.text_content("#analytics-status") == "analytics ran"
    frame = page.frame_locator("iframe[title=Advertisement]")
    assert "Marketing iframe loaded" in frame.locator("#ad").text_content()
    assert "_demo_an=1" in v.storage()["cookie"]
    v.wait_acked()
    [row] = ledger_rows(app, demo_site)
    assert (row["method"], row["event"]) == ("accept_all", "given") and all(row["decisions"].values())

    # Withdrawal from the page's own "Privacy settings" link takes as many clicks as granting did.
    page.click("footer [data-opsiq-settings]")
    v.click("Reject all")
    page.wait_for_function("() => !document.cookie.includes('_demo_an')")
    assert "_demo_an_visits" not in v.storage()["local"]
    page.wait_for_function("() => opsiqConsent.get().recordId")
    rows = ledger_rows(app, demo_site)
    assert [(r["method"], r["event"]) for r in rows] == [("accept_all", "given"), ("reject_all", "withdrawn")]
    assert rows[1]["prev_record_id"] == rows[0]["record_id"]
    assert v.errors == []


def test_settings_with_one_purpose(app, visit, demo_site):
    v = visit(where="DE")
    page = v.open()
    v.click("Settings")
    host = page.locator("#opsiq-consent")
    switches = {n: host.get_by_role("switch", name=n) for n in ("Necessary", "Analytics", "Marketing", "Preferences")}
    assert switches["Necessary"].is_checked() and switches["Necessary"].is_disabled()
    assert not any(switches[n].is_checked() for n in ("Analytics", "Marketing", "Preferences"))  # nothing pre-ticked
    switches["Analytics"].check()
    v.click("Save choices")
    page.wait_for_function("() => (window.demoRan || []).length == 2")
    page.wait_for_timeout(200)
    assert v.ran() == ["analytics:external", "analytics:inline"] and ad_src(page) is None
    state = v.wait_acked()
    assert state["decisions"] == {"necessary": True, "analytics": True, "marketing": False, "preferences": False}
    [row] = ledger_rows(app, demo_site)
    assert (row["method"], row["decisions"]) == ("custom", state["decisions"])


def test_reload_keeps_the_choice_until_a_new_policy(app, runner, visit, demo_site):
    v = visit(where="DE")
    page = v.open()
    v.click("Accept all")
    v.wait_acked()

    page.reload()
    page.wait_for_function("() => (window.demoRan || []).length == 3")
    assert not v.banner_shown()
    assert page.locator("#opsiq-consent").get_by_role("button", name="Privacy settings").is_visible()
    # The stored choice is replayed as one Consent Mode update before any tag pushes to dataLayer.
    dl = v.datalayer()
    kinds = [e[1] if isinstance(e, list) else e.get("event") for e in dl]
    assert kinds[:2] == ["default", "default"]
    assert kinds.index("update") < kinds.index("demo_analytics")
    assert consent_updates(dl) == [{**{k: "granted" for k in NON_SECURITY}, "security_storage": "granted"}]

    # The script is cacheable for 5 minutes; a visitor sees a new version once it expires.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    # A correction: a new version, but the choice made under the old one still counts.
    result = runner.invoke(args=["policy", "publish", demo_site, "--version", "1.1",
                                 "--url", "https://shop.example/privacy-1-1", "--correction"])
    assert result.exit_code == 0, result.output
    page.evaluate("() => window.demoRan = []")
    page.reload()
    page.wait_for_function("() => (window.demoRan || []).length == 3")
    assert not v.banner_shown() and v.page.evaluate("() => opsiqConsent.get().policyVersion") == "1"

    result = runner.invoke(args=["policy", "publish", demo_site, "--version", "2",
                                 "--url", "https://shop.example/privacy-2"])
    assert result.exit_code == 0, result.output
    page.evaluate("() => window.demoRan = []")
    page.reload()
    page.wait_for_function("() => window.opsiqConsent")
    page.wait_for_timeout(300)
    assert v.banner_shown() and v.page.evaluate("() => opsiqConsent.get()")["decisions"] is None
    assert v.page.evaluate("() => opsiqConsent.get().policyVersion") == "2"
    assert v.ran() == []  # a stale choice allows nothing under opt-in


def test_consent_mode_order_and_values(app, visit, demo_site):
    v = visit(where="DE")
    page = v.open()
    dl = v.datalayer()
    assert [e[:2] for e in dl] == [["consent", "default"], ["consent", "default"]]  # before anything else
    regional, fallback = dl[0][2], dl[1][2]
    assert "DE" in regional["region"] and "EU" not in regional["region"]
    assert "region" not in fallback and fallback["wait_for_update"] == 500
    assert all(regional[k] == "denied" for k in NON_SECURITY) and regional["security_storage"] == "granted"

    v.click("Reject all")
    dl = v.datalayer()
    assert len(consent_updates(dl)) == 1
    assert dl[2] == ["consent", "update", {**{k: "denied" for k in NON_SECURITY}, "security_storage": "granted"}]
    assert dl[3]["event"] == "opsiq_consent_update" and dl[3]["opsiq"]["regime"] == "opt_in"
    assert len(dl) == 4

    page.reload()
    page.wait_for_function("() => window.opsiqConsent")
    dl = v.datalayer()
    assert [e[:2] if isinstance(e, list) else e["event"] for e in dl] == [
        ["consent", "default"], ["consent", "default"], ["consent", "update"], "opsiq_consent_update"]
    assert dl[2][2] == {**{k: "denied" for k in NON_SECURITY}, "security_storage": "granted"}


def test_gpc_under_opt_out_records_an_opt_out_without_a_click(app, visit, demo_site):
    v = visit(where="US-CA", gpc=True)
    page = v.open()
    state = v.wait_acked()
    assert not v.banner_shown()
    [row] = ledger_rows(app, demo_site)
    assert (row["method"], row["event"], row["gpc"], row["regime"], row["region"]) == (
        "gpc", "gpc_optout", True, "opt_out", "US-CA")
    assert row["decisions"] == {"necessary": True, "analytics": True, "marketing": False, "preferences": True}
    assert state["decisions"]["marketing"] is False
    page.wait_for_function("() => (window.demoRan || []).length == 2")
    assert v.ran() == ["analytics:external", "analytics:inline"] and ad_src(page) is None
    assert all(val == "denied" for u in consent_updates(v.datalayer()) for k, val in u.items() if k.startswith("ad_"))

    page.reload()  # recorded once, not on every page
    page.wait_for_function("() => window.opsiqConsent")
    page.wait_for_timeout(300)
    assert len(ledger_rows(app, demo_site)) == 1


@pytest.mark.parametrize("where,records", [("DE", 1), ("US-CA", 2)])
def test_gpc_wins_over_a_stored_accept(app, visit, demo_site, where, records):
    v = visit(where=where)
    page = v.open()
    page.evaluate("() => opsiqConsent.acceptAll()")
    page.wait_for_function("() => (window.demoRan || []).length == 3")
    v.wait_acked()

    v.ctx.set_extra_http_headers({"X-Forwarded-For": IPS[where], "Accept-Language": "en", "Sec-GPC": "1"})
    v.ctx.add_init_script(GPC_ON)
    page.reload()
    page.wait_for_function("() => window.opsiqConsent")
    page.wait_for_timeout(300)
    assert v.ran() == ["analytics:external", "analytics:inline"] and ad_src(page) is None
    assert page.evaluate("() => opsiqConsent.get().decisions.marketing") is False
    updates = consent_updates(v.datalayer())
    assert updates and all(updates[-1][k] == "denied" for k in ("ad_storage", "ad_user_data", "ad_personalization"))
    assert updates[-1]["analytics_storage"] == "granted"
    if where == "US-CA":  # under opt-out the signal is recorded, once, as an opt-out
        page.wait_for_function("() => opsiqConsent.get().recordId")
    rows = ledger_rows(app, demo_site)
    assert len(rows) == records
    if where == "US-CA":
        assert (rows[-1]["method"], rows[-1]["gpc"], rows[-1]["decisions"]["marketing"]) == ("gpc", True, False)


@pytest.mark.parametrize("where", ["DE", "US-CA"])
def test_gpc_keeps_every_sale_share_purpose_off(app, visit, demo_site, ads_page, where):
    v = visit(where=where)
    page = ads_page(v)
    page.evaluate("() => opsiqConsent.acceptAll()")
    page.wait_for_function("() => window.adsRan")  # the gate opens without GPC
    v.wait_acked()

    v.ctx.set_extra_http_headers({"X-Forwarded-For": IPS[where], "Accept-Language": "en", "Sec-GPC": "1"})
    v.ctx.add_init_script(GPC_ON)
    page.reload()
    page.wait_for_function("() => window.opsiqConsent")
    page.wait_for_timeout(300)  # give a wrongly unblocked script time to run
    assert page.evaluate("() => window.adsRan") is None
    decisions = page.evaluate("() => opsiqConsent.get().decisions")
    assert decisions == {"necessary": True, "analytics": True, "marketing": False, "preferences": True, "ads": False}
    if where == "US-CA":  # under opt-out GPC is recorded as an opt-out without a click
        page.wait_for_function("() => opsiqConsent.get().recordId")
    else:  # under opt-in the stored accept is masked; accepting again is recorded with ads refused
        page.evaluate("() => opsiqConsent.acceptAll()")
        v.wait_acked()
        page.wait_for_timeout(300)
        assert page.evaluate("() => window.adsRan") is None
    row = ledger_rows(app, demo_site)[-1]
    assert (row["method"], row["gpc"]) == ("gpc" if where == "US-CA" else "accept_all", True)
    assert row["decisions"] == decisions  # the server stores what the page applies
    assert v.errors == []


def test_do_not_sell_or_share_link_opts_out_of_every_sale_share_purpose(app, visit, demo_site, ads_page):
    v = visit(where="US-CA")
    page = ads_page(v)
    page.evaluate("() => opsiqConsent.acceptAll()")
    v.wait_acked()
    page.click("[data-opsiq-dnss]")
    state = v.wait_acked()
    assert state["decisions"] == {"necessary": True, "analytics": True, "marketing": False, "preferences": True,
                                  "ads": False}
    rows = ledger_rows(app, demo_site)
    assert len(rows) == 2 and rows[-1]["decisions"] == state["decisions"]


def test_a_config_without_sale_share_falls_back_to_marketing(app, visit, demo_site):
    v = visit(where="DE", gpc=True)
    stripped = []

    def without_sale_share(route):
        body, n = re.subn(r',"sale_share":(true|false)', "", route.fetch().text())
        stripped.append(n)
        route.fulfill(body=body, content_type="application/javascript")

    v.page.route("**/w/*.js", without_sale_share)
    page = v.open()
    page.evaluate("() => opsiqConsent.acceptAll()")
    page.wait_for_function("() => (window.demoRan || []).length >= 2")
    page.wait_for_timeout(300)
    assert stripped == [4] and v.ran() == ["analytics:external", "analytics:inline"] and ad_src(page) is None
    assert page.evaluate("() => opsiqConsent.get().decisions.marketing") is False
    assert v.errors == []


def test_backend_down_page_unharmed_and_decision_delivered_once(app, visit, demo_site):
    v = visit(where="DE")
    page = v.page
    page.route("**/api/v1/consents", lambda route: route.abort())
    v.open()
    v.click("Accept all")
    page.wait_for_function("() => (window.demoRan || []).length == 3")  # applies at once
    assert not v.banner_shown() and v.errors == []
    queued = json.loads(v.storage()["local"]["opsiq.q"])
    assert len(queued) == 1
    cid = queued[0]["client_record_id"]
    assert ledger_rows(app, demo_site) == []

    page.unroute("**/api/v1/consents")
    page.reload()  # the next page load delivers what is queued
    page.wait_for_function("() => opsiqConsent.get().recordId")
    page.wait_for_function("() => !localStorage.getItem('opsiq.q')")
    page.reload()
    page.wait_for_function("() => window.opsiqConsent")
    page.wait_for_timeout(500)
    rows = ledger_rows(app, demo_site)
    assert [r["client_record_id"] for r in rows] == [cid]  # exactly once
    assert v.errors == []


def test_widget_script_unreachable_or_unknown_site_leaves_the_page_alone(visit, live_server):
    v = visit(where="DE")
    page = v.page
    page.route("**/w/*.js", lambda route: route.abort())
    page.goto(v.url)
    assert page.text_content("h1") == "Handmade teapots" and v.ran() == [] and v.errors == []

    # Browsers do not run a script answered with 404, so what the developer sees is the failed load.
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.unroute("**/w/*.js")
    page.goto(f"{live_server}/demo?site=unknown")
    page.wait_for_load_state("load")
    assert page.text_content("h1") == "Handmade teapots" and v.ran() == [] and v.errors == []
    assert len(errors) == 1 and "404" in errors[0]


def test_keyboard_only(app, visit, demo_site):
    v = visit(where="DE")
    page = v.open()
    page.wait_for_function(f"() => ({ACTIVE})() == 'SECTION'")  # focus moves into the banner (after its first paint)
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate(ACTIVE) == "Reject all":
            break
    assert page.evaluate(ACTIVE) == "Reject all"
    assert page.evaluate(f"() => getComputedStyle({SHADOW}.activeElement).outlineStyle") == "solid"  # visible focus
    page.keyboard.press("Enter")
    v.wait_acked()
    [row] = ledger_rows(app, demo_site)
    assert row["method"] == "reject_all"


def test_dialog_traps_focus_and_escape_closes(app, visit, demo_site):
    v = visit(where="DE")
    page = v.open()
    page.wait_for_function(f"() => ({ACTIVE})() == 'SECTION'")
    for _ in range(8):
        page.keyboard.press("Tab")
        if page.evaluate(ACTIVE) == "Settings":
            break
    page.keyboard.press("Enter")
    page.wait_for_function(DIALOG_OPEN)
    assert page.evaluate(IN_DIALOG)
    first = page.evaluate(ACTIVE)
    seen = set()
    for _ in range(14):  # more than the dialog has controls: focus wraps and never leaves
        page.keyboard.press("Tab")
        assert page.evaluate(IN_DIALOG)
        seen.add(page.evaluate(ACTIVE))
    assert {"Accept all", "Reject all", "Save choices"} <= seen
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(IN_DIALOG)
    page.keyboard.press("Escape")
    page.wait_for_function(f"() => !({DIALOG_OPEN})()")
    assert first == "\xd7"
    # Under opt-in, closing before any choice is a refusal.
    v.wait_acked()
    [row] = ledger_rows(app, demo_site)
    assert (row["method"], row["event"]) == ("dismiss", "refused")


def test_axe_finds_no_violations(visit):
    v = visit(where="DE")
    page = v.open()
    page.wait_for_timeout(300)  # let the entry animation finish: axe measures colours
    assert v.banner_shown()
    assert axe_violations(page) == []
    v.click("Settings")
    page.wait_for_function(DIALOG_OPEN)
    page.wait_for_timeout(300)
    assert axe_violations(page) == []
    # The scan does reach into the shadow root: a low-contrast theme there is caught.
    page.evaluate("() => document.getElementById('opsiq-consent').style.setProperty('--opsiq-accent-fg', '#8a8a8a')")
    found = axe_violations(page)
    assert any(rule == "color-contrast" and any("#opsiq-consent" in t[0] for t in targets)
               for rule, _, targets in found), found


@pytest.mark.parametrize("where,buttons", [
    ("DE", ["Accept all", "Reject all", "Settings"]),
    ("US-CA", ["Do Not Sell or Share My Personal Information", "Settings", "OK"]),
    ("JP", ["OK", "Settings"]),
])
def test_regime_by_address(app, visit, demo_site, where, buttons):
    v = visit(where=where)
    page = v.open()
    assert v.banner_buttons() == buttons
    if where == "DE":  # the three choices look alike: same size, colours and weight
        looks = page.evaluate(f"""() => [...{SHADOW}.querySelectorAll('section .a button')].map(b => {{
            const r = b.getBoundingClientRect(), s = getComputedStyle(b)
            return [Math.round(r.width), Math.round(r.height), s.color, s.backgroundColor, s.fontWeight, b.type]
        }})""")
        assert all(x == looks[0] for x in looks)
        assert v.ran() == []
    else:  # opt-out and notice: analytics (default on) runs without a click, nothing is recorded
        page.wait_for_function("() => (window.demoRan || []).length >= 2")
        assert ledger_rows(app, demo_site) == []
    if where == "US-CA":
        v.click(buttons[0])
        state = v.wait_acked()
        assert state["decisions"]["marketing"] is False and state["decisions"]["analytics"] is True
        [row] = ledger_rows(app, demo_site)
        assert (row["regime"], row["region"]) == ("opt_out", "US-CA")


def test_site_texts_are_shown_as_text(app, visit, demo_site):
    title = '<img src=x onerror="window.pwned=1">Hello & <b>welcome</b>'
    with app.app_context():
        doc = export_site(require_site(demo_site))
        import_site(dict(doc, texts={"en": {"title": title}}))
    v = visit(where="DE")
    page = v.open()
    page.wait_for_timeout(200)
    assert page.evaluate(f"() => {SHADOW}.querySelector('h2').textContent") == title
    assert page.evaluate(f"() => {SHADOW}.querySelector('img')") is None
    assert page.evaluate("() => window.pwned") is None


def test_identify_links_the_browser_only_with_a_signed_token(app, runner, visit, demo_site):
    v = visit(where="DE")
    page = v.open()
    token = runner.invoke(args=["identities", "token", demo_site, "--email", "jane@example.com"]).output.strip()
    # before any choice there is no visitor id: the link waits, and nothing is stored or sent
    pending = page.evaluate("t => { window.linked = opsiqConsent.identify(t); return 1 }", token)
    assert pending and v.storage()["local"] == {} and not any("/identities" in u for u in v.requests)
    v.click("Accept all")
    linked = page.evaluate("() => window.linked")
    assert linked["linked"] is True and linked["visitor_id"] == page.evaluate("() => opsiqConsent.get().visitorId")
    # a forged token links nothing
    assert page.evaluate("() => opsiqConsent.identify('not-a-signed-token')") is None
    v.wait_acked()
    with app.app_context():
        site = require_site(demo_site)
        from app.services.identities import find_person, person_consent

        person = find_person(site.id, "jane@example.com", None, None)
        assert person is not None
        snap = site_snapshot(demo_site, 0)
        consent = person_consent(snap, person)
        db.session.remove()
    # the person's consent is what this browser decided
    assert consent["purposes"]["analytics"]["granted"] is True
    assert consent["purposes"]["analytics"]["visitor_id"] == linked["visitor_id"]
    assert v.errors == []


def test_a_forged_write_knowing_only_the_visitor_id_leaves_the_visitors_choice(app, visit, demo_site):
    """Someone who learned a visitor's id (it is in every receipt and may reach analytics) puts it in
    their own browser's storage and accepts everything: the server refuses the write (the id's
    secret was bound by the visitor's first write), and the visitor's recorded choice stands."""
    victim = visit(where="DE")
    victim.open()
    victim.click("Reject all")
    state = victim.wait_acked()
    visitor_id = state["visitorId"]

    mallory = visit(where="DE")
    mallory.ctx.add_init_script(f"localStorage.setItem('opsiq.vid', {visitor_id!r})")
    page = mallory.open()
    assert page.evaluate("() => opsiqConsent.get().visitorId") == visitor_id
    with page.expect_response(lambda r: r.url.endswith("/api/v1/consents")) as answer:
        mallory.click("Accept all")
    assert answer.value.status == 403
    page.wait_for_function("() => !localStorage.getItem('opsiq.q')")  # refused for good: not retried
    assert mallory.errors == []

    rows = ledger_rows(app, demo_site, visitor_id=visitor_id)
    assert [(r["method"], r["decisions"]["analytics"]) for r in rows] == [("reject_all", False)]
    victim.page.reload()
    victim.page.wait_for_function("() => window.opsiqConsent")
    assert victim.page.evaluate("() => opsiqConsent.get().decisions.analytics") is False
    # the visitor's own browser still writes
    victim.page.evaluate("() => opsiqConsent.acceptAll()")
    victim.page.wait_for_function(f"() => opsiqConsent.get().recordId && opsiqConsent.get().recordId != {state['recordId']!r}")
    assert [r["method"] for r in ledger_rows(app, demo_site, visitor_id=visitor_id)] == ["reject_all", "accept_all"]
    assert victim.errors == []


def test_a_visitor_downloads_and_deletes_their_data_from_the_dialog(app, visit, demo_site):
    v = visit(where="DE")
    page = v.open()
    v.click("Accept all")
    state = v.wait_acked()
    doc = page.evaluate("() => opsiqConsent.exportData()")
    assert [r["record_id"] for r in doc["consent_records"]] == [state["recordId"]]
    assert doc["subject"]["visitor_ids"] == [state["visitorId"]] and doc["controller"]
    # the dialog offers both; the download is the same document, as a file
    page.evaluate("() => opsiqConsent.show()")
    with page.expect_download() as download:
        v.click("Download my data")
    saved = json.loads(open(download.value.path()).read())
    assert [r["record_id"] for r in saved["consent_records"]] == [state["recordId"]]
    page.once("dialog", lambda d: d.accept())  # "Delete the consent records of this browser? ..."
    with page.expect_response(lambda r: r.url.endswith("/subjects/browser-erase")) as answer:
        v.click("Delete my data")
    assert answer.value.status == 200 and answer.value.json()["consent_records"] == 1
    page.wait_for_function("() => !opsiqConsent.get().visitorId")
    assert not any(k.startswith("opsiq.") for k in v.storage()["local"])
    assert v.banner_shown()  # asked again, as a new visitor
    assert ledger_rows(app, demo_site, visitor_id=state["visitorId"]) == []
    [erased] = ledger_rows(app, demo_site)
    assert erased["visitor_id"].startswith("erased:") and erased["user_agent"] is None and erased["decisions"]
    assert page.evaluate("() => opsiqConsent.exportData()") is None  # nothing of this browser any more
    assert v.errors == []
