"""Benchmark: the consent write and check paths against a hello-world route of the same app.

One command (`make bench`): a fresh PostgreSQL database on 127.0.0.1:5432 (user postgres, trust
auth, or BENCH_PG_URL), migrated; a site; gunicorn serving `wsgi:app` as in production
(OPSIQ_ENV=production, TRUSTED_PROXIES=1); wrk on loopback at 64 connections driving, one after
the other in the same run, `GET /healthz` (the floor), `POST /api/v1/consents` (addresses from
several countries through X-Forwarded-For) and `POST /api/v1/consent-checks`. Then the ledger is
grown to a million records (COPY) and sealed, and the same three run again. Also measured: a
batch check of 10,000 items and the export of the million-record ledger streamed (records/s),
with the gunicorn workers' peak resident memory.

Last, writes during a retention purge (`--purge N`, 500,000 by default; 0 skips it). A site of
its own (the first site's grown ledger has random hashes, which verify would name) gets N records
COPY'd with real hashes, dated past its retention_days and long expired (so none is a decision in
force), from the visitors the writes come from, and sealed (`flask ledger seal SITE --lag 0`). On
a fresh gunicorn, one normal write round of --seconds to that site; then `flask retention purge
SITE` starts as a subprocess (non-tty: its summary line) and the same write round runs until it
exits (wrk stopped by SIGINT; at most PURGE_BOUND, 300 s). Printed: the purge's records/s over the
command's wall time and its CPU (Python, and its PostgreSQL backend's), write req/s and p99 in both
rounds with their ratios, the share of the CPUs busy, and what the app's backends waited on in each
(pg_stat_activity every 50 ms: a lock, above all one the purge holds, would be the stall the purge
must not cause). The run fails unless the purge removed exactly the N old records, no write failed
and `flask ledger verify SITE` passes after it (its line is printed).

Results print as a table and are saved as JSON in bench/out/. This is a script, not a test:
figures depend on the machine.
"""
import argparse
import datetime as dt
import hashlib
import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench import harness
from bench.harness import ROOT, Server, connect, cpu_ticks, flask, log, process_ticks, production_env

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
local build = os.getenv("BENCH_WIDGET_BUILD")
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
      ',"marketing":false},"method":"custom","language":"en","page_url":"https://bench.example/p/' .. counter ..
      '","widget_build":"' .. build .. '"}'
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


def machine_jiffies():
    """(busy, all) clock ticks of every CPU since boot (/proc/stat): the machine's load over a run, whoever ran."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:8]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)  # less idle and iowait


def served_build(port, site_key):
    """The widget build a visitor's configuration names (its first serving notes it as served)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", f"/api/v1/sites/{site_key}/config", headers={"Origin": "https://bench.example"})
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    return body["widget_build"]


def start_wrk(wrk, port, kind, site_key, api_key, visitors, seconds, connections, script):
    """wrk running in the background for `seconds` (SIGINT ends it sooner, and it still reports)."""
    env = dict(os.environ, BENCH_KIND=kind, BENCH_SITE_KEY=site_key, BENCH_API_KEY=api_key,
               BENCH_VISITORS=str(visitors))
    before = cpu_ticks(), machine_jiffies()
    proc = subprocess.Popen([wrk, "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", script,
                             f"http://127.0.0.1:{port}"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    return proc, before, kind


def finish_wrk(started, app_pids=(), stop=False):
    """Wait for a start_wrk run (SIGINT first if `stop`); its figures."""
    proc, (before, (busy, total)), kind = started
    if stop and proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate()
    after, (busy_after, total_after) = cpu_ticks(), machine_jiffies()
    line = next((ln for ln in stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        sys.exit(f"wrk failed:\n{stdout}\n{stderr}")
    r = json.loads(line[6:])
    return {"kind": kind, "rps": r["requests"] / (r["duration_us"] / 1e6), "p50_ms": r["p50_us"] / 1000,
            "p99_ms": r["p99_us"] / 1000, "max_ms": r["max_us"] / 1000, "requests": r["requests"],
            "seconds": r["duration_us"] / 1e6, "errors": r["errors"] + r["status_errors"],
            "machine_busy": (busy_after - busy) / max(total_after - total, 1),
            **cpu_per_request(before, after, set(app_pids), r["requests"])}


def run_wrk(wrk, port, kind, site_key, api_key, visitors, seconds, connections, script, app_pids=()):
    return finish_wrk(start_wrk(wrk, port, kind, site_key, api_key, visitors, seconds, connections, script), app_pids)


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
    load_records(dbname, site_id, n, visitors, seed=target)  # another seed per size: record ids must not repeat


def load_records(dbname, site_id, n, visitors, seed, days_ago=0, verifiable=False):
    """COPY `n` records of the site, dated over 149 days up to `days_ago` + 1 days ago, each valid for
    180 days, among `visitors` visitor ids. With `verifiable`, each has a salt, personal digest and
    record hash by the ledger's rules (app/ledger/rules.py), so `flask ledger verify` passes (about
    17 us a record); otherwise its hash is random."""
    from app.ledger import rules

    cols = ("record_id", "site_id", "visitor_id", "client_record_id", "event", "method", "decisions", "created_at",
            "expires_at", "config_hash", "policy_version", "policy_url", "language", "regime", "country", "region",
            "geoip_build", "ip_truncated", "user_agent", "page_url", "gpc", "prev_record_id", "source",
            "personal_salt", "personal_digest", "record_hash")
    places = [("DE", "DE-BE", "opt_in", "81.169.145.0"), ("US", "US-CA", "opt_out", "128.32.0.0"),
              ("JP", "JP-13", "notice", "133.242.0.0"), ("FR", "FR-IDF", "opt_in", "2.2.2.0")]
    maps = [{"necessary": True, "analytics": a, "marketing": m, "preferences": p}
            for a in (True, False) for m in (True, False) for p in (True, False)]
    decisions = [json.dumps(d) for d in maps]
    config_hash = hashlib.sha256(b"bench").hexdigest()
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=150 + days_ago)
    step = dt.timedelta(days=149) / n
    build = dt.date(2018, 7, 3)
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
    rnd = random.Random(seed)
    with psycopg_connect(dbname, autocommit=False) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY consent_records ({', '.join(cols)}) FROM STDIN") as copy:
                for i in range(n):
                    created = start + step * i
                    c, r, regime, ip = places[i & 3]
                    row = dict(
                        record_id=str(uuid.UUID(int=rnd.getrandbits(128), version=4)), site_id=site_id,
                        visitor_id=f"bench-v-{rnd.randrange(visitors) if i % 10 else i % visitors}",
                        client_record_id=None, event="given", method="custom", decisions=maps[i & 7],
                        created_at=created, expires_at=created + dt.timedelta(days=180), config_hash=config_hash,
                        policy_version="1", policy_url="https://bench.example/privacy", language="en", regime=regime,
                        country=c, region=r, geoip_build=build, ip_truncated=ip, user_agent=agent,
                        page_url=f"https://bench.example/p/{i}", gpc=False, prev_record_id=None, source="browser",
                        personal_salt=None, personal_digest=None)
                    if verifiable:
                        row["personal_salt"] = os.urandom(rules.SALT_BYTES).hex()
                        row["personal_digest"] = rules.personal_digest(row["personal_salt"], row)
                        row["record_hash"] = rules.record_hash(row)
                    else:
                        row["record_hash"] = "%064x" % rnd.getrandbits(256)
                    row["decisions"] = decisions[i & 7]
                    copy.write_row(tuple(row[k] for k in cols))
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


PURGE_BOUND = 300  # seconds the writes go on at most while a purge runs (then it is waited for, as long again)


PURGE_APP = "opsiq-bench-purge"  # the purge's application_name (PGAPPNAME), to find its backend


class Waits(threading.Thread):
    """Samples every 50 ms what the database's active backends are waiting on (pg_stat_activity; none:
    on CPU), the app's apart from the purge's; the app's waits for a lock (wait_event_type 'Lock': a
    row, transaction, relation or extension lock), all and those behind the purge, with who holds it;
    and the CPU of the purge's backends (/proc, last seen before each exits)."""

    QUERY = ("SELECT w.application_name, coalesce(w.wait_event_type || ':' || w.wait_event, 'CPU'), "
             "left(w.query, 100), CASE WHEN w.wait_event_type = 'Lock' THEN (SELECT array_agg(CASE WHEN "
             "b.application_name = %s THEN 'the purge' ELSE 'the app' END || ': ' || left(b.query, 100)) "
             "FROM pg_stat_activity b WHERE b.pid = ANY(pg_blocking_pids(w.pid))) END, w.pid "
             "FROM pg_stat_activity w WHERE w.datname = %s AND w.state = 'active' AND w.pid <> pg_backend_pid()")

    def __init__(self, dbname):
        super().__init__(daemon=True)
        self.dbname, self.done = dbname, threading.Event()
        self.samples = self.lock_samples = self.max_locked = self.purge_lock_samples = 0
        self.app, self.purge = {}, {}  # {wait event: backend-samples}
        self.seen = []  # a few [wait event, waiter, holder]
        self.backend_ticks = {}

    def run(self):
        with psycopg_connect(self.dbname) as conn:
            while not self.done.is_set():
                locked = behind_purge = 0
                for app, event, query, holders, pid in conn.execute(self.QUERY, (PURGE_APP, self.dbname)):
                    mine = app == PURGE_APP
                    counts = self.purge if mine else self.app
                    counts[event] = counts.get(event, 0) + 1
                    if mine and (ticks := process_ticks(pid)) is not None:
                        self.backend_ticks[pid] = ticks[1]
                    if not mine and event.startswith("Lock:"):
                        locked += 1
                        behind_purge += any(h.startswith("the purge") for h in holders or ())
                        if len(self.seen) < 5 and [event, query, holders] not in self.seen:
                            self.seen.append([event, query, holders])
                self.samples += 1
                self.lock_samples += locked > 0
                self.purge_lock_samples += behind_purge > 0
                self.max_locked = max(self.max_locked, locked)
                self.done.wait(0.05)

    def stop(self):
        self.done.set()
        self.join(10)
        top = lambda counts: dict(sorted(counts.items(), key=lambda kv: -kv[1]))
        return {"samples": self.samples, "samples_with_lock_waits": self.lock_samples,
                "samples_with_lock_waits_behind_purge": self.purge_lock_samples,
                "max_waiting_on_locks": self.max_locked, "seen": self.seen, "app_waits": top(self.app),
                "purge_waits": top(self.purge),
                "purge_backend_cpu_s": sum(self.backend_ticks.values()) / os.sysconf("SC_CLK_TCK")}


def site_counts(dbname, site_id, retention_days):
    """(records of the site, of them past its retention)."""
    with psycopg_connect(dbname) as conn:
        return conn.execute("SELECT count(*), count(*) FILTER (WHERE created_at < now() - make_interval(days => %s)) "
                            "FROM consent_records WHERE site_id = %s", (retention_days, site_id)).fetchone()


def bench_purge(args, env, dbname, wrk, script):
    """Writes while `flask retention purge` removes `args.purge` records past retention, beside a
    normal write round: both on a site of their own, whose old records (real hashes) belong to the
    visitors the writes come from. Checks the purge removed them all and the ledger still verifies."""
    n = args.purge
    creds = json.loads(flask(env, "sites", "create", "--name", "Bench purge", "--origin", "https://bench.example",
                             "--json"))
    site_key, api_key = creds["site_key"], creds["api_key"]
    site_id = site_id_of(dbname, site_key)
    with psycopg_connect(dbname) as conn:
        days = conn.execute("SELECT retention_days FROM sites WHERE id = %s", (site_id,)).fetchone()[0]
    # older than the retention by a month or more, and long expired: none is a decision in force
    log(f"purge phase: loading {n:,} records over {days} days old into site {site_key} (COPY, real hashes)")
    load_records(dbname, site_id, n, args.visitors, seed=f"purge-{n}", days_ago=days + 30, verifiable=True)
    log("sealing them (flask ledger seal --lag 0)")
    flask(env, "ledger", "seal", site_key, "--lag", "0")
    with psycopg_connect(dbname) as conn:
        conn.execute("CHECKPOINT")
    total, old = site_counts(dbname, site_id, days)
    if old != n:
        sys.exit(f"purge phase: {old:,} records past retention after loading {n:,}")
    server = Server(env, args.workers, args.threads, args.worker_class)
    try:
        pids = lambda: server.worker_pids() + [server.proc.pid]
        run_wrk(wrk, server.port, "write", site_key, api_key, args.visitors, 2, args.connections, script)
        waits = Waits(dbname)
        waits.start()
        normal = run_wrk(wrk, server.port, "write", site_key, api_key, args.visitors, args.seconds,
                         args.connections, script, pids())
        normal_waits = waits.stop()
        log(f"normal write {normal['rps']:8.0f} req/s  p50 {normal['p50_ms']:6.1f} ms  p99 {normal['p99_ms']:6.1f} ms"
            f"  errors {normal['errors']}")
        total_before, old_before = site_counts(dbname, site_id, days)
        waits = Waits(dbname)
        waits.start()
        started, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        purge = subprocess.Popen([os.path.join(harness.BIN, "flask"), "retention", "purge", site_key],
                                 env=dict(env, PGAPPNAME=PURGE_APP),
                                 cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        writes = start_wrk(wrk, server.port, "write", site_key, api_key, args.visitors, PURGE_BOUND,
                           args.connections, script)
        try:
            out, err = purge.communicate(timeout=2 * PURGE_BOUND)
        except subprocess.TimeoutExpired:
            purge.kill()
            finish_wrk(writes, stop=True)
            sys.exit(f"flask retention purge still running after {2 * PURGE_BOUND} s: killed")
        took = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the purge is the one child reaped meanwhile
        purge_cpu = usage.ru_utime + usage.ru_stime - children.ru_utime - children.ru_stime
        during = finish_wrk(writes, pids(), stop=True)
        locks = waits.stop()
    finally:
        server.stop()
    if purge.returncode != 0:
        sys.exit(f"flask retention purge failed ({purge.returncode}):\n{out}\n{err}")
    summary = out.strip().splitlines()[-1] if out.strip() else ""
    found = re.search(r": purged (\d+) consent record", summary)
    purged = int(found.group(1)) if found else None
    total_after, old_after = site_counts(dbname, site_id, days)
    log(f"purge: {summary}")
    log(f"during the purge: write {during['rps']:8.0f} req/s  p50 {during['p50_ms']:6.1f} ms  "
        f"p99 {during['p99_ms']:6.1f} ms  max {during['max_ms']:.0f} ms  errors {during['errors']}; "
        f"lock waits in {locks['samples_with_lock_waits']} of {locks['samples']} samples "
        f"({locks['samples_with_lock_waits_behind_purge']} behind the purge)")
    if purged != n or old_before - old_after != n or old_after:
        sys.exit(f"the purge did not remove the {n:,} old records: it reports {purged}, "
                 f"{old_before:,} were past retention before and {old_after:,} after")
    verify = flask(env, "ledger", "verify", site_key, check=False)
    verdict = verify.stdout.strip().splitlines()[0] if verify.stdout.strip() else verify.stderr.strip()
    log(f"flask ledger verify: {verdict}")
    if verify.returncode != 0:
        sys.exit(f"flask ledger verify failed after the purge:\n{verify.stdout[:3000]}\n{verify.stderr[-3000:]}")
    if normal["errors"] or during["errors"]:
        sys.exit(f"write errors: {normal['errors']} in the normal round, {during['errors']} during the purge")
    return {"records": n, "purged": purged, "seconds": took, "records_per_s": purged / took, "summary": summary,
            "command_cpu_s": purge_cpu,
            "site_records_before": total_before, "site_records_after": total_after,
            "normal": normal, "during": during, "window_covers_purge": during["seconds"] >= took - 1,
            "rps_ratio": during["rps"] / normal["rps"], "p99_ratio": during["p99_ms"] / normal["p99_ms"],
            "waits": {"normal": normal_waits, "during": locks}, "verify": verdict}


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
    ap.add_argument("--purge", type=int, default=500_000,
                    help="records past retention that `flask retention purge` removes while writes go on (0: skip)")
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
            os.environ["BENCH_WIDGET_BUILD"] = served_build(server.port, site_key)  # the widget sends it back
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
        if args.purge:
            results["purge"] = bench_purge(args, env, dbname, wrk, script)
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
    pg = results.get("purge")
    if pg:
        print_purge(pg)


def print_purge(pg):
    """The writes during the purge beside the normal round before it, and the purge's own rate."""
    print(f"\nretention purge (`flask retention purge SITE_KEY`, batches of 1,000 rows): {pg['purged']:,} records in "
          f"{pg['seconds']:.1f} s of the command's wall time, {pg['records_per_s']:,.0f} records/s")
    print(f"{'':>10} {'round':<28} {'req/s':>8} {'x normal':>8} {'p50 ms':>7} {'p99 ms':>7} {'x normal':>8}"
          f" {'max ms':>7} {'errors':>7} {'seconds':>8} {'CPUs busy':>10}")
    for name, r in (("writes, normal round", pg["normal"]), ("writes during the purge", pg["during"])):
        normal = pg["normal"]
        print(f"{'':>10} {name:<28} {r['rps']:>8.0f} {r['rps'] / normal['rps']:>8.2f} {r['p50_ms']:>7.1f} "
              f"{r['p99_ms']:>7.1f} {r['p99_ms'] / normal['p99_ms']:>8.2f} {r['max_ms']:>7.0f} {r['errors']:>7} "
              f"{r['seconds']:>8.1f} {r['machine_busy']:>10.0%}")
    lw = pg["waits"]["during"]
    print(f"the purge's CPU: {pg['command_cpu_s']:.1f} s in the command (Python), "
          f"{lw['purge_backend_cpu_s']:.1f} s in its PostgreSQL backend(s)")
    print(f"the app's backends waiting on a lock while it ran: in {lw['samples_with_lock_waits']} of {lw['samples']} "
          f"samples (every 50 ms), at most {lw['max_waiting_on_locks']} at once; behind the purge: in "
          f"{lw['samples_with_lock_waits_behind_purge']}")
    for wait, waiter, holders in lw["seen"]:
        print(f"  {wait}: {waiter!r}... behind {'; '.join(holders or ['?'])}...")
    share = lambda counts, w: ", ".join(f"{k} {v / max(w['samples'], 1):.2f}" for k, v in list(counts.items())[:5])
    for name, w in (("normal round", pg["waits"]["normal"]), ("during the purge", lw)):
        print(f"the app's active backends per sample, {name}: {share(w['app_waits'], w) or 'none'}")
    print(f"the purge's backend per sample: {share(lw['purge_waits'], lw) or 'none'}")
    print(f"flask ledger verify after it: {pg['verify']}")


if __name__ == "__main__":
    main()
