"""A scan from start to report: the URL checked, the page observed in each region and state, the
findings and the proposed declarations as one JSON document, and that document as a standalone
HTML page (screenshots inlined as data: URIs, nothing fetched)."""
import copy
import datetime as dt
import time
from collections import Counter

from flask import current_app

from app.models import Site
from app.services.purposes import purpose_doc
from app.services.scanner.declarations import propose
from app.services.scanner.findings import findings_for
from app.services.scanner.guard import check_page_url
from app.services.scanner.observe import STATES, Unavailable, observe
from app.services.scanner.settings import ScanError, Settings, parse_regions


def run_scan(site: Site, url: str, regions, settings: Settings) -> dict:
    """Scan `url` for `site` as a visitor from each region (codes; DE and US-CA when none) and return
    the JSON report. ScanError for a bad URL or region, a refused address, or no Chromium."""
    return scan_page(site.site_key, [purpose_doc(p) for p in site.purposes], url, regions, settings)


def scan_page(site_key: str, purposes: list[dict], url: str, regions, settings: Settings) -> dict:
    """run_scan with the site as plain values (its key and purposes): it holds no database session
    while Chromium works."""
    wanted = parse_regions(regions)
    check_page_url(url, settings)
    started_at = dt.datetime.now(dt.UTC)
    started = time.monotonic()
    try:
        seen = observe(url, site_key, wanted, settings)
    except (Unavailable, TimeoutError) as e:
        raise ScanError(f"no scan: {e}") from None
    findings = []
    for region in wanted:
        findings += findings_for(region, seen["states"][region.code], purposes)
    notes = []
    if not seen["axe"]:
        notes.append(f"axe-core was not found at {settings.axe_path}: the banner's accessibility was not checked")
    blocked = sum(len(obs.get("blocked", [])) for states in seen["states"].values() for obs in states.values())
    if blocked:
        notes.append(f"{blocked} requests were not fetched (non-public addresses, links): see each state's `blocked`")
    for code, states in seen["states"].items():
        for state, obs in states.items():
            if "error" in obs:
                notes.append(f"{code} {state}: {obs['error']}")
            elif not obs.get("widget"):
                notes.append(f"{code} {state}: the OpsIQ widget did not start on the page")
    return {
        "url": url, "site_key": site_key, "regions": [r.code for r in wanted], "state_names": list(STATES),
        "started_at": started_at.isoformat(), "seconds": round(time.monotonic() - started, 2),
        "chromium": seen["chromium"], "states": seen["states"], "findings": findings,
        "summary": {"findings": len(findings), "by_kind": dict(Counter(f["kind"] for f in findings))},
        "proposed_declarations": propose(seen["states"], purposes), "notes": notes,
    }


def without_screenshots(report: dict) -> dict:
    """The report with each state's screenshot left out (for a terminal)."""
    out = copy.deepcopy(report)
    for states in out.get("states", {}).values():
        for obs in states.values():
            obs.pop("screenshot", None)
    return out


def render_html(report: dict, nonce: str | None = None) -> str:
    """The report as one standalone HTML page (app/templates/scanner/report.html; autoescaped);
    `nonce` on its style, for a page served under a policy (app/page_policies.py scan_report)."""
    return current_app.jinja_env.get_template("scanner/report.html").render(report=report, nonce=nonce)
