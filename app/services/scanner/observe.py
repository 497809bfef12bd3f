"""Loading a page in headless Chromium as a visitor from one region, in four states, and recording
what it stored, fetched and ran (Playwright's sync API, optional: `pip install '.[proof]'`).

Each state has a fresh browser context: `before` (no choice), `reject` and `accept` (the banner's
button clicked, then the page loaded again with the choice stored) and `gpc` (Sec-GPC: 1 and
navigator.globalPrivacyControl, no choice). The scan writes nothing here: the widget's decision
is answered in the route handler, never sent to the ledger.
"""
import base64
import datetime as dt
import json
import threading
import time
import uuid
from urllib.parse import urljoin, urlsplit

from app.services.proof.render import CHROMIUM_ARGS, Unavailable, check_available
from app.services.scanner.guard import REASONS, Guard
from app.services.scanner.override import REGION_HEADER, region_token
from app.services.scanner.page_scripts import AXE_RUN, BUTTONS, GPC_ON, PAGE_FACTS, SETTLED, WRITES
from app.services.scanner.settings import Region, Settings, origin_of

STATES = ("before", "reject", "accept", "gpc")
VIEWPORT = {"width": 1280, "height": 800}
WIDGET_PREFIX = "opsiq."  # the widget's own localStorage keys: not the page's
MAX_REDIRECTS = 5
SETTLE_SECONDS = 2.0  # at most this long for the network to go quiet after a load
def observe(url: str, site_key: str, regions: list[Region], settings: Settings) -> dict:
    """{"chromium": version, "axe": bool, "states": {region code: {state: observations}}}. Unavailable
    when Chromium or Playwright is missing; a page past the time limit is recorded, not raised."""
    if not settings.chromium:
        raise Unavailable("no Chromium is configured (SCAN_CHROMIUM is unset)")
    check_available(settings.chromium)
    result: dict = {}

    def run():
        try:
            result["value"] = _observe(url, site_key, regions, settings)
        except BaseException as e:  # noqa: BLE001 (handed to the caller)
            result["error"] = e

    # A thread of its own: Playwright's sync API refuses a thread that already runs an event loop.
    thread = threading.Thread(target=run, name="scan", daemon=True)
    thread.start()
    bound = settings.page_seconds * (3 * len(STATES) * len(regions) + 2)
    thread.join(bound)
    if thread.is_alive():
        raise TimeoutError(f"the scan took longer than {bound:.0f} s")
    if "error" in result:
        raise result["error"]
    return result["value"]


def _axe_source(path: str | None) -> str | None:
    try:
        with open(path or "", encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def _observe(url, site_key, regions, settings):
    from playwright.sync_api import sync_playwright

    axe = _axe_source(settings.axe_path)
    states = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=settings.chromium, args=CHROMIUM_ARGS + ["--disable-quic"],
                                    timeout=settings.page_seconds * 1000)
        try:
            for region in regions:
                states[region.code] = {state: Visit(browser, url, site_key, region, state, settings, axe).run()
                                       for state in STATES}
            version = browser.version
        finally:
            browser.close()
    return {"chromium": version, "axe": axe is not None, "states": states}


class Visit:
    """One state of one region: a fresh context, the route handler, the page's observations."""

    def __init__(self, browser, url, site_key, region, state, settings, axe):
        self.browser, self.url, self.site_key, self.region, self.state = browser, url, site_key, region, state
        self.settings, self.axe = settings, axe
        self.guard = Guard(settings)
        self.page_host = (urlsplit(url).hostname or "").lower()
        self.service_origins = {settings.service_origin} if settings.service_origin else set()
        self.phase = "load"
        self.requests: list[dict] = []
        self.blocked: list[dict] = []
        self.errors: list[str] = []
        self.token = region_token(settings.secret, region.country, region.region)

    def _ours(self, url: str) -> bool:
        """A request to this service: its origin, or the widget script of this site (whose origin is then ours)."""
        parts = urlsplit(url)
        origin = origin_of(url)
        if parts.path == f"/w/{self.site_key}.js":
            self.service_origins.add(origin)
        return origin in self.service_origins

    def _route(self, route, request):
        url = request.url
        refused = self.guard.refusal(url)
        if refused:
            self.blocked.append({"url": url[:300], "host": urlsplit(url).hostname, "reason": REASONS[refused],
                                 "phase": self.phase})
            return route.abort("blockedbyclient")
        if (request.is_navigation_request() and request.frame.parent_frame is None and request.redirected_from is None
                and url.split("#")[0] != self.url.split("#")[0]):
            self.blocked.append({"url": url[:300], "host": urlsplit(url).hostname, "reason": "a link: not followed",
                                 "phase": self.phase})
            return route.abort("blockedbyclient")
        headers = None
        if self._ours(url):
            path = urlsplit(url).path
            if request.method == "POST" and path.startswith("/api/v1/"):
                return self._answer_locally(route, request, path)
            headers = {**request.headers, REGION_HEADER.lower(): self.token}
        if self.settings.allow_private:
            return route.continue_(headers=headers)
        return self._fetch_guarded(route, request, headers)

    def _fetch_guarded(self, route, request, headers):
        """Fetch it here, one hop at a time, each redirect's target judged before it is fetched:
        Chromium follows redirects without showing them to the route handler."""
        url, method = request.url, request.method
        for _ in range(MAX_REDIRECTS + 1):
            response = route.fetch(url=url, method=method, headers=headers, max_redirects=0)
            location = response.headers.get("location")
            if not (300 <= response.status < 400 and location):
                return route.fulfill(response=response)
            target = urljoin(url, location)
            refused = self.guard.refusal(target)
            if refused or (request.is_navigation_request() and request.frame.parent_frame is None):
                self.blocked.append({"url": target[:300], "host": urlsplit(target).hostname, "phase": self.phase,
                                     "reason": REASONS[refused] if refused else
                                     "the page redirects: scan the URL it redirects to"})
                return route.abort("blockedbyclient")
            url, method = target, method if response.status in (307, 308) else "GET"
            headers = None if origin_of(target) not in self.service_origins else headers
        self.blocked.append({"url": url[:300], "host": urlsplit(url).hostname, "phase": self.phase,
                             "reason": "too many redirects"})
        return route.abort("blockedbyclient")

    def _answer_locally(self, route, request, path):
        """The widget's decision, answered here as the service would (201): the scan records nothing."""
        origin = request.headers.get("origin")
        headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {}
        if not path.endswith("/consents"):
            return route.fulfill(status=204, headers=headers)
        try:
            sent = json.loads(request.post_data or "{}")
        except ValueError:
            sent = {}
        now = dt.datetime.now(dt.UTC)
        body = {"record_id": "scan-" + uuid.uuid4().hex[:20], "receipt": None, "event": "given", "regime": None,
                "country": self.region.country, "region": self.region.region,
                "decisions": sent.get("decisions") if isinstance(sent, dict) else None,
                "decided_at": now.isoformat(), "expires_at": (now + dt.timedelta(days=180)).isoformat()}
        return route.fulfill(status=201, content_type="application/json", headers=headers, body=json.dumps(body))

    def _on_request(self, request):
        host = (urlsplit(request.url).hostname or "").lower()
        if host and host != self.page_host and origin_of(request.url) not in self.service_origins:
            self.requests.append({"url": request.url[:300], "host": host, "type": request.resource_type,
                                  "phase": self.phase})

    def run(self) -> dict:
        """This state's observations (an `error` instead of what could not be seen in time)."""
        headers = {"Accept-Language": "en"}
        if self.state == "gpc":
            headers["Sec-GPC"] = "1"
        ctx = self.browser.new_context(viewport=VIEWPORT, locale="en", service_workers="block",
                                       extra_http_headers=headers)
        started = time.monotonic()
        out: dict = {"state": self.state}
        try:
            ctx.set_default_timeout(self.settings.page_seconds * 1000)
            ctx.set_default_navigation_timeout(self.settings.page_seconds * 1000)
            ctx.add_init_script(WRITES)
            if self.state == "gpc":
                ctx.add_init_script(GPC_ON)
            ctx.route("**/*", self._route)
            page = ctx.new_page()
            page.on("request", self._on_request)
            page.on("pageerror", lambda e: self.errors.append(str(e)[:300]))
            self._load(page, reload=False)
            if self.state == "before":
                out["buttons"] = page.evaluate(BUTTONS)
                out["axe"] = self._axe(page)
            if self.state in ("reject", "accept"):
                first = page.evaluate(PAGE_FACTS)
                out["before_choice"] = {"cookies": [c["name"] for c in ctx.cookies()], "local": first["local"],
                                        "session": first["session"], "ran": _gated_ran(first)}
                out["method"] = self._choose(page, self.state)
                self.phase = "choice"
                self._wait_acked(page)
                self.phase = "reload"
                self._load(page, reload=True)
            out.update(self._facts(page, ctx))
            out["screenshot"] = base64.b64encode(page.screenshot(animations="disabled", caret="hide")).decode()
        except Exception as e:  # noqa: BLE001 (a page that times out or crashes is a result of the scan)
            out["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
        finally:
            ctx.close()
        out.update(requests=self.requests, blocked=self.blocked, errors=self.errors,
                   seconds=round(time.monotonic() - started, 2))
        return out

    def _load(self, page, reload):
        (page.reload if reload else page.goto)(**({} if reload else {"url": self.url}), wait_until="load")
        try:
            page.wait_for_function("() => window.opsiqConsent", timeout=min(5000, self.settings.page_seconds * 1000))
        except Exception:  # noqa: BLE001 (no widget on the page: recorded by `widget: false`)
            return
        try:
            page.wait_for_load_state("networkidle", timeout=SETTLE_SECONDS * 1000)
        except Exception:  # noqa: BLE001 (a page that keeps fetching is observed as it is)
            pass
        page.evaluate(SETTLED)

    def _choose(self, page, state):
        """Click the banner's Accept all / Reject all (opt-in shows both, first and second); where the
        banner has no such button (opt-out, notice) the widget's own acceptAll / rejectAll."""
        regime = page.evaluate("() => window.opsiqConsent?.get().regime")
        if regime is None:
            return None
        if regime == "opt_in" and len(page.evaluate(BUTTONS)) >= 2:
            page.locator("#opsiq-consent section[role=region] .a button").nth(0 if state == "accept" else 1).click()
            return "banner"
        page.evaluate("(which) => opsiqConsent[which]()", "acceptAll" if state == "accept" else "rejectAll")
        return "api"

    def _wait_acked(self, page):
        try:
            page.wait_for_function("() => opsiqConsent.get().recordId", timeout=3000)
        except Exception:  # noqa: BLE001 (the page goes on without the acknowledgement)
            pass

    def _axe(self, page):
        if self.axe is None:
            return None
        page.evaluate(self.axe + "\n;0")
        return page.evaluate(AXE_RUN)

    def _facts(self, page, ctx) -> dict:
        facts = page.evaluate(PAGE_FACTS)
        now = time.time()
        cookies = []
        for c in ctx.cookies():
            domain = c["domain"].lstrip(".").lower()
            first = self.page_host == domain or self.page_host.endswith("." + domain)
            cookies.append({"name": c["name"], "domain": c["domain"], "path": c["path"],
                            "party": "first" if first else "third",
                            "lifetime": "session" if c["expires"] < 0 else max(0, round(c["expires"] - now))})
        return {"url": page.url, "widget": facts["widget"], "regime": (facts["consent"] or {}).get("regime"),
                "decisions": (facts["consent"] or {}).get("decisions"), "banner": facts["banner"],
                "cookies": cookies, "local_storage": facts["local"], "session_storage": facts["session"],
                "scripts": facts["scripts"], "iframes": facts["iframes"], "gated_waiting": facts["gated_waiting"],
                "datalayer": _plain(facts["datalayer"]), "writes": facts["writes"]}


def _gated_ran(facts) -> list[str]:
    return [s["src"] or s["inline"] for s in facts["scripts"] if s["consent"]] + \
        [f["src"] for f in facts["iframes"] if f["consent"]]


def _plain(value):
    """The dataLayer as JSON can hold it (a page may push functions or DOM nodes)."""
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return []


__all__ = ["STATES", "Unavailable", "WIDGET_PREFIX", "observe"]
