"""Benchmark: the owner's overview and a consent-log search on a site with ten million records.

One command (`make bench-overview`): a fresh PostgreSQL database on 127.0.0.1:5432 (user postgres,
trust auth, or BENCH_PG_URL), migrated; a site with policy versions 1 to 3; its ledger bulk-loaded
(COPY, its indexes built after the load as a restore would) with --records records over ~400 days,
from 30 countries and their regions (US-CA style), by four methods, some with a GPC signal, under
the three policy versions in turn. Then `flask stats rollup` counts them (its rate: records/s),
and gunicorn serving `wsgi:app` as in production answers, each several times: the overview
(GET /api/v1/stats) for the last 30 and the last 365 days, and a consent-log search by visitor id
(GET /api/v1/consents?visitor_id=..., the route the dashboard's log uses). The server's own time
(Server-Timing) and the HTTP call's, median and max, print as a table. A script, not a test:
figures depend on the machine (the development one has 2 cores, shared).
"""
import argparse
import datetime as dt
import hashlib
import http.client
import json
import os
import random
import re
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from app.services.regimes import decide_regime
from bench import harness
from bench.harness import Server, connect, flask, log, production_env

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DAYS = 400
PURPOSES = ("necessary", "preferences", "analytics", "marketing")  # every new site's
# (country, its regions as GeoIP names them, share of the traffic in percent)
PLACES = [
    ("US", ["US-CA", "US-NY", "US-TX", "US-FL", "US-WA", "US-IL", "US-CO", "US-VA"], 20),
    ("DE", ["DE-BE", "DE-BY", "DE-NW", "DE-HE"], 12), ("GB", ["GB-ENG", "GB-SCT"], 8), ("FR", ["FR-IDF", "FR-ARA"], 7),
    ("CA", ["CA-QC", "CA-ON", "CA-BC"], 4), ("BR", ["BR-SP", "BR-RJ"], 4), ("JP", ["JP-13", "JP-27"], 4),
    ("IT", ["IT-MI", "IT-RM"], 4), ("ES", ["ES-MD", "ES-CT"], 4), ("NL", ["NL-NH"], 3), ("PL", ["PL-14"], 2),
    ("SE", ["SE-AB"], 2), ("AT", ["AT-9"], 2), ("BE", ["BE-BRU"], 2), ("CH", ["CH-ZH", "CH-GE"], 2),
    ("DK", ["DK-84"], 1), ("FI", ["FI-18"], 1), ("NO", ["NO-03"], 1), ("IE", ["IE-L"], 1), ("PT", ["PT-11"], 1),
    ("CZ", ["CZ-10"], 1), ("RO", ["RO-B"], 1), ("HU", ["HU-BU"], 1), ("GR", ["GR-I"], 1), ("AU", ["AU-NSW"], 2),
    ("IN", ["IN-MH", "IN-KA"], 3), ("MX", ["MX-CMX"], 2), ("SG", [], 1), ("KR", ["KR-11"], 1), ("ZA", ["ZA-GP"], 1),
]
METHODS = (("accept_all", 50), ("reject_all", 25), ("custom", 15), ("dismiss", 10))
COLUMNS = ("record_id", "site_id", "visitor_id", "client_record_id", "event", "method", "decisions", "created_at",
           "expires_at", "config_hash", "policy_version", "policy_url", "language", "regime", "country", "region",
           "geoip_build", "ip_truncated", "user_agent", "page_url", "gpc", "prev_record_id", "source", "record_hash")


def weighted(pairs):
    """A list to draw from uniformly that holds each item as often as its weight says."""
    return [item for item, weight in pairs for _ in range(weight)]


def decision_map(method, regime, gpc, rnd):
    """A decision map as the write path would store it (app/ledger/rules.resolve_decisions, simplified)."""
    if method == "accept_all":
        out = {p: True for p in PURPOSES}
    elif method == "reject_all" or (method == "dismiss" and regime == "opt_in"):
        out = {p: p == "necessary" for p in PURPOSES}
    elif method == "dismiss":
        out = {p: True for p in PURPOSES}
    else:
        out = {p: p == "necessary" or rnd.random() < 0.5 for p in PURPOSES}
    if gpc:
        out["marketing"] = False  # the sale-and-share purpose
    return out


def policy_for(day, rnd):
    """Version 1, 2 and 3 in turn over the 400 days; a tenth of the visitors keep the previous
    version for a month after each change."""
    version = 1 + min(day * 3 // DAYS, 2)
    since = day - (version - 1) * DAYS // 3
    if version > 1 and since < 30 and rnd.random() < 0.1:
        version -= 1
    return str(version)


def bulk_records(site_id, n, visitors, seed=1):
    """Yield the ledger's rows as COPY text, in time order over the last DAYS days."""
    rnd = random.Random(seed)
    # a country's share split evenly between its regions (in tenths of a percent)
    places = weighted([((country, region), max(1, share * 10 // max(1, len(regions))))
                       for country, regions, share in PLACES for region in (regions or [None])])
    regimes = {(c, r): decide_regime(c, r).regime for c, r in places}
    methods = weighted(METHODS)
    maps = {}
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    start = now - dt.timedelta(days=DAYS)
    step = (now - start) / n
    config_hash = hashlib.sha256(b"bench").hexdigest()
    ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
    for i in range(n):
        created = start + step * i
        country, region = places[rnd.randrange(len(places))] if rnd.random() > 0.01 else (None, None)
        regime = regimes.get((country, region), "opt_in")  # no place known: the strictest
        method = methods[rnd.randrange(len(methods))]
        gpc = country == "US" and rnd.random() < 0.3
        decisions = decision_map(method, regime, gpc, rnd)
        key = json.dumps(decisions)
        text = maps.setdefault(key, key)
        granted = any(v for k, v in decisions.items() if k != "necessary")
        day = (created - start).days
        ip = f"10.{i % 250}.{i % 199}.0"
        yield "\t".join((
            str(uuid.UUID(int=rnd.getrandbits(128), version=4)), str(site_id), f"bench-v-{rnd.randrange(visitors)}",
            "\\N", "given" if granted else "refused", method, text, created.isoformat(),
            (created + dt.timedelta(days=180)).isoformat(), config_hash, policy_for(day, rnd),
            "https://bench.example/privacy", "en", regime, country or "\\N", region or "\\N", "2018-07-03", ip, ua,
            f"https://bench.example/p/{i % 1000}", "t" if gpc else "f", "\\N", "browser",
            "%064x" % rnd.getrandbits(256),
        )) + "\n"


def load_ledger(dbname, site_id, n, visitors):
    """COPY n records into consent_records with its secondary indexes dropped, then build them again
    (the same definitions, read from the catalogue) and VACUUM ANALYZE: as a restore loads a table."""
    with connect(PG_URL, dbname) as conn:
        constraints = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'consent_records'::regclass"
            " AND contype = 'u'").fetchall()
        indexes = conn.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
            " WHERE x.indrelid = 'consent_records'::regclass AND NOT x.indisprimary"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)").fetchall()
        for name, _ in constraints:
            conn.execute(f'ALTER TABLE consent_records DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
    started = time.perf_counter()
    with connect(PG_URL, dbname, autocommit=False) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY consent_records ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                chunk = []
                for i, line in enumerate(bulk_records(site_id, n, visitors)):
                    chunk.append(line)
                    if len(chunk) == 20_000:
                        copy.write("".join(chunk))
                        chunk.clear()
                    if i and i % 1_000_000 == 0:
                        log(f"  {i:,} records")
                copy.write("".join(chunk))
        conn.commit()
    log(f"loaded {n:,} records in {time.perf_counter() - started:.0f} s; building the indexes")
    with connect(PG_URL, dbname) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        for name, definition in constraints:
            conn.execute(f'ALTER TABLE consent_records ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            conn.execute(definition)
        conn.execute("VACUUM ANALYZE consent_records")


def get(port, path, api_key):
    """(status, seconds, server milliseconds or None, body) of a GET with the site's key."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    c.request("GET", path, headers={"Authorization": f"Bearer {api_key}"})
    resp = c.getresponse()
    body = resp.read()
    took = time.perf_counter() - started
    timing = re.search(r"app;dur=([0-9.]+)", resp.getheader("Server-Timing") or "")
    return resp.status, took, float(timing.group(1)) if timing else None, body


def measure(port, api_key, paths, label):
    """Each path in turn (after a warm-up call); the HTTP call's and the server's milliseconds."""
    get(port, paths[0], api_key)
    calls, server = [], []
    for path in paths:
        status, took, server_ms, body = get(port, path, api_key)
        if status != 200:
            sys.exit(f"{label}: {status} {body[:300]}")
        calls.append(took * 1000)
        if server_ms is not None:
            server.append(server_ms)
    row = {"what": label, "runs": len(paths), "http_median_ms": statistics.median(calls), "http_max_ms": max(calls),
           "server_median_ms": statistics.median(server) if server else None,
           "server_max_ms": max(server) if server else None}
    log(f"{label}: HTTP median {row['http_median_ms']:.1f} ms, max {row['http_max_ms']:.1f} ms"
        + (f"; server median {row['server_median_ms']:.1f} ms, max {row['server_max_ms']:.1f} ms" if server else ""))
    return row, body


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=10_000_000)
    ap.add_argument("--visitors", type=int, default=0, help="distinct visitor ids (default: a quarter of --records)")
    ap.add_argument("--runs", type=int, default=9, help="calls of each kind")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--keep-db", action="store_true", help="leave the database for inspection")
    args = ap.parse_args()
    visitors = args.visitors or max(1, args.records // 4)
    dbname = harness.create_database(PG_URL, prefix="opsiq_bench_overview")
    log(f"database {dbname}")
    env = production_env(harness.app_database_url(PG_URL, dbname))
    env.update(RATE_LIMIT_SERVER="100000000/minute")
    server = None
    try:
        flask(env, "db", "upgrade")
        creds = json.loads(flask(env, "sites", "create", "--name", "Bench", "--origin", "https://bench.example",
                                 "--json"))
        site_key, api_key = creds["site_key"], creds["api_key"]
        for version in ("2", "3"):
            flask(env, "policy", "publish", site_key, "--version", version, "--url", "https://bench.example/privacy")
        with connect(PG_URL, dbname) as conn:
            site_id = conn.execute("SELECT id FROM sites WHERE site_key = %s", (site_key,)).fetchone()[0]
        log(f"bulk-loading {args.records:,} records ({visitors:,} visitors)")
        load_ledger(dbname, site_id, args.records, visitors)

        log("flask stats rollup")
        started = time.perf_counter()
        out = flask(env, "stats", "rollup", site_key, "--lag", "0")
        rollup_s = time.perf_counter() - started
        counted = int(re.search(r"rolled up (\d+) record", out).group(1))
        log(f"rolled up {counted:,} records in {rollup_s:.1f} s: {counted / rollup_s:,.0f} records/s")
        with connect(PG_URL, dbname) as conn:
            rows = conn.execute("SELECT (SELECT count(*) FROM consent_rollups),"
                                " (SELECT count(*) FROM consent_purpose_rollups)").fetchone()
            conn.execute("VACUUM ANALYZE consent_rollups")  # what autovacuum does after a load
            conn.execute("VACUUM ANALYZE consent_purpose_rollups")
        log(f"rollup rows: {rows[0]:,} counts, {rows[1]:,} purpose counts")

        server = Server(env, args.workers)
        today = dt.datetime.now(dt.timezone.utc).date()
        results = []
        for days in (30, 365):
            start = today - dt.timedelta(days=days - 1)
            path = f"/api/v1/stats?from={start}&to={today}"
            row, body = measure(server.port, api_key, [path] * args.runs, f"overview, last {days} days")
            row["decisions"] = json.loads(body)["totals"]["decisions"]
            results.append(row)
        rnd = random.Random(7)
        paths = [f"/api/v1/consents?visitor_id=bench-v-{rnd.randrange(visitors)}" for _ in range(args.runs)]
        row, body = measure(server.port, api_key, paths, "consent log: search by visitor id")
        row["decisions"] = len(json.loads(body)["records"])
        results.append(row)
    finally:
        if server:
            server.stop()
        if not args.keep_db:
            harness.drop_database(PG_URL, dbname)
    print(f"\nOpsIQ Consent overview benchmark: {os.cpu_count()} CPUs, {args.records:,} records over {DAYS} days, "
          f"gunicorn {args.workers} worker(s), {args.runs} calls each\n")
    print(f"rollup: {counted:,} records in {rollup_s:.1f} s = {counted / rollup_s:,.0f} records/s; "
          f"{rows[0]:,} count rows, {rows[1]:,} purpose count rows\n")
    print(f"{'':<36} {'server median':>14} {'server max':>11} {'HTTP median':>12} {'HTTP max':>9} {'records':>10}")
    for r in results:
        server_median = f"{r['server_median_ms']:.1f} ms" if r["server_median_ms"] is not None else "-"
        server_max = f"{r['server_max_ms']:.1f} ms" if r["server_max_ms"] is not None else "-"
        print(f"{r['what']:<36} {server_median:>14} {server_max:>11} {r['http_median_ms']:>9.1f} ms "
              f"{r['http_max_ms']:>6.1f} ms {r['decisions']:>10,}")
    print("\n(server: Server-Timing, the view's own time; the consent log sends none, so only its HTTP call is timed."
          " records: decisions counted, or records found)")


if __name__ == "__main__":
    main()
