"""Compliance scans (app/services/scanner/): queue one for the worker, then read its status and report."""
from flask import current_app, g

from app.api.auth import SECURITY, api_key_required
from app.api.parsing import ApiBlueprint
from app.schemas.scans import ScanIn, ScanOut
from app.services.scanner.queue import get_scan, request_scan
from app.services.scanner.report import without_screenshots
from app.services.scanner.settings import Settings

blp = ApiBlueprint("scans", __name__, url_prefix="/api/v1",
                   description="Compliance scans of a page before and after consent, run by the worker")


def scan_answer(scan):
    """The scan as ScanOut dumps it: the report (without its screenshots) only once it is done."""
    report = without_screenshots(scan.report) if scan.report else None
    return {"scan_id": scan.scan_id, "url": scan.url, "regions": scan.regions, "status": scan.status,
            "requested_at": scan.requested_at, "started_at": scan.started_at, "finished_at": scan.finished_at,
            "findings": scan.findings, "error": scan.error, "report": report}


@blp.post("/scans")
@blp.doc(security=SECURITY)
@api_key_required
@blp.arguments(ScanIn)
@blp.response(202, ScanOut)
def create_scan(data):
    """Queue a scan of a page of the site; `flask worker` runs it. Poll GET /scans/{id} for the report."""
    return scan_answer(request_scan(g.site.id, data["url"], data["regions"], Settings.from_app(current_app)))


@blp.get("/scans/<scan_id>")
@blp.doc(security=SECURITY)
@blp.error_response(404, "The site has no scan with this id")
@api_key_required
@blp.response(200, ScanOut)
def read_scan(scan_id):
    """A scan's status, and its JSON report once done."""
    return scan_answer(get_scan(g.site.id, scan_id))
