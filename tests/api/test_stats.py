"""GET /api/v1/stats: a site's overview from the rollups, exact for a known set of decisions written
through POST /api/v1/consents, equal to a scan of the ledger, on the UTC day of each record, and
refusing a period it cannot answer in the one error shape. Time passes through a fake clock (the
ledger's `utcnow`) where a test needs records on given days."""
import contextlib
import csv
import datetime as dt
import io

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import ConsentRecord, Site
from app.services.stats import overview, period, scan
from tests.conftest import IPS, from_ip, make_consent

ORIGIN = "https://shop.example"
T, F = True, False
# (place, method, gpc, decisions sent, policy version) -> the map the ledger stores, as
# (necessary, preferences, analytics, marketing): opt-in in DE and FR (and where no place is known),
# opt-out in California (GPC turns marketing, the sale-and-share purpose, off), notice in JP and New York.
DECISIONS = [
    ("DE", "accept_all", F, {}, "1", (T, T, T, T)),
    ("DE", "reject_all", F, {}, "1", (T, F, F, F)),
    ("DE", "custom", F, {"analytics": True, "marketing": False}, "2", (T, F, T, F)),
    ("FR", "dismiss", F, {}, "2", (T, F, F, F)),
    ("US-CA", "accept_all", T, {}, "1", (T, T, T, F)),
    ("US-CA", "custom", F, {"analytics": False}, "2", (T, T, F, T)),
    ("JP", "accept_all", F, {}, "2", (T, T, T, T)),
    ("private", "custom", F, {"analytics": True, "marketing": False}, "1", (T, F, T, F)),
    ("US-NY", "dismiss", F, {}, "1", (T, T, T, T)),
]
SLUGS = ("necessary", "preferences", "analytics", "marketing")
NO_METHODS = {"accept_all": 0, "reject_all": 0, "custom": 0, "dismiss": 0, "gpc": 0, "api": 0}


def publish_version_2(runner, site_key):
    r = runner.invoke(args=["policy", "publish", site_key, "--version", "2", "--url", "https://shop.example/p2"])
    assert r.exit_code == 0, r.output


def write(client, site_key, place="DE", **fields):
    """One decision from an address in `place`; the record's answer."""
    r = client.post("/api/v1/consents", json=make_consent(site_key, **fields),
                    headers=from_ip(IPS[place], Origin=ORIGIN))
    assert r.status_code == 201, r.json
    return r.json


def write_known_set(client, runner, site_key):
    """The DECISIONS, each checked against what the ledger stored; their answers."""
    publish_version_2(runner, site_key)
    answers = []
    for place, method, gpc, given, version, stored in DECISIONS:
        out = write(client, site_key, place, method=method, gpc=gpc, decisions=given, policy_version=version)
        assert out["decisions"] == dict(zip(SLUGS, stored)), (place, method, out["decisions"])
        answers.append(out)
    return answers


def rollup(runner, site_key=None):
    r = runner.invoke(args=["stats", "rollup", *([site_key] if site_key else []), "--lag", "0"])
    assert r.exit_code == 0, r.output
    return r.output


def stats(client, auth, **query):
    r = client.get("/api/v1/stats", query_string=query, headers=auth)
    assert r.status_code == 200, r.json
    return r.json


def rates(figures):
    return {p["purpose"]: (p["decided"], p["granted"]) for p in figures["purposes"]}


def by_key(groups):
    return {g["key"]: g for g in groups}


def site_id(app, site_key):
    with app.app_context():
        return db.session.execute(sa.select(Site.id).where(Site.site_key == site_key)).scalar_one()


def test_the_overview_counts_a_known_set_of_decisions_exactly(app, client, runner, site_ctx):
    site_key, _, auth = site_ctx
    answers = write_known_set(client, runner, site_key)
    assert "rolled up 9 record(s)" in rollup(runner, site_key)
    body = stats(client, auth)
    today = dt.datetime.now(dt.timezone.utc).date()
    assert body["from"] == (today - dt.timedelta(days=29)).isoformat() and body["to"] == today.isoformat()
    assert body["country"] is None and body["region"] is None
    totals = body["totals"]
    assert totals["key"] is None and totals["decisions"] == 9
    assert totals["methods"] == {**NO_METHODS, "accept_all": 3, "reject_all": 1, "custom": 3, "dismiss": 2}
    assert totals["method_shares"]["accept_all"] == 3 / 9 and totals["method_shares"]["api"] == 0
    assert totals["gpc"] == 1 and totals["gpc_share"] == 1 / 9
    assert rates(totals) == {"analytics": (9, 6), "marketing": (9, 4), "necessary": (9, 9), "preferences": (9, 5)}
    assert [p["opt_in_rate"] for p in totals["purposes"]] == [6 / 9, 4 / 9, 1.0, 5 / 9]  # by slug

    assert [(g["key"], g["decisions"]) for g in body["countries"]] == [
        ("DE", 3), ("US", 3), ("FR", 1), ("JP", 1), (None, 1)]  # most first; unknown last among equals
    de, us = by_key(body["countries"])["DE"], by_key(body["countries"])["US"]
    assert de["methods"] == {**NO_METHODS, "accept_all": 1, "reject_all": 1, "custom": 1}
    assert rates(de) == {"analytics": (3, 2), "marketing": (3, 1), "necessary": (3, 3), "preferences": (3, 1)}
    assert us["gpc"] == 1 and us["methods"] == {**NO_METHODS, "accept_all": 1, "custom": 1, "dismiss": 1}
    assert rates(us) == {"analytics": (3, 2), "marketing": (3, 2), "necessary": (3, 3), "preferences": (3, 3)}

    regions = by_key(body["regions"])
    assert regions["US-CA"]["decisions"] == 2 and regions["US-CA"]["gpc"] == 1
    assert rates(regions["US-CA"])["marketing"] == (2, 1)
    assert regions["US-NY"]["decisions"] == 1 and regions["DE-BE"]["decisions"] == 3
    placed = sorted(a["region"] for a in answers if a["region"])
    assert sorted(k for g in body["regions"] for k in [g["key"]] * g["decisions"]) == placed  # none without one

    assert [(g["key"], g["decisions"]) for g in body["policy_versions"]] == [("1", 5), ("2", 4)]
    assert rates(by_key(body["policy_versions"])["2"])["analytics"] == (4, 2)
    assert [(g["key"], g["decisions"]) for g in body["regimes"]] == [("opt_in", 5), ("notice", 2), ("opt_out", 2)]

    assert len(body["days"]) == 30 and body["days"][-1] == {
        "day": today.isoformat(), "decisions": 9, "gpc": 1,
        "methods": {**NO_METHODS, "accept_all": 3, "reject_all": 1, "custom": 3, "dismiss": 2}}
    assert all(d["decisions"] == 0 for d in body["days"][:-1])
    assert dt.datetime.fromisoformat(body["as_of"]) <= dt.datetime.now(dt.timezone.utc)


def test_the_rollups_equal_a_scan_of_the_ledger(app, client, runner, site_ctx):
    site_key, _, _ = site_ctx
    write_known_set(client, runner, site_key)
    rollup(runner)
    sid = site_id(app, site_key)
    today = dt.datetime.now(dt.timezone.utc).date()
    with app.app_context():
        for filters in ({}, {"country": "US"}, {"region": "US-CA"}, {"country": "DE", "region": "US-CA"}):
            span = period.period(None, None, today)
            rolled, scanned = overview.site_overview(sid, span, **filters), scan.scan_overview(sid, span, **filters)
            assert scan.differences(rolled, scanned) == [] and rolled == scanned, filters
        assert overview.site_overview(sid, span).totals.decisions == 9


def test_a_second_rollup_counts_nothing_twice_and_later_decisions_come_with_the_next(app, client, runner,
                                                                                      site_ctx):
    site_key, _, auth = site_ctx
    write_known_set(client, runner, site_key)
    rollup(runner, site_key)
    first = stats(client, auth)
    assert "rolled up 0 record(s)" in rollup(runner, site_key)
    again = stats(client, auth)
    assert again["totals"] == first["totals"] and again["countries"] == first["countries"]
    assert again["as_of"] >= first["as_of"]

    write(client, site_key, "JP", method="reject_all")
    assert stats(client, auth)["totals"]["decisions"] == 9  # not rolled up yet
    assert "rolled up 1 record(s)" in rollup(runner, site_key)
    after = stats(client, auth)
    assert after["totals"]["decisions"] == 10 and after["totals"]["methods"]["reject_all"] == 2
    assert by_key(after["countries"])["JP"]["decisions"] == 2


def test_figures_filter_by_country_and_region(client, runner, site_ctx):
    site_key, _, auth = site_ctx
    write_known_set(client, runner, site_key)
    rollup(runner, site_key)
    us = stats(client, auth, country="US")
    assert us["country"] == "US" and us["totals"]["decisions"] == 3 and [g["key"] for g in us["countries"]] == ["US"]
    assert [(g["key"], g["decisions"]) for g in us["regions"]] == [("US-CA", 2), ("US-NY", 1)]
    assert stats(client, auth, country="us")["totals"] == us["totals"]  # codes in either case
    ca = stats(client, auth, region="US-CA")
    assert ca["totals"]["decisions"] == 2 and rates(ca["totals"])["marketing"] == (2, 1)
    assert sum(d["decisions"] for d in ca["days"]) == 2
    assert stats(client, auth, country="DE", region="US-CA")["totals"]["decisions"] == 0


def test_the_overview_as_csv_by_accept_or_format(client, runner, site_ctx):
    site_key, _, auth = site_ctx
    write_known_set(client, runner, site_key)
    rollup(runner, site_key)
    for r in (client.get("/api/v1/stats", headers={**auth, "Accept": "text/csv"}),
              client.get("/api/v1/stats?format=csv", headers=auth)):
        assert r.status_code == 200 and r.mimetype == "text/csv"
        assert r.headers["Content-Disposition"] == 'attachment; filename="stats.csv"'
        rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
        total = rows[0]
        assert total["breakdown"] == "total" and total["decisions"] == "9" and total["accept_all"] == "3"
        assert total["gpc_signal"] == "1" and total["analytics_granted"] == "6" and total["marketing_decided"] == "9"
        assert float(total["preferences_opt_in_rate"]) == 5 / 9
        assert [r["breakdown"] for r in rows].count("day") == 30
        de = next(r for r in rows if r["breakdown"] == "country" and r["key"] == "DE")
        assert de["decisions"] == "3" and de["analytics_granted"] == "2"
        assert {r["key"] for r in rows if r["breakdown"] == "policy_version"} == {"1", "2"}
    assert client.get("/api/v1/stats", headers=auth).mimetype == "application/json"


def at(monkeypatch, when):
    """The ledger's clock shows `when` (a fake at the edge: the records are written as at that time)."""
    monkeypatch.setattr("app.ledger.portable.utcnow", lambda: when)
    monkeypatch.setattr("app.ledger.postgres.utcnow", lambda: when)


@contextlib.contextmanager
def rollup_runner(app):
    """A CLI runner to roll up with: on PostgreSQL, an app's whose sessions keep another time zone
    than UTC (a record's day is its UTC day whatever the server's TimeZone)."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        yield app.test_cli_runner()
        return
    options = {"connect_args": {"options": "-c TimeZone=Pacific/Kiritimati"}}  # UTC+14
    other = create_app({**app.config, "SQLALCHEMY_ENGINE_OPTIONS": options})
    try:
        yield other.test_cli_runner()
    finally:
        with other.app_context():
            db.engine.dispose()


def test_a_decision_counts_on_its_utc_day_and_in_its_month(app, client, runner, site_ctx, monkeypatch):
    """Either side of two midnights (the last of March, UTC), and periods read from day rows, month
    rows or both, give the same counts as the ledger's own times."""
    site_key, _, auth = site_ctx
    utc = dt.timezone.utc
    times = [dt.datetime(2026, 2, 27, 12, tzinfo=utc), dt.datetime(2026, 3, 1, tzinfo=utc),
             dt.datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=utc), dt.datetime(2026, 4, 1, tzinfo=utc),
             # 00:30 in Berlin, still the last of March in UTC
             dt.datetime(2026, 4, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))]
    for when in times:
        at(monkeypatch, when)
        write(client, site_key, "DE", method="accept_all")
    monkeypatch.undo()
    with rollup_runner(app) as far_east:
        rollup(far_east, site_key)
    body = stats(client, auth, **{"from": "2026-02-10", "to": "2026-04-05"})
    days = {d["day"]: d["decisions"] for d in body["days"] if d["decisions"]}
    assert days == {"2026-02-27": 1, "2026-03-01": 1, "2026-03-31": 2, "2026-04-01": 1}
    assert len(body["days"]) == 55 and body["totals"]["decisions"] == 5
    sid = site_id(app, site_key)
    for start, end, decisions in (("2026-02-10", "2026-04-05", 5), ("2026-03-01", "2026-03-31", 3),
                                  ("2026-03-02", "2026-03-31", 2), ("2026-03-01", "2026-03-30", 1),
                                  ("2026-03-31", "2026-03-31", 2), ("2026-04-01", "2026-04-01", 1),
                                  ("2026-03-02", "2026-03-30", 0), ("2026-01-01", "2026-04-30", 5),
                                  ("2025-12-15", "2026-12-31", 5)):
        got = stats(client, auth, **{"from": start, "to": end})
        assert got["totals"]["decisions"] == decisions, (start, end)
        assert sum(d["decisions"] for d in got["days"]) == decisions, (start, end)
        with app.app_context():
            span = period.period(dt.date.fromisoformat(start), dt.date.fromisoformat(end), dt.date.today())
            assert scan.differences(overview.site_overview(sid, span), scan.scan_overview(sid, span)) == []


def test_a_key_sees_its_own_sites_figures_only(client, runner, site_ctx, make_site):
    site_key, _, auth = site_ctx
    other_key, other_api_key = make_site(name="Other")
    write(client, site_key, "DE")
    write(client, other_key, "FR")
    write(client, other_key, "FR")
    rollup(runner)
    assert stats(client, auth)["totals"]["decisions"] == 1
    other = stats(client, {"Authorization": f"Bearer {other_api_key}"})
    assert other["totals"]["decisions"] == 2 and [g["key"] for g in other["countries"]] == ["FR"]
    assert client.get("/api/v1/stats").status_code == 401


def test_before_any_rollup_the_figures_are_empty_and_say_so(client, site_ctx):
    site_key, _, auth = site_ctx
    write(client, site_key, "DE")
    body = stats(client, auth)
    assert body["as_of"] is None and body["totals"]["decisions"] == 0 and body["countries"] == []


def test_erasure_leaves_the_counts_as_they_were(app, client, runner, site_ctx):
    """Anonymous counts: erasing a person's records keeps their decision fields, and the figures."""
    site_key, _, auth = site_ctx
    written = write(client, site_key, "DE", visitor_id="v-erase-stats-01", method="accept_all")
    write(client, site_key, "FR", method="reject_all")
    rollup(runner, site_key)
    before = stats(client, auth)
    r = client.post("/api/v1/subjects/erase", json={"visitor_id": "v-erase-stats-01"}, headers=auth)
    assert r.status_code == 200, r.json
    with app.app_context():
        assert db.session.execute(sa.select(ConsentRecord.erased_at).where(
            ConsentRecord.record_id == written["record_id"])).scalar() is not None
    rollup(runner, site_key)
    assert stats(client, auth)["totals"] == before["totals"]
    assert runner.invoke(args=["stats", "check", site_key]).exit_code == 0


@pytest.mark.parametrize("query, field", [
    ({"from": "2026-03-02", "to": "2026-03-01"}, "from"),  # starts after it ends
    ({"from": "2025-01-01", "to": "2026-02-05"}, "to"),  # 401 days
    ({"from": "2026-13-01"}, "from"),
    ({"from": "yesterday"}, "from"),
    ({"to": "2026-02-30"}, "to"),
    ({"country": "DEU"}, "country"),
    ({"region": "California"}, "region"),
    ({"format": "xml"}, "format"),
])
def test_a_period_or_filter_it_cannot_answer_is_a_422_in_the_error_shape(client, site_ctx, query, field):
    _, _, auth = site_ctx
    r = client.get("/api/v1/stats", query_string=query, headers=auth)
    assert r.status_code == 422, r.json
    body = r.json
    assert body["code"] == 422 and body["status"] == "Unprocessable Entity" and body["message"]
    named = body["errors"].get("query", body["errors"])  # the query's own fields, or the period's rule
    assert field in named, body


def test_four_hundred_days_are_answered(client, site_ctx):
    _, _, auth = site_ctx
    body = stats(client, auth, **{"from": "2025-01-01", "to": "2026-02-04"})
    assert len(body["days"]) == period.MAX_DAYS == 400
