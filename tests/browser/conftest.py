"""Browser tests: the real app on a loopback server, driven in Debian's Chromium by Playwright.

Visitors are placed with X-Forwarded-For (the test app trusts one proxy), GPC is turned on with
the Sec-GPC header and `navigator.globalPrivacyControl`, and the ledger is read from the database.
"""
import os

import pytest

from app.extensions import db
from app.models import ConsentRecord
from app.services.sites.administration import create_site, require_site
from app.services.sites.documents import export_site, import_site
from tests.conftest import IPS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
AXE = os.path.join(os.path.dirname(__file__), "..", "..", "widget", "node_modules", "axe-core", "axe.min.js")
GPC_ON = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true, configurable: true})"

# JavaScript helpers evaluated in the page.
SHADOW = "document.getElementById('opsiq-consent')?.shadowRoot"
BANNER_BUTTONS = f"() => [...({SHADOW}?.querySelectorAll('section[role=region] .a button') || [])].map(b => b.textContent)"
DATALAYER = ("() => (window.dataLayer || []).map(e => Object.prototype.toString.call(e) == '[object Arguments]'"
             " ? Array.from(e) : e)")
STORAGE = "() => ({local: {...localStorage}, cookie: document.cookie})"


def in_ci():
    return os.environ.get("CI", "").lower() in ("true", "1")


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium; skipped (outside CI only) when it is not installed."""
    if not os.path.exists(CHROMIUM):
        if in_ci():
            pytest.fail(f"{CHROMIUM} is missing; CI must run the browser tests (make browser-deps installs it)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium, or `make browser-deps`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def demo_site(app, live_server):
    """A site whose origins are the live server's; analytics lists the demo's cookie and storage key."""
    port = live_server.rsplit(":", 1)[1]
    with app.app_context():
        site, _ = create_site("Demo shop", [live_server, f"http://localhost:{port}"],
                                           policy_url=f"{live_server}/demo/privacy")
        doc = export_site(site)
        for p in doc["purposes"]:
            if p["slug"] == "analytics":
                p["cookies"], p["storage_keys"] = ["_demo_an"], ["_demo_an_*"]
        import_site(doc)
        return site.site_key


class Visitor:
    """One browser context (one visitor) on the demo page, placed by IP; collects page errors."""

    def __init__(self, browser, base, site_key, where="DE", gpc=False, language="en"):
        headers = {"X-Forwarded-For": IPS[where], "Accept-Language": language}
        if gpc:
            headers["Sec-GPC"] = "1"
        self.ctx = browser.new_context(extra_http_headers=headers, locale=language)
        if gpc:
            self.ctx.add_init_script(GPC_ON)
        self.page = self.ctx.new_page()
        self.errors = []
        self.requests = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = f"{base}/demo?site={site_key}"

    def open(self, url=None):
        self.page.goto(url or self.url)
        self.page.wait_for_function("() => window.opsiqConsent && document.readyState == 'complete'")
        return self.page

    def banner_buttons(self):
        return self.page.evaluate(BANNER_BUTTONS)

    def banner_shown(self):
        return self.page.evaluate(f"() => !!{SHADOW}?.querySelector('section[role=region]')")

    def click(self, text):
        """Click a widget button by its text (Playwright pierces the open shadow root)."""
        self.page.locator("#opsiq-consent").get_by_role("button", name=text, exact=True).first.click()

    def wait_acked(self):
        """Until the server has stored the decision (the widget then knows its record id)."""
        self.page.wait_for_function("() => opsiqConsent.get().recordId")
        return self.page.evaluate("() => opsiqConsent.get()")

    def datalayer(self):
        return self.page.evaluate(DATALAYER)

    def storage(self):
        return self.page.evaluate(STORAGE)

    def ran(self):
        return self.page.evaluate("() => window.demoRan || []")

    def close(self):
        self.ctx.close()


@pytest.fixture
def visit(browser, live_server, demo_site):
    """visit(where='DE', gpc=False, language='en') -> a Visitor on the demo page (not yet loaded)."""
    made = []

    def make(**kw):
        v = Visitor(browser, live_server, demo_site, **kw)
        made.append(v)
        return v

    yield make
    for v in made:
        v.close()


# Once what moves has settled (shadow roots' animations too, started or about to): halfway through its
# fade-in the banner's text is lighter than it will be.
SETTLED = """async () => {
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))
  const roots = [document, ...[...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(Boolean)]
  await Promise.all(roots.flatMap(root => root.getAnimations()).map(a => a.finished.catch(() => 0)))
}"""


def make_dashboard_user(runner, email, role, *site_keys):
    """A dashboard user made as an operator makes one: `flask users create`, the password on stdin."""
    from tests.admin.conftest import PASSWORD

    grants = [arg for key in site_keys for arg in ("--site", key)]
    r = runner.invoke(args=["users", "create", "--email", email, "--role", role, *grants, "--password-stdin"],
                      input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output


def dashboard_context(browser, **options):
    """(context, page, errors) for one dashboard user: an address of its own (the sign-in throttle
    counts per address), and the page's errors and Content Security Policy reports collected."""
    from tests.admin.conftest import new_address

    ctx = browser.new_context(extra_http_headers={"X-Forwarded-For": new_address()}, **options)
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    return ctx, page, errors


def sign_in(page, base, email, password=None, wait=True):
    """Sign in to the dashboard through its page, by the labelled fields; then wait for the site list
    (unless `wait` is False: a sign-in meant to fail)."""
    from tests.admin.conftest import PASSWORD

    page.goto(f"{base}/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD if password is None else password)
    page.get_by_role("button", name="Sign in").click()
    if wait:
        page.wait_for_url(f"{base}/admin/")


@pytest.fixture
def screenshots(tmp_path):
    """Where the pages' screenshots go: OPSIQ_SCREENSHOTS if set (to look at them), else the test's tmp dir."""
    folder = os.environ.get("OPSIQ_SCREENSHOTS") or str(tmp_path)
    os.makedirs(folder, exist_ok=True)
    return lambda page, name: page.screenshot(path=os.path.join(folder, f"admin-{name}.png"), full_page=True)


def axe_violations(page, frame=None):
    """axe-core's violations on the page (or in one of its frames): (rule, help, targets) each."""
    # From the page's own origin: our pages' policies refuse inline scripts, add_script_tag(path=) makes one.
    where = frame or page
    url = where.evaluate("() => location.origin") + "/__axe.js"
    page.route(url, lambda route: route.fulfill(path=AXE, content_type="application/javascript"))
    where.add_script_tag(url=url)
    where.evaluate(SETTLED)
    result = where.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [(x["id"], x["help"], [n["target"] for n in x["nodes"]]) for x in result["violations"]]


def ledger_rows(app, site_key, **where):
    """The site's consent records (as dicts), oldest first, optionally filtered by column values."""
    with app.app_context():
        site = require_site(site_key)
        q = db.select(ConsentRecord.__table__).where(ConsentRecord.site_id == site.id)
        for k, v in where.items():
            q = q.where(getattr(ConsentRecord, k) == v)
        rows = [dict(r) for r in db.session.execute(q.order_by(ConsentRecord.id)).mappings()]
        db.session.remove()
        return rows
