"""Benchmark: the consent write and check paths against a hello-world route of the same app.

One command (`make bench`): a fresh PostgreSQL database on 127.0.0.1:5432 (user postgres, trust
auth, or BENCH_PG_URL), migrated; a site; gunicorn serving `wsgi:app` as in production
(OPSIQ_ENV=production, TRUSTED_PROXIES=1); wrk on loopback at 64 connections driving, one after
the other in the same run, `GET /healthz` (the floor), `POST /api/v1/consents` (addresses from
several countries through X-Forwarded-For) and `POST /api/v1/consent-checks`. Then the ledger is
grown to a million records (COPY) and sealed, and the same three run again. Also measured: a
batch check of 10,000 items and the export of the million-record ledger streamed (records/s),
with the gunicorn workers' peak resident memory. Results print as a table and are saved as JSON
in bench/out/. This is a script, not a test: figures depend on the machine.
"""
import argparse
import datetime as dt
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench import harness
from bench.harness import ROOT, Server, connect, cpu_ticks, flask, log, production_env

OUT = os.path.join(ROOT, "bench", "out")
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

# Public networks the embedded GeoLite2 places in opt-in, opt-out and notice regimes (DE, FR, GB,
# US-CA, US-NY, BR, JP, CA-QC); the last two octets vary per request.
NETWORKS = ["81.169", "2.2", "212.58", "128.32", "128.59", "200.147", "133.242", "132.204"]

WRK_LUA = r"""
local kind = os.getenv("BENCH_KIND")
local site_key = os.getenv("BENCH_SITE_KEY")
local api_key = os.getenv("BENCH_API_KEY")
local visitors = tonumber(os.getenv("BENCH_VISITORS"))
local nets = {%NETS%}
local purposes = {"analytics", "marketing", "preferences", "necessary"}
local counter = 0

function setup(thread)
  thread:set("tid", math.random(1, 1000000))
end

function init(args)
  math.randomseed(os.time() + tid)
end

local function hex(n)
  local t = {}
  for i = 1, n do t[i] = string.format("%x", math.random(0, 15)) end
  return table.concat(t)
end

function request()
  counter = counter + 1
  if kind == "hello" then
    return wrk.format("GET", "/healthz")
  elseif kind == "write" then
    local ip = nets[math.random(#nets)] .. "." .. math.random(0, 255) .. "." .. math.random(1, 254)
    local cid = hex(8) .. "-" .. hex(4) .. "-4" .. hex(3) .. "-8" .. hex(3) .. "-" .. hex(12)
    local v = math.random(0, visitors - 1)  -- each visitor's browser keeps one secret (the first write binds it)
    local body = '{"site_key":"' .. site_key .. '","visitor_id":"bench-v-' .. v ..
      '","visitor_secret":"bench-visitor-secret-' .. v .. '","client_record_id":"' .. cid .. '","decisions":{"analytics":' .. (math.random() < 0.5 and "true" or "false") ..
      ',"marketing":false},"method":"custom","language":"en","page_url":"https://bench.example/p/' .. counter .. '"}'
    return wrk.format("POST", "/api/v1/consents", {["Content-Type"] = "text/plain;charset=UTF-8",
      ["X-Forwarded-For"] = ip, ["Origin"] = "https://bench.example", ["User-Agent"] = "Mozilla/5.0 (bench) wrk"}, body)
  else
    local body = '{"visitor_id":"bench-v-' .. math.random(0, visitors - 1) .. '","purpose":"' ..
      purposes[math.random(#purposes)] .. '"}'
    return wrk.format("POST", "/api/v1/consent-checks", {["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. api_key}, body)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"errors":%d,"status_errors":%d}\n', summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), latency.max, e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def ensure_wrk():
    """wrk from Debian's package; installed with apt-get when missing (root or passwordless sudo)."""
    if shutil.which("wrk"):
        return shutil.which("wrk")
    log("wrk not found: installing Debian's `wrk` package")
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    subprocess.run(prefix + ["apt-get", "install", "-y", "-q", "wrk"], check=False)
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    return shutil.which("wrk")


def psycopg_connect(dbname=None, autocommit=True):
    return connect(PG_URL, dbname, autocommit)


def create_database():
    return harness.create_database(PG_URL)


def drop_database(name):
    harness.drop_database(PG_URL, name)


def cpu_per_request(before, after, app_pids, requests):
    """CPU milliseconds per request spent in the app's workers and in PostgreSQL between two samples."""
    hz = os.sysconf("SC_CLK_TCK")
    split = {"app_ms": 0.0, "postgres_ms": 0.0}
    for pid, (comm, ticks) in after.items():
        used = ticks - before.get(pid, (comm, 0))[1]
        key = "app_ms" if pid in app_pids else "postgres_ms" if comm.startswith("postgres") else None
        if key:
            split[key] += used / hz * 1000 / max(requests, 1)
    return split


def run_wrk(wrk, port, kind, site_key, api_key, visitors, seconds, connections, script, app_pids=()):
    env = dict(os.environ, BENCH_KIND=kind, BENCH_SITE_KEY=site_key, BENCH_API_KEY=api_key,
               BENCH_VISITORS=str(visitors))
    before = cpu_ticks()
    out = subprocess.run([wrk, "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", script,
                          f"http://127.0.0.1:{port}"], env=env, capture_output=True, text=True)
    after = cpu_ticks()
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        sys.exit(f"wrk failed:\n{out.stdout}\n{out.stderr}")
    r = json.loads(line[6:])
    return {"kind": kind, "rps": r["requests"] / (r["duration_us"] / 1e6), "p50_ms": r["p50_us"] / 1000,
            "p99_ms": r["p99_us"] / 1000, "max_ms": r["max_us"] / 1000, "requests": r["requests"],
            "errors": r["errors"] + r["status_errors"],
            **cpu_per_request(before, after, set(app_pids), r["requests"])}


def site_id_of(dbname, site_key):
    with psycopg_connect(dbname) as conn:
        return conn.execute("SELECT id FROM sites WHERE site_key = %s", (site_key,)).fetchone()[0]


def ledger_size(dbname):
    with psycopg_connect(dbname) as conn:
        return conn.execute("SELECT count(*) FROM consent_records").fetchone()[0]


def grow_ledger(dbname, site_id, target, visitors):
    """COPY records with realistic columns up to `target` rows (hashes are random, not recomputed)."""
    have = ledger_size(dbname)
    n = target - have
    if n <= 0:
        return
    log(f"growing the ledger from {have:,} to {target:,} records (COPY)")
    cols = ("record_id", "site_id", "visitor_id", "client_record_id", "event", "method", "decisions", "created_at",
            "expires_at", "config_hash", "policy_version", "policy_url", "language", "regime", "country", "region",
            "geoip_build", "ip_truncated", "user_agent", "page_url", "gpc", "prev_record_id", "source", "record_hash")
    places = [("DE", "DE-BE", "opt_in", "81.169.145.0"), ("US", "US-CA", "opt_out", "128.32.0.0"),
              ("JP", "JP-13", "notice", "133.242.0.0"), ("FR", "FR-IDF", "opt_in", "2.2.2.0")]
    decisions = [json.dumps({"necessary": True, "analytics": a, "marketing": m, "preferences": p})
                 for a in (True, False) for m in (True, False) for p in (True, False)]
    config_hash = hashlib.sha256(b"bench").hexdigest()
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=150)
    step = dt.timedelta(days=149) / n
    build = dt.date(2018, 7, 3)
    rnd = random.Random(target)  # another seed per size: record ids must not repeat
    with psycopg_connect(dbname, autocommit=False) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY consent_records ({', '.join(cols)}) FROM STDIN") as copy:
                for i in range(n):
                    created = start + step * i
                    c, r, regime, ip = places[i & 3]
                    copy.write_row((
                        str(uuid.UUID(int=rnd.getrandbits(128), version=4)), site_id,
                        f"bench-v-{rnd.randrange(visitors) if i % 10 else i % visitors}", None,
                        "given", "custom", decisions[i & 7], created, created + dt.timedelta(days=180), config_hash,
                        "1", "https://bench.example/privacy", "en", regime, c, r, build, ip,
                        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
                        f"https://bench.example/p/{i}", False, None, "browser", "%064x" % rnd.getrandbits(256),
                    ))
        conn.commit()
    with psycopg_connect(dbname) as conn:
        conn.execute("VACUUM ANALYZE consent_records")


def post_json(port, path, body, api_key, timeout=120):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = json.dumps(body).encode()
    t = time.perf_counter()
    c.request("POST", path, data, {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"})
    resp = c.getresponse()
    payload = resp.read()
    took = time.perf_counter() - t
    post_json.server_ms = None
    timing = re.search(r"app;dur=([0-9.]+)", resp.getheader("Server-Timing") or "")
    if timing:
        post_json.server_ms = float(timing.group(1))
    return resp.status, took, payload


def bench_batch(port, api_key, visitors, runs=7):
    """Median time of a 10,000-item batch check: on loopback, and the server's own (Server-Timing)."""
    rnd = random.Random(1)
    items = [{"visitor_id": f"bench-v-{rnd.randrange(visitors * 2)}",
              "purpose": rnd.choice(("analytics", "marketing", "preferences"))} for _ in range(10_000)]
    times, server = [], []
    for _ in range(runs):
        status, took, payload = post_json(port, "/api/v1/consent-checks/batch", {"items": items}, api_key)
        if status != 200:
            sys.exit(f"batch check failed: {status} {payload[:300]}")
        times.append(took)
        server.append(post_json.server_ms)
    assert len(json.loads(payload)["results"]) == 10_000
    return {"items": 10_000, "median_ms": statistics.median(times) * 1000, "best_ms": min(times) * 1000,
            "server_median_ms": statistics.median(server) if None not in server else None}


def bench_export(server, api_key, limit):
    """Stream the whole ledger as JSON; records/s and the workers' peak RSS before and after."""
    before = server.peak_rss_mb()
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    t = time.perf_counter()
    c.request("GET", f"/api/v1/consents?limit={limit}", headers={"Authorization": f"Bearer {api_key}"})
    resp = c.getresponse()
    if resp.status != 200:
        sys.exit(f"export failed: {resp.status} {resp.read()[:300]}")
    size = records = 0
    tail = b""
    while True:
        chunk = resp.read(1 << 20)
        if not chunk:
            break
        size += len(chunk)
        records += (tail[-12:] + chunk).count(b'{"record_id"')  # 12 bytes of overlap: none split, none twice
        tail = chunk[-200:]
    took = time.perf_counter() - t
    return {"records": records, "seconds": took, "records_per_s": records / took, "mb": size / 1e6,
            "worker_peak_rss_mb_before": before, "worker_peak_rss_mb_after": server.peak_rss_mb(),
            "complete": tail.rstrip().endswith(b"}")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of (hello, write, check); medians are kept")
    ap.add_argument("--connections", type=int, default=64)
    # production's settings (gunicorn.conf.py: gevent, one worker per core) unless told otherwise
    ap.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", 0)) or (os.cpu_count() or 2))
    ap.add_argument("--worker-class", default=os.environ.get("BENCH_WORKER_CLASS"),
                    help="gunicorn worker class instead of gunicorn.conf.py's (sync, gthread, gevent)")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", 1)),
                    help="gunicorn threads per worker (gthread when > 1)")
    ap.add_argument("--small", type=int, default=10_000, help="first ledger size")
    ap.add_argument("--large", type=int, default=1_000_000, help="second ledger size (0: skip)")
    # few enough that nearly every visitor already has records at the small size too: checks at both
    # sizes then do the same work (a found record), and only the ledger's size differs
    ap.add_argument("--visitors", type=int, default=2_000, help="distinct visitor ids")
    ap.add_argument("--keep-db", action="store_true", help="leave the database for inspection")
    ap.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL"),
                    help="REDIS_URL for the server: rate limit counters (and cache changes) shared through it")
    ap.add_argument("--no-limits", action="store_true", help="RATE_LIMITS=0: measure without rate limits")
    args = ap.parse_args()

    wrk = ensure_wrk()
    os.makedirs(OUT, exist_ok=True)
    dbname = create_database()
    log(f"database {dbname}")
    env = production_env(harness.app_database_url(PG_URL, dbname))
    # limits on (each write and check is counted) at production's browser default; the one API
    # key of the check runs would pass the server default, so its limit is set out of reach
    env.update(RATE_LIMITS="0" if args.no_limits else "1", RATE_LIMIT_BROWSER="600/minute",
               RATE_LIMIT_SERVER="100000000/minute")
    if args.redis:
        env["REDIS_URL"] = args.redis
    script = os.path.join(tempfile.mkdtemp(prefix="opsiq-bench-"), "bench.lua")
    with open(script, "w") as f:
        f.write(WRK_LUA.replace("%NETS%", ", ".join(f'"{n}"' for n in NETWORKS)))
    results = {"started": dt.datetime.now(dt.timezone.utc).isoformat(), "cpus": os.cpu_count(),
               "workers": args.workers, "worker_class": worker_kind(args), "threads": args.threads, "connections": args.connections,
               "seconds": args.seconds, "rounds": args.rounds, "runs": {},
               "rate_limits": "off" if args.no_limits else ("Redis" if args.redis else "in memory, per worker"),
               "limit_cost_us": limit_cost(args.redis)}
    server = None
    try:
        flask(env, "db", "upgrade")
        creds = json.loads(flask(env, "sites", "create", "--name", "Bench", "--origin", "https://bench.example",
                                 "--json"))
        site_key, api_key = creds["site_key"], creds["api_key"]
        site_id = site_id_of(dbname, site_key)
        for size in [n for n in (args.small, args.large) if n]:
            grow_ledger(dbname, site_id, size, args.visitors)
            log("sealing the ledger (as `flask ledger seal` would have done all along)")
            flask(env, "ledger", "seal", "--lag", "0")
            with psycopg_connect(dbname) as conn:  # write the bulk load's WAL out now, not during the runs
                conn.execute("CHECKPOINT")
            actual = ledger_size(dbname)
            server = Server(env, args.workers, args.threads, args.worker_class)
            log(f"ledger {actual:,} records; gunicorn {args.workers} {worker_kind(args)} worker(s) on :{server.port}")
            for kind in ("hello", "write", "check"):
                # a short warm-up so every worker has its connections, caches and GeoIP reader open
                run_wrk(wrk, server.port, kind, site_key, api_key, args.visitors, 2, args.connections, script)
            # rounds of hello, write, check side by side, so a noisy neighbour hits all three alike;
            # each kind keeps its median round (by req/s)
            rounds = {"hello": [], "write": [], "check": []}
            for i in range(args.rounds):
                for kind in rounds:
                    r = run_wrk(wrk, server.port, kind, site_key, api_key, args.visitors, args.seconds,
                                args.connections, script, server.worker_pids() + [server.proc.pid])
                    log(f"round {i + 1} {kind:6} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.1f} ms  "
                        f"p99 {r['p99_ms']:6.1f} ms  errors {r['errors']}  CPU/request: app {r['app_ms']:.2f} ms, "
                        f"PostgreSQL {r['postgres_ms']:.2f} ms")
                    rounds[kind].append(r)
            run = {}
            for kind, rs in rounds.items():
                ranked = sorted(rs, key=lambda r: r["rps"])
                run[kind] = dict(ranked[len(ranked) // 2], rounds=[round(r["rps"]) for r in rs],
                                 errors=sum(r["errors"] for r in rs))
            for kind in ("write", "check"):
                run[kind]["ratio"] = run[kind]["rps"] / run["hello"]["rps"]
            run["ledger_records"] = actual
            run["batch"] = bench_batch(server.port, api_key, args.visitors)
            log(f"batch of 10,000: median {run['batch']['median_ms']:.0f} ms, server {run['batch']['server_median_ms']} ms")
            if size == args.large:
                total = ledger_size(dbname)
                run["export"] = bench_export(server, api_key, min(total, 1_000_000))
                log(f"export: {run['export']['records']:,} records at {run['export']['records_per_s']:,.0f}/s")
            server.stop()
            server = None
            results["runs"][str(size)] = run
    finally:
        if server:
            server.stop()
        if not args.keep_db:
            drop_database(dbname)
    path = os.path.join(OUT, f"results-{time.strftime('%Y%m%d-%H%M%S')}.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
    print_table(results)
    print(f"\nsaved {path}")


def limit_cost(redis_url, calls=20_000):
    """Microseconds one rate-limit count takes in process (app/ratelimits.py), per store."""
    from app import create_app
    from app.extensions import rate_limits

    stores = {"memory": None, **({"Redis": redis_url} if redis_url else {})}
    out = {}
    for name, url in stores.items():
        app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": url, "CACHE_CHANNEL": "",
                          "RATE_LIMIT_BROWSER": "100000000/minute"})
        with app.app_context():
            start = time.perf_counter()
            for i in range(calls):
                rate_limits.browser(f"81.169.{i % 250}.{i % 199}", "bench-site")
            out[name] = (time.perf_counter() - start) / calls * 1e6
    return out


def worker_kind(args):
    if args.threads > 1:
        return f"gthread x {args.threads} threads"
    return args.worker_class or "gevent (gunicorn.conf.py)"


def print_table(results):
    runs = results["runs"]
    sizes = list(runs)
    print(f"\nOpsIQ Consent benchmark: {results['cpus']} CPUs, gunicorn {results['workers']} "
          f"{results.get('worker_class', 'sync')} worker(s), wrk {results['connections']} connections, median of {results['rounds']} "
          f"rounds of {results['seconds']} s\n")
    cost = results.get("limit_cost_us") or {}
    print(f"rate limits: {results.get('rate_limits')}; counting one call costs "
          + ", ".join(f"{us:.1f} us ({store})" for store, us in cost.items()) + " in process\n")
    print(f"{'ledger':>10} {'route':<28} {'req/s':>8} {'x hello':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>7}"
          f" {'app CPU ms/req':>15} {'PG CPU ms/req':>14}")
    names = {"hello": "GET /healthz", "write": "POST /api/v1/consents", "check": "POST /api/v1/consent-checks"}
    for size in sizes:
        run = runs[size]
        for kind in ("hello", "write", "check"):
            r = run[kind]
            ratio = f"{r['ratio']:.2f}" if "ratio" in r else "1.00"
            print(f"{run['ledger_records']:>10,} {names[kind]:<28} {r['rps']:>8.0f} {ratio:>8} {r['p50_ms']:>7.1f} "
                  f"{r['p99_ms']:>7.1f} {r['errors']:>7} {r.get('app_ms', 0):>15.2f} {r.get('postgres_ms', 0):>14.2f}")
    if len(sizes) == 2:
        a, b = runs[sizes[0]], runs[sizes[1]]
        # the raw ratio moves with the machine (a shared host drifts between phases); the ratio of the
        # x-hello figures compares each size against its own hello-world, measured beside it
        for kind in ("write", "check"):
            print(f"{'':>10} {names[kind] + ' at large/small':<28} {b[kind]['rps'] / a[kind]['rps']:>8.2f} raw, "
                  f"{b[kind]['ratio'] / a[kind]['ratio']:.2f} against hello-world at each size")
    print()
    for size in sizes:
        bt = runs[size]["batch"]
        server = f"; server time median {bt['server_median_ms']:.0f} ms" if bt.get("server_median_ms") else ""
        print(f"batch check of 10,000 items, ledger {runs[size]['ledger_records']:,}: median {bt['median_ms']:.0f} ms, "
              f"best {bt['best_ms']:.0f} ms (loopback round trip){server}")
    ex = runs[sizes[-1]].get("export")
    if ex:
        print(f"export of {ex['records']:,} records (JSON, streamed): {ex['records_per_s']:,.0f} records/s, "
              f"{ex['mb']:.0f} MB in {ex['seconds']:.1f} s; worker peak RSS {ex['worker_peak_rss_mb_before']:.0f} MB "
              f"before, {ex['worker_peak_rss_mb_after']:.0f} MB after")


if __name__ == "__main__":
    main()
