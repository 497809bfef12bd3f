"""The compliance scanner: a customer's page loaded in headless Chromium as a visitor from each
region, before any choice, after Reject all, after Accept all and with GPC on; what it stored,
fetched and ran; the findings that shows (findings.py) and the declarations it proposes
(declarations.py), as a JSON report and a standalone HTML page (report.py).

guard.py keeps a scan to public addresses where the operator requires it, override.py is the
signed region that places the scanning browser, observe.py drives Chromium (with the JavaScript
of page_scripts.py), queue.py holds the scans the API and the dashboard ask the worker for.
"""
