"""Rendering a widget page in headless Chromium (Playwright, optional: `pip install '.[proof]'`).

The page is served to Chromium from memory at a made-up https origin: every other request is
refused, and static/admin/preview.js (the dashboard's preview shim) keeps the widget from storing
or sending anything. Each page has a time limit; the whole build one browser.
"""
import html
import os
import threading
from dataclasses import dataclass

PAGE_URL = "https://proof-pack.invalid/"
VIEWPORT = {"width": 1280, "height": 800}
BANNER = "#opsiq-consent section[role=region]"  # Playwright's CSS pierces the widget's open shadow root
DIALOG = "#opsiq-consent [role=dialog]"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


class Unavailable(Exception):
    """Chromium (or Playwright) is not there: the pack is stored without screenshots, saying why."""


@dataclass(frozen=True)
class View:
    language: str
    regime: str
    script: str  # the widget's exact bytes with this view's configuration inlined


def page_html(site_name: str, view: View, shim: str, which: str) -> str:
    return (f'<!doctype html>\n<html lang="{html.escape(view.language)}">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(site_name)}</title>\n<script>{shim}</script>\n</head>\n"
            f'<body data-view="{which}">\n<main>\n<h1>{html.escape(site_name)}</h1>\n'
            f"<p>A page of the site as a visitor in the {view.regime} regime reading {html.escape(view.language)}"
            " sees it before choosing.</p>\n</main>\n"
            f"<script>{view.script}</script>\n</body>\n</html>\n")


def _serve(body: str):
    """A route handler: the page at PAGE_URL, nothing else (the widget fetches nothing; no request leaves)."""
    def handle(route, request):
        if request.url == PAGE_URL:
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=body)
        else:
            route.abort()
    return handle


def check_available(chromium: str | None) -> None:
    if not chromium:
        raise Unavailable("no Chromium is configured (PROOF_CHROMIUM is unset)")
    if not os.path.exists(chromium):
        raise Unavailable(f"Chromium is not installed at {chromium} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise Unavailable("Playwright is not installed (pip install '.[proof]')") from None


def render(chromium: str | None, site_name: str, views: list[View], shim: str,
           timeout: float) -> tuple[str, dict[tuple[str, str], tuple[bytes, bytes]]]:
    """(Chromium's version, {(language, regime): (banner PNG, dialog PNG)}). Unavailable when
    Chromium or Playwright is missing; any other failure (a page past `timeout` seconds) raises."""
    check_available(chromium)
    # A thread of its own: Playwright's sync API refuses a thread that already runs an event loop
    # (a caller's, or another Playwright's); the pages' time limits bound it, and this join too.
    result: dict = {}

    def run():
        try:
            result["value"] = _render(chromium, site_name, views, shim, timeout)
        except BaseException as e:  # noqa: BLE001 (handed to the caller)
            result["error"] = e

    thread = threading.Thread(target=run, name="proof-render", daemon=True)
    thread.start()
    thread.join(timeout * (2 * len(views) + 2))
    if thread.is_alive():
        raise TimeoutError(f"Chromium took longer than {timeout * (2 * len(views) + 2):.0f} s")
    if "error" in result:
        raise result["error"]
    return result["value"]


def _render(chromium, site_name, views, shim, timeout):
    from playwright.sync_api import sync_playwright

    shots = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, timeout=timeout * 1000)
        try:
            for view in views:
                pair = []
                for which, selector in (("banner", BANNER), ("dialog", DIALOG)):
                    body = page_html(site_name, view, shim, which)
                    ctx = browser.new_context(viewport=VIEWPORT, locale=view.language, service_workers="block")
                    try:
                        ctx.set_default_timeout(timeout * 1000)
                        ctx.route("**/*", _serve(body))
                        page = ctx.new_page()
                        page.goto(PAGE_URL, wait_until="load")
                        page.locator(selector).wait_for(state="visible")
                        pair.append(page.screenshot(animations="disabled", caret="hide"))
                    finally:
                        ctx.close()
                shots[(view.language, view.regime)] = (pair[0], pair[1])
            version = browser.version
        finally:
            browser.close()
    return version, shots
