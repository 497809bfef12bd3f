"""The overview's figures in the dashboard equal the server API's for the same records and period:
the known set of decisions of tests/api/test_stats.py, written through POST /api/v1/consents and
rolled up by `flask stats rollup`, read from the page's tables and its CSV."""
import html as html_text
import re

from tests.admin.conftest import main_text
from tests.api.test_stats import rollup, stats, write_known_set


def table(page_html, table_id):
    """{row header: [cells]} of one table of the page, as text."""
    found = re.search(rf'<table id="{table_id}">(.*?)</table>', page_html, re.S)
    assert found, table_id
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S):
        cells = [" ".join(html_text.unescape(re.sub(r"<[^>]+>", " ", c)).split())
                 for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        rows[cells[0]] = cells[1:]
    return rows


def pct(value):
    return "–" if value is None else f"{value * 100:.1f} %"


def test_the_overview_shows_the_apis_figures(client, runner, site_ctx, dashboard, make_user):
    site_key, _, auth = site_ctx
    write_known_set(client, runner, site_key)
    d = dashboard()
    d.sign_in(make_user("viewer", sites=[site_key]))
    assert "Not counted yet" in main_text(d.get(f"/admin/sites/{site_key}"))
    rollup(runner, site_key)
    api = stats(client, auth)
    page = d.get(f"/admin/sites/{site_key}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    totals = api["totals"]
    assert f"{totals['decisions']} decision(s), {totals['gpc']} with a Global Privacy Control signal" in main_text(page)
    labels = {"accept_all": "Accept all", "reject_all": "Reject all", "custom": "Custom", "dismiss": "Dismissed",
              "gpc": "GPC", "api": "Through the API"}
    assert table(html, "table-methods") == {
        "Choice": ["Decisions", "Share"],
        **{labels[m]: [str(n), pct(totals["method_shares"][m])] for m, n in totals["methods"].items()}}
    assert table(html, "table-purposes") == {
        "Purpose": ["Decided", "Granted", "Opt-in rate"],
        **{p["purpose"]: [str(p["decided"]), str(p["granted"]), pct(p["opt_in_rate"])] for p in totals["purposes"]}}
    countries = table(html, "table-countries")
    assert [k for k in countries if k != "Country"] == [g["key"] or "(unknown)" for g in api["countries"]]
    for g in api["countries"]:
        assert countries[g["key"] or "(unknown)"][:3] == [str(g["decisions"]), pct(g["method_shares"]["accept_all"]),
                                                         pct(g["method_shares"]["reject_all"])]
    assert {k: v[0] for k, v in table(html, "table-policy_versions").items() if k != "Policy version"} == {
        g["key"]: str(g["decisions"]) for g in api["policy_versions"]}
    assert {k: v[0] for k, v in table(html, "table-regions").items() if k != "Region"} == {
        g["key"]: str(g["decisions"]) for g in api["regions"]}
    # the CSV is the API's, for the same period and filter
    for query in ({}, {"country": "US", "from": api["from"], "to": api["to"]}):
        mine = d.get(f"/admin/sites/{site_key}/stats.csv", query_string=query)
        theirs = client.get("/api/v1/stats", query_string={**query, "format": "csv"}, headers=auth)
        assert mine.status_code == 200 and mine.mimetype == "text/csv"
        assert mine.get_data(as_text=True) == theirs.get_data(as_text=True), query
    # a filter narrows the page as it narrows the API
    us = stats(client, auth, country="US")
    page = d.get(f"/admin/sites/{site_key}", query_string={"country": "US"})
    assert f"{us['totals']['decisions']} decision(s)" in main_text(page)


def test_a_period_the_overview_cannot_show_says_why(client, site_ctx, dashboard, make_user):
    site_key, _, _ = site_ctx
    d = dashboard()
    d.sign_in(make_user("viewer", sites=[site_key]))
    r = d.get(f"/admin/sites/{site_key}", query_string={"from": "2026-05-02", "to": "2026-05-01"})
    assert r.status_code == 200 and "from: 2026-05-02 is after `to`" in main_text(r)
    r = d.get(f"/admin/sites/{site_key}", query_string={"from": "2020-01-01", "to": "2026-01-01"})
    assert "a period is at most 400 days" in main_text(r)
    r = d.get(f"/admin/sites/{site_key}", query_string={"from": "yesterday"})
    assert "from: Not a valid date." in main_text(r)
    assert d.get(f"/admin/sites/{site_key}/stats.csv", query_string={"from": "yesterday"}).status_code == 422
