"""The compliance scanner on pages the test serves itself: the demo shop (no findings) and a leaky
page (an ungated script that sets a cookie and calls another local host before consent, and a tag
that pushes `config` before the Consent Mode default), through run_scan and `flask scan`."""
import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.services.scanner.report import render_html, run_scan
from app.services.scanner.settings import ScanError, Settings
from app.services.sites.administration import require_site
from tests.browser.conftest import CHROMIUM


class Pages:
    """A loopback HTTP server of the test's own: path -> HTML (or `redirect:URL`); it remembers the paths asked for."""

    def __init__(self, host="127.0.0.1", pages=None):
        self.pages, self.seen = dict(pages or {}), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                outer.seen.append(self.path)
                page = outer.pages.get(self.path.split("?")[0], "")
                if page.startswith("redirect:"):
                    self.send_response(302)
                    self.send_header("Location", page.removeprefix("redirect:"))
                    self.end_headers()
                    return
                body = page.encode()
                self.send_response(200 if body else 204)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://{host}:{self.server.server_port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


LEAKY = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Leaky shop</title>
<script>window.dataLayer = window.dataLayer || []; dataLayer.push(['config', 'G-LEAKY']);</script>
<script src="{service}/w/{site_key}.js"></script>
</head>
<body>
<main><h1>Leaky shop</h1><p>Tags that do not wait for consent.</p><img src="/hop" alt=""></main>
<script>
  document.cookie = '_leak_id=abc; path=/; max-age=86400';
  fetch('{tracker}/pixel?id=abc', {{mode: 'no-cors'}});
</script>
</body>
</html>
"""

# Marked as gated but not held back (no type="text/plain"), and a banner the page restyles past legibility.
CARELESS = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Careless shop</title>
<script src="{service}/w/{site_key}.js"></script>
<style>#opsiq-consent::part(button) {{ background: #ffffff; color: #dddddd; }}</style>
</head>
<body>
<main><h1>Careless shop</h1></main>
<script data-consent="marketing">
  window.adsRan = true;
  gtag('consent', 'update', {{ad_storage: 'granted', ad_user_data: 'granted'}});
</script>
</body>
</html>
"""


@pytest.fixture
def settings(app):
    """The test app's scanner settings with Chromium (the test app has none configured)."""
    if not __import__("os").path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    return dataclasses.replace(Settings.from_app(app), chromium=CHROMIUM, page_seconds=15)


@pytest.fixture
def tracker():
    """Another local host (127.0.0.2) the leaky page calls."""
    t = Pages("127.0.0.2")
    yield t
    t.close()


@pytest.fixture
def leaky(live_server, demo_site, tracker):
    """The leaky page on a loopback server of its own; the widget from the live app."""
    pages = Pages(pages={"/": LEAKY.format(service=live_server, site_key=demo_site, tracker=tracker.base),
                         "/hop": f"redirect:{tracker.base}/hopped"})
    yield pages
    pages.close()


@pytest.fixture
def scan_cli(app, monkeypatch):
    """The app's config with Chromium, for `flask scan` through the CLI runner."""
    if not __import__("os").path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    monkeypatch.setitem(app.config, "SCAN_CHROMIUM", CHROMIUM)
    monkeypatch.setitem(app.config, "SCAN_PAGE_SECONDS", 15)


def scan(app, site_key, url, regions, settings):
    with app.app_context():
        return run_scan(require_site(site_key), url, regions, settings)


def kinds(report):
    return {f["kind"] for f in report["findings"]}


def test_demo_shop_has_no_findings_in_germany_and_california(app, live_server, demo_site, settings, ledger_count):
    started = time.monotonic()
    report = scan(app, demo_site, f"{live_server}/demo?site={demo_site}", ["DE", "US-CA"], settings)
    took = time.monotonic() - started
    print(f"\nfour states, two regions: {took:.1f} s; summary {json.dumps(report['summary'])}")
    assert report["findings"] == [], json.dumps(report["findings"], indent=1)
    de, ca = report["states"]["DE"], report["states"]["US-CA"]
    assert set(de) == {"before", "reject", "accept", "gpc"}
    assert de["before"]["regime"] == "opt_in" and ca["before"]["regime"] == "opt_out"  # the signed region placed it
    assert de["reject"]["method"] == "banner" and ca["reject"]["method"] == "api"  # opt-out has no Reject all
    assert de["reject"]["decisions"]["necessary"] and not any(
        on for slug, on in de["reject"]["decisions"].items() if slug != "necessary")
    assert report["notes"] == [] and de["before"]["axe"] == []  # axe-core ran on the banner and found nothing
    # after Accept all the gated analytics ran and set what the site declares
    assert {"_demo_an"} <= {c["name"] for c in de["accept"]["cookies"]}
    assert any(s["consent"] == "analytics" for s in de["accept"]["scripts"])
    assert not any(s["consent"] for s in de["before"]["scripts"])
    analytics = next(p for p in report["proposed_declarations"]["purposes"] if p["slug"] == "analytics")
    assert "_demo_an" in analytics["cookies"] and "_demo_an_visits" not in report["proposed_declarations"]["unassigned"]
    assert de["before"]["datalayer"][0][:2] == ["consent", "default"]
    assert ledger_count() == 0  # the widget's decisions were answered by the scanner, not recorded


@pytest.fixture
def ledger_count(app):
    from app.extensions import db
    from app.models import ConsentRecord

    def count():
        with app.app_context():
            return db.session.execute(db.select(db.func.count()).select_from(ConsentRecord)).scalar_one()
    return count


def test_leaky_page_reports_each_leak_with_its_kind(app, demo_site, leaky, tracker, settings):
    started = time.monotonic()
    report = scan(app, demo_site, leaky.base + "/", ["DE", "US-CA"], settings)
    print(f"\nleaky page, four states, two regions: {time.monotonic() - started:.1f} s; "
          f"summary {json.dumps(report['summary'])}")
    by_kind = {}
    for f in report["findings"]:
        by_kind.setdefault(f["kind"], []).append(f)
    assert {"storage_before_consent", "request_before_consent", "undeclared_cookie",
            "consent_mode_order"} <= set(by_kind)
    assert any(f["evidence"]["name"] == "_leak_id" and f["state"] == "before" and f["evidence"]["party"] == "first"
               for f in by_kind["storage_before_consent"])
    assert any(f["evidence"]["host"] == "127.0.0.2" and f["state"] == "before"
               for f in by_kind["request_before_consent"])
    assert [(f["region"], f["evidence"]["name"]) for f in by_kind["undeclared_cookie"]] == [
        ("DE", "_leak_id"), ("US-CA", "_leak_id")]
    assert {f["region"] for f in by_kind["storage_before_consent"] + by_kind["request_before_consent"]} == {"DE"}
    assert by_kind["consent_mode_order"][0]["evidence"]["command"] == "config"
    assert any(p.startswith("/pixel") for p in tracker.seen)  # the page really called it (private is allowed here)
    assert report["proposed_declarations"]["unassigned"]["cookies"] == ["_leak_id"]
    with app.app_context():
        html = render_html(report)
    assert "request_before_consent" in html and "data:image/png;base64," in html
    assert "http://" not in html.split("<main>")[0].replace(report["url"], "")  # nothing fetched by the page


def test_production_refuses_a_private_page_and_private_requests(app, demo_site, leaky, tracker, settings):
    strict = dataclasses.replace(settings, allow_private=False)
    with pytest.raises(ScanError, match="non-public address"):
        scan(app, demo_site, leaky.base + "/", ["DE"], strict)
    # the page on an origin the scanner always fetches (as this service's own): what it loads is judged
    served = dataclasses.replace(strict, service_origin=leaky.base)
    report = scan(app, demo_site, leaky.base + "/", ["DE"], served)
    blocked = [b for b in report["states"]["DE"]["before"]["blocked"]]
    assert {b["url"] for b in blocked} >= {f"{tracker.base}/pixel?id=abc", f"{tracker.base}/hopped"} and all(
        b["reason"] == "resolves to a non-public address" for b in blocked)  # a redirect's target is judged too
    assert tracker.seen == [] and "/hop" in leaky.seen
    assert any("not fetched" in n for n in report["notes"])


def test_bad_input_is_refused_up_front(app, demo_site, settings):
    for url in ("ftp://example.com/", "not a url", "http://[::1/"):
        with pytest.raises(ScanError):
            scan(app, demo_site, url, ["DE"], settings)
    with pytest.raises(ScanError, match="not a region"):
        scan(app, demo_site, "https://example.com/", ["Germany"], settings)


def test_flask_scan_exit_codes_json_and_html(app, runner, live_server, demo_site, leaky, scan_cli, tmp_path):
    out = tmp_path / "report.html"
    result = runner.invoke(args=["scan", leaky.base + "/", "--site", demo_site, "--region", "DE", "--json",
                                 "--out", str(out)])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert "consent_mode_order" in kinds(report) and "screenshot" not in report["states"]["DE"]["before"]
    html = out.read_text()
    assert html.startswith("<!doctype html>") and "consent_mode_order" in html and "_leak_id" in html

    result = runner.invoke(args=["scan", f"{live_server}/demo?site={demo_site}", "--site", demo_site,
                                 "--region", "US-CA"])
    assert result.exit_code == 0, result.output
    assert "0 findings" in result.output

    for args in (["ftp://x/", "--site", demo_site], [live_server, "--site", "nope"],
                 [live_server, "--site", demo_site, "--region", "nowhere"]):
        result = runner.invoke(args=["scan", *args])
        assert result.exit_code == 2, result.output


def test_careless_page_runs_after_reject_ignores_gpc_and_breaks_the_banner(app, live_server, demo_site, settings):
    pages = Pages(pages={"/": CARELESS.format(service=live_server, site_key=demo_site)})
    try:
        report = scan(app, demo_site, pages.base + "/", ["DE"], settings)
    finally:
        pages.close()
    by_kind = {}
    for f in report["findings"]:
        by_kind.setdefault(f["kind"], []).append(f)
    assert set(by_kind) == {"ran_after_reject", "gpc_ignored", "banner_a11y"}, json.dumps(report["findings"], indent=1)
    assert by_kind["ran_after_reject"][0]["evidence"]["consent"] == "marketing"
    gpc = [f["evidence"] for f in by_kind["gpc_ignored"]]
    assert {"consent_mode_granted": ["ad_storage", "ad_user_data"]} in gpc
    assert any(e.get("consent") == "marketing" for e in gpc)
    assert "color-contrast" in {f["evidence"]["rule"] for f in by_kind["banner_a11y"]}



def test_the_worker_runs_a_queued_scan_once(app, client, runner, live_server, demo_site, scan_cli):
    from app.extensions import db
    from app.models import AuditEntry
    from app.services.sites.keys import create_api_key

    with app.app_context():
        auth = {"Authorization": f"Bearer {create_api_key(require_site(demo_site))}"}
    queued = client.post("/api/v1/scans", json={"url": f"{live_server}/demo?site={demo_site}", "regions": ["DE"]},
                         headers=auth).json
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "worker: scan: 1" in result.output
    done = client.get(f"/api/v1/scans/{queued['id']}", headers=auth).json
    assert done["status"] == "done" and done["findings"] == 0 and done["error"] is None, done
    assert done["report"]["regions"] == ["DE"] and done["report"]["findings"] == []
    assert "screenshot" not in done["report"]["states"]["DE"]["before"]  # the API answers without them
    with app.app_context():
        [entry] = db.session.execute(db.select(AuditEntry).where(AuditEntry.action == "scan.completed")).scalars()
        assert entry.actor == "system" and entry.details == {"status": "done", "findings": 0}
    again = runner.invoke(args=["worker", "--once"])  # claimed once: nothing left to run
    assert "worker: scan" not in again.output
