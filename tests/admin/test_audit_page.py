"""A site's audit log page through HTTP: newest first, a dashboard user shown with their email,
filtered by actor, action and time, paged, and its CSV the API's CSV for the same filter; the
roles that may read it."""
import datetime as dt
import html as html_text
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.admin.conftest import main_text, user_id
from tests.api.test_subjects import auth


def table(r):
    """The audit table's rows, each a list of its cells' text."""
    found = re.search(r'<table class="audit">.*?<tbody>(.*?)</tbody>', r.get_data(as_text=True), re.S)
    if not found:
        return []
    return [[" ".join(html_text.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)]


def api_log(client, api_key, **query):
    r = client.get("/api/v1/audit-log", query_string={"limit": 10_000, **query}, headers=auth(api_key))
    assert r.status_code == 200, r.json
    return r.json["entries"]


def api_csv(client, api_key, **query):
    r = client.get("/api/v1/audit-log", query_string={"limit": 10_000, "format": "csv", **query},
                   headers=auth(api_key))
    assert r.status_code == 200
    return r.get_data(as_text=True)


def local(iso):
    """A time as a browser's datetime-local field sends it: no zone (the page reads it as UTC)."""
    return iso.removesuffix("+00:00")


@pytest.fixture
def busy_site(app, client, runner, dashboard, make_user, site):
    """A site whose log has a command's, an API key's and a dashboard user's entries; returns
    (a dashboard signed in as the privacy user, site key, api key, that user's email)."""
    key, api_key = site
    email = make_user("privacy", sites=[key])
    d = dashboard()
    d.sign_in(email)
    assert runner.invoke(args=["keys", "rotate-receipt", key]).exit_code == 0
    for vid in ("visitor-audit-0001", "visitor-audit-0002"):
        assert client.post("/api/v1/subject-requests", json={"kind": "access", "visitor_id": vid},
                           headers=auth(api_key)).status_code == 201
    page = f"/admin/sites/{key}/requests"
    r = d.submit(page, page, **{"request-kind": "erasure", "request-selector": "email",
                                "request-value": "max@example.com",
                                "request-received_at": dt.datetime.now(dt.UTC).date().isoformat()})
    assert r.status_code == 302
    return d, key, api_key, email


def test_newest_first_with_users_by_email_filtered_and_the_csv_is_the_apis(app, client, runner, busy_site):
    d, key, api_key, email = busy_site
    actor = f"user:{user_id(runner, email)}"
    everything = api_log(client, api_key)
    page = d.get(f"/admin/sites/{key}/audit")
    assert page.status_code == 200
    rows = table(page)
    assert [r[2] for r in rows] == [e["action"] for e in reversed(everything)]  # newest first
    assert [r[0] for r in rows] == [e["time"][:19].replace("T", " ") for e in reversed(everything)]
    mine = [r for r in rows if r[1].startswith(actor)]
    assert mine and all(r[1] == f"{actor} {email}" for r in mine)  # a dashboard user, by their email too
    assert {"subject_request.created", "subject_request.listed"} <= {r[2] for r in mine}
    assert any(r[1].startswith("key:") and r[2] == "subject_request.created" for r in rows)
    assert any(r[1].startswith("cli:") and r[2] == "secret.rotated" for r in rows)
    assert "max@example.com" not in page.get_data(as_text=True)  # a data subject only as a keyed hash
    # the action filter is a select of every action
    html = page.get_data(as_text=True)
    assert html.count('<option value="') == 1 + len(re.findall(r'<option value="[a-z_]+\.[a-z_]+"', html))
    assert '<option value="subject.erased">' in html

    middle, created = everything[2]["time"], "subject_request.created"
    filters = [  # (the page's query, the API's query for the same)
        ({"actor": actor}, {"actor": actor}),
        ({"actor": email.upper()}, {"actor": actor}),  # a dashboard user named by their email
        ({"actor": "key:" + api_key[:17]}, {"actor": "key:" + api_key[:17]}),
        ({"action": "subject_request.created"}, {"action": "subject_request.created"}),
        ({"from": local(middle)}, {"from": middle}),
        ({"to": local(middle)}, {"to": middle}),
        ({"from": local(everything[1]["time"]), "to": local(everything[3]["time"]), "action": created},
         {"from": everything[1]["time"], "to": everything[3]["time"], "action": created}),
        ({}, {}),
    ]
    for ours, theirs in filters:
        expected = api_log(client, api_key, **theirs)
        assert expected or ours == {"to": local(middle)}, ours
        r = d.get(f"/admin/sites/{key}/audit", query_string=ours)
        assert r.status_code == 200, ours
        assert [row[2] for row in table(r)] == [e["action"] for e in reversed(expected)], ours
        csv = d.get(f"/admin/sites/{key}/audit.csv", query_string=ours)
        assert csv.status_code == 200 and csv.mimetype == "text/csv", ours
        assert csv.headers["Content-Disposition"] == f'attachment; filename="audit-log-{key}.csv"'
        assert csv.get_data(as_text=True) == api_csv(client, api_key, **theirs), ours  # the same rows, byte for byte
        # the download link carries the filter shown
        link = re.search(r'<a href="([^"]+audit\.csv[^"]*)"', r.get_data(as_text=True)).group(1)
        assert {k: v[0] for k, v in parse_qs(urlsplit(html_text.unescape(link)).query).items()} == ours
    # a browser's minutes, as datetime-local sends them
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M")
    earlier = (dt.datetime.fromisoformat(everything[0]["time"]) - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    assert table(d.get(f"/admin/sites/{key}/audit", query_string={"from": later})) == []
    assert "No entry matches these filters." in main_text(d.get(f"/admin/sites/{key}/audit?from={later}"))
    assert len(table(d.get(f"/admin/sites/{key}/audit", query_string={"from": earlier}))) == len(everything)


def test_filters_that_cannot_be_read_are_said_so(busy_site):
    d, key, _, _ = busy_site
    for query, says in (({"action": "site.deleted"}, "That is not an action of the audit log."),
                        ({"from": "yesterday"}, "“From” is not a date and time."),
                        ({"actor": "nobody@shop.example"}, "No dashboard user has that email.")):
        r = d.get(f"/admin/sites/{key}/audit", query_string=query)
        assert r.status_code == 422 and says in main_text(r) and table(r) == [], query
        assert d.get(f"/admin/sites/{key}/audit.csv", query_string=query).status_code == 422, query


def test_older_entries_are_a_page_further_with_the_filter_kept(client, busy_site):
    d, key, api_key, _ = busy_site
    for n in range(60):
        assert client.post("/api/v1/subject-requests", json={"kind": "access", "visitor_id": f"visitor-page-{n:04}"},
                           headers=auth(api_key)).status_code == 201
    seen, url, pages = [], f"/admin/sites/{key}/audit?action=subject_request.created", 0
    while url:
        r = d.get(url)
        rows = table(r)
        assert rows and all(row[2] == "subject_request.created" for row in rows)
        seen += re.findall(r'<th scope="row"><time datetime="([^"]+)"', r.get_data(as_text=True))
        pages += 1
        older = re.search(r'<a href="([^"]+)" rel="next">Older entries</a>', r.get_data(as_text=True))
        url = html_text.unescape(older.group(1)) if older else None
        if url:
            assert "action=subject_request.created" in url
            assert "Newest entries" in main_text(d.get(url))
    assert pages == 2 and len(seen) == 63
    times = [e["time"] for e in reversed(api_log(client, api_key, action="subject_request.created"))]
    assert len(times) == 63 and seen == times  # each once, newest first


def test_roles(dashboard, make_user, site, make_site):
    key, _ = site
    other_key, _ = make_site(name="Other")
    for role in ("viewer", "editor", "privacy", "owner"):
        d = dashboard()
        d.sign_in(make_user(role, sites=[key]))
        allowed = role in ("privacy", "owner")
        assert (f'href="/admin/sites/{key}/audit"' in d.get(f"/admin/sites/{key}").get_data(as_text=True)) is allowed
        for path in (f"/admin/sites/{key}/audit", f"/admin/sites/{key}/audit.csv"):
            assert d.get(path).status_code == (200 if allowed else 403), (role, path)
        assert d.get(f"/admin/sites/{other_key}/audit").status_code == 404, role
