"""The Scan page: every role of the site reads the scans and their reports; editors and owners
queue one (audited as the user), viewers and privacy officers may not, route by route."""
from app.extensions import db
from app.models import Scan
from tests.admin.conftest import audit_entries, main_text, user_id


def scans(site_key):
    return f"/admin/sites/{site_key}/scans"


def test_an_editor_queues_a_scan_and_bad_input_is_shown_on_the_form(app, runner, dashboard, make_user, make_site):
    site_key, _ = make_site()
    editor = make_user("editor", sites=[site_key])
    d = dashboard()
    d.sign_in(editor)
    page = d.get(scans(site_key))
    assert page.status_code == 200 and "No scan yet" in main_text(page) and "Queue the scan" in main_text(page)
    r = d.submit(scans(site_key), scans(site_key), url="https://shop.example/<b>", regions="de us-ca")
    assert r.status_code == 302
    text = main_text(d.get(scans(site_key)))
    assert "https://shop.example/<b>" in text and "DE US-CA" in text and "queued" in text
    [entry] = audit_entries(app, "scan.requested")
    assert entry["actor"] == f"user:{user_id(runner, editor)}"
    r = d.submit(scans(site_key), scans(site_key), url="ftp://shop.example/", regions="DE")
    assert r.status_code == 422 and "must be an http(s) URL" in main_text(r)
    r = d.submit(scans(site_key), scans(site_key), url="https://shop.example/", regions="Germany")
    assert r.status_code == 422 and "not an ISO country" in main_text(r)
    assert 'aria-invalid="true"' in r.get_data(as_text=True)


def test_viewers_and_privacy_read_but_may_not_queue(app, dashboard, make_user, make_site):
    site_key, _ = make_site()
    with app.app_context():
        from app.services.sites.administration import require_site

        site = require_site(site_key)
        db.session.add(Scan(scan_id="scan_" + "a" * 32, site_id=site.id, url="https://shop.example/", regions=["DE"],
                            status="done", findings=2, report={
                                "url": "https://shop.example/", "site_key": site_key, "regions": ["DE"],
                                "started_at": "2026-12-01T00:00:00+00:00", "seconds": 1.0, "chromium": "1",
                                "states": {}, "findings": [{"kind": "undeclared_cookie", "region": "DE",
                                                            "state": "before", "evidence": {"name": "<x>"}}],
                                "summary": {"findings": 1, "by_kind": {"undeclared_cookie": 1}},
                                "proposed_declarations": {}, "notes": []}))
        db.session.commit()
    report_url = f"{scans(site_key)}/scan_{'a' * 32}/report"
    for role in ("viewer", "privacy", "editor", "owner"):
        d = dashboard()
        d.sign_in(make_user(role, sites=[site_key]))
        page = d.get(scans(site_key))
        assert page.status_code == 200 and "scan_" + "a" * 32 in main_text(page), role
        assert ("Queue the scan" in main_text(page)) == (role in ("editor", "owner")), role
        report = d.get(report_url)
        html = report.get_data(as_text=True)
        assert report.status_code == 200 and "undeclared_cookie" in html and "<x>" not in html, role
        assert "\\u003cx\\u003e" in html, role  # the page's own strings as text, never markup
        csp = report.headers["Content-Security-Policy"]
        assert "script-src" not in csp and "img-src data:" in csp and "default-src 'none'" in csp, role
        if role in ("viewer", "privacy"):  # the form is not shown; posted anyway, with a valid CSRF token
            token = d.form("/admin/", "/admin/logout")
            r = d.client.post(scans(site_key), data={**token, "url": "https://shop.example/", "regions": "DE"})
            assert r.status_code == 403 and "may not" in main_text(r), role
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(Scan)).scalar_one() == 1
    assert dashboard().get(report_url).status_code in (302, 401)  # not signed in
