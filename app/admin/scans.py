"""A site's compliance scans (/admin/sites/<site_key>/scans): every role of the site reads them
(status, findings, each one's HTML report); editors and owners (`scans.run`) queue a new one with
a URL and regions, which `flask worker` runs. The work and the audit entries (scan.requested,
scan.completed) are app/services/scanner/queue.py's, the same as the API's.
"""
from flask import current_app, flash, redirect, request, url_for

from app import page_policies
from app.admin.blueprint import bp
from app.admin.session import signed_in_user
from app.admin.sites import SITE_PAGES, site_page
from app.errors import NotFound
from app.services.scanner import queue
from app.services.scanner.report import render_html
from app.services.scanner.settings import DEFAULT_REGIONS, ScanError, Settings
from app.services.users import access

SITE_PAGES.append(("admin.scans", "Scan", "site.read"))


def _list(site, user, status=200, errors=None, url="", regions=" ".join(DEFAULT_REGIONS)):
    body, _ = site_page("admin/site/scans.html", site, user, scans=queue.list_scans(site.id), errors=errors or {},
                        url=url, regions=regions)
    return body, status


@bp.get("/sites/<site_key>/scans")
def scans(site_key):
    """The site's scans, newest first, with their status and findings; the form for a new one."""
    user = signed_in_user()
    return _list(access.site_for(user, site_key, "site.read"), user)


@bp.post("/sites/<site_key>/scans")
def create_scan(site_key):
    """Queue a scan of a URL in the regions given (space- or comma-separated; DE and US-CA if none)."""
    user = signed_in_user()
    site = access.site_for(user, site_key, "scans.run")
    url = request.form.get("url", "").strip()
    regions = request.form.get("regions", "").strip()
    try:
        scan = queue.request_scan(site.id, url, regions.replace(",", " ").split(), Settings.from_app(current_app))
    except ScanError as e:
        return _list(site, user, 422, {**(e.errors or {}), "": [e.message]}, url, regions)
    flash(f"Scan {scan.scan_id} of {scan.url} is queued; the worker runs it.")
    return redirect(url_for("admin.scans", site_key=site.site_key))


@bp.get("/sites/<site_key>/scans/<scan_id>/report")
def scan_report(site_key, scan_id):
    """A finished scan's report as its standalone HTML page (the same file `flask scan --out` writes)."""
    user = signed_in_user()
    site = access.site_for(user, site_key, "site.read")
    scan = queue.get_scan(site.id, scan_id)
    if scan.report is None:
        raise NotFound(f"Scan {scan_id} has no report ({scan.status}).")
    nonce = page_policies.new_nonce()
    return render_html(scan.report, nonce), 200, {"Content-Security-Policy": page_policies.scan_report(nonce)}
