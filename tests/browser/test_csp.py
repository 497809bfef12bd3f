"""Content-Security-Policy in real Chromium: the widget on a customer page with a strict policy, and
the policies of our own pages (the API docs, the demo shop)."""
import http.server
import threading

import pytest

from app.services.sites.administration import require_site
from app.services.sites.documents import export_site, import_site
from tests.browser.conftest import SHADOW, ledger_rows
from tests.conftest import IPS

NONCE = "r4nd0m-n0nce-0f-the-page"
# Runs before any page script: collects what the policy refused and the page's layout shifts.
WATCH = """
window.__csp = [];
window.__cls = 0;
document.addEventListener('securitypolicyviolation', e => __csp.push(e.effectiveDirective + ' ' + e.blockedURI), true);
new PerformanceObserver(l => l.getEntries().forEach(e => { if (!e.hadRecentInput) __cls += e.value }))
  .observe({type: 'layout-shift', buffered: true});
"""
# Without constructable stylesheets, as in Safari before 16.4 and Firefox before 101.
NO_ADOPTED_SHEETS = "delete ShadowRoot.prototype.adoptedStyleSheets; delete Document.prototype.adoptedStyleSheets"

# A customer page: the widget tag (from our origin), a gated inline script carrying the page's nonce.
STRICT_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Strict</title>
<script src="{widget}/w/{site_key}.js" async{tag_nonce}></script></head>
<body><h1>A bank's page</h1><p id="below">Text that must not move when the banner appears.</p>
<script type="text/plain" data-consent="analytics" nonce="{nonce}">window.strictRan = (window.strictRan || 0) + 1</script>
</body></html>"""
# The README's lines for customers (scripts and connections from our origin, nothing inline), plus the
# page's nonce for its own inline script; {style_nonce} only for the fallback of older browsers.
STRICT_POLICY = ("default-src 'none'; script-src {widget} 'nonce-{nonce}'; connect-src {widget}; "
                 "style-src 'self'{style_nonce}; img-src 'self'")
# What the widget's stylesheet gives the banner, its buttons and its host element.
LOOKS = f"""() => {{
  const banner = {SHADOW}.querySelector('section[role=region]'), button = banner.querySelector('.a button')
  const s = getComputedStyle(banner), b = getComputedStyle(button)
  return [getComputedStyle(document.getElementById('opsiq-consent')).position, s.position, s.backgroundColor,
          b.backgroundColor, b.color]
}}"""
STYLED = ["fixed", "fixed", "rgb(255, 255, 255)", "rgb(31, 41, 55)", "rgb(255, 255, 255)"]


def watch(v):
    """Collect, from the visitor's page and its frames, CSP violations (events and console reports) and
    layout shifts."""
    v.ctx.add_init_script(WATCH)
    v.console = []
    v.page.on("console", lambda m: v.console.append(m.text))


def violations(v):
    return [*(x for f in v.page.frames for x in f.evaluate("() => window.__csp || []")),
            *(m for m in v.console if "Content Security Policy" in m)]


def place_in_germany(v, live_server):
    """Place the visitor by the X-Forwarded-For of requests to our origin only, added on the way out: a
    header on every request would make a customer page's consent POST a CORS request with a preflight."""
    v.ctx.set_extra_http_headers({})
    v.page.route(live_server + "/**", lambda route: route.continue_(
        headers={**route.request.headers, "X-Forwarded-For": IPS["DE"]}))


class CustomerSite:
    """Another origin on loopback (a customer's own server): answers any path with one page and its headers."""

    def __init__(self):
        self.page = ("", {})
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body, headers = site.page
                self.send_response(200)
                for name, value in {"Content-Type": "text/html; charset=utf-8", **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def customer(app, demo_site):
    """A customer origin other than the widget's, allowed by the demo site."""
    site = CustomerSite()
    with app.app_context():
        doc = export_site(require_site(demo_site))
        import_site(dict(doc, origins=doc["origins"] + [site.origin]))
    yield site
    site.server.shutdown()
    site.server.server_close()


def open_strict(v, live_server, site_key, customer=None, tag_nonce=False):
    """STRICT_PAGE under STRICT_POLICY, on the widget's own origin or (given a customer) on another."""
    body = STRICT_PAGE.format(widget=live_server, site_key=site_key, nonce=NONCE,
                              tag_nonce=f' nonce="{NONCE}"' if tag_nonce else "")
    policy = STRICT_POLICY.format(widget=live_server, nonce=NONCE, style_nonce=f" 'nonce-{NONCE}'" if tag_nonce else "")
    if customer:
        customer.page = (body, {"Content-Security-Policy": policy})
        url = customer.origin + "/strict-page"
    else:
        url = live_server + "/strict-page"
        v.page.route(url, lambda route: route.fulfill(content_type="text/html", body=body,
                                                      headers={"Content-Security-Policy": policy}))
    page = v.open(url)
    page.wait_for_function(f"() => {SHADOW}?.querySelector('section[role=region]')")
    page.wait_for_timeout(400)  # the entry animation and any late layout shift
    return page


@pytest.mark.parametrize("origin", ["the widget's", "the customer's"])
def test_the_widget_works_under_a_strict_policy(app, visit, live_server, demo_site, customer, origin):
    v = visit(where="DE")
    watch(v)
    place_in_germany(v, live_server)
    page = open_strict(v, live_server, demo_site, customer if origin == "the customer's" else None)
    assert page.evaluate(LOOKS) == STYLED  # styled by the widget's own stylesheet
    assert page.evaluate("() => __cls") == 0  # and out of the page's flow
    assert page.evaluate("() => window.strictRan") is None

    v.click("Accept all")
    page.wait_for_function("() => window.strictRan", timeout=5000)
    state = v.wait_acked()
    assert page.evaluate("() => window.strictRan") == 1  # the gated inline script ran once, by its nonce
    [row] = ledger_rows(app, demo_site)
    assert (row["method"], row["record_id"]) == ("accept_all", state["recordId"])
    assert row["page_url"] == (customer.origin if origin == "the customer's" else live_server) + "/strict-page"
    assert violations(v) == [] and v.errors == []


def test_without_constructable_stylesheets_the_style_carries_the_tags_nonce(visit, live_server, demo_site, customer):
    v = visit(where="DE")
    watch(v)
    place_in_germany(v, live_server)
    v.ctx.add_init_script(NO_ADOPTED_SHEETS)
    page = open_strict(v, live_server, demo_site, customer, tag_nonce=True)
    assert page.evaluate(f"() => {SHADOW}.querySelectorAll('style').length") == 1  # the fallback was taken
    assert page.evaluate(LOOKS) == STYLED and page.evaluate("() => __cls") == 0
    v.click("Reject all")
    v.wait_acked()
    assert violations(v) == [] and v.errors == []


def test_the_api_docs_load_only_from_our_origin(browser, live_server):
    ctx = browser.new_context()
    ctx.add_init_script(WATCH)
    page = ctx.new_page()
    requests, console = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: console.append(m.text))
    page.goto(live_server + "/api/v1/docs")
    page.get_by_role("heading", name="OpsIQ Consent API").first.wait_for()
    page.get_by_role("heading", name="The site's configuration resolved for the caller").first.wait_for()
    page.get_by_placeholder("Search...").fill("withdraw")  # the search index runs in a worker
    page.get_by_role("menuitem", name="Withdraw at once").first.wait_for()
    page.wait_for_timeout(300)
    assert page.evaluate("() => __csp") == [] and not [m for m in console if "Content Security Policy" in m]
    assert live_server + "/static/docs/redoc.standalone.js" in requests
    assert [u for u in requests if not u.startswith((live_server + "/", f"blob:{live_server}/"))] == []
    ctx.close()


def test_the_demo_shop_runs_under_its_policy(visit):
    v = visit(where="DE")
    policy = v.ctx.request.get(v.url).headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in policy and "'unsafe-inline'" not in policy  # a strict one
    watch(v)
    page = v.open()
    page.wait_for_timeout(300)
    v.click("Accept all")
    page.wait_for_function("() => (window.demoRan || []).length == 3")  # the gated scripts ran, by the nonce
    assert v.ran() == ["analytics:external", "analytics:inline", "marketing:inline"]
    ad = page.frame_locator("iframe[title=Advertisement]").locator("#ad")
    assert "Marketing iframe loaded" in ad.text_content()
    assert ad.evaluate("e => getComputedStyle(e.ownerDocument.body).backgroundColor") == "rgb(253, 230, 138)"
    assert page.evaluate("() => getComputedStyle(document.body).backgroundColor") == "rgb(246, 245, 241)"
    v.wait_acked()
    page.click("footer [data-opsiq-settings]")  # the dialog, styled, under the same policy
    assert page.evaluate(f"() => getComputedStyle({SHADOW}.querySelector('.o')).position") == "fixed"
    assert violations(v) == [] and v.errors == []
