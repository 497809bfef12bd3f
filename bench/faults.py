"""Fault benchmark: consent writes through two PostgreSQL restarts, with bad input mixed in.

One command (`make bench-faults`, as root): a PostgreSQL cluster of the bench's own (Debian's
`pg_createcluster` on a free port; the machine's shared cluster on 5432 is never touched), a
database on it, migrated, with a site; gunicorn serving `wsgi:app` as in production
(gunicorn.conf.py's gevent workers, OPSIQ_ENV=production with fresh secrets); 64 keep-alive
connections writing decisions as the widget does (`POST /api/v1/consents`, text/plain JSON, each
with a client_record_id of its own, and its visitor's secret) for 60 s, a share of them bad input
that must be refused (4xx): what the input gate refuses, an unknown site key, and writes that
know a visitor's id but not its secret (for 200 visitors recorded before the run); PostgreSQL restarted twice (`pg_ctlcluster restart`, fast mode unless --mode says
otherwise), at a third and two thirds of the run. Every answer is recorded (client_record_id,
status, Retry-After, time), so that afterwards each acknowledged write is looked up in the
database. It prints acknowledged, stored, lost (acknowledged but not stored: must be 0), answers by
status (bad input must get 4xx; well-formed writes 2xx, or 503 with Retry-After while the database
is away; any 500 and any connection error counted apart), each restart's recovery (the longest
time without a successful write around it; when writes succeeded again after PostgreSQL accepted
connections again, found by probing it every 20 ms, and after the restart command returned) and
`flask ledger verify`'s result, then PASS or FAIL (exit status 1). The cluster is dropped at the
end, also when the run fails or is interrupted (Ctrl-C, SIGTERM); one left by a killed run is
dropped by the next.

The load generator is in this script (asyncio, one coroutine per connection, a minimal HTTP/1.1
exchange): wrk cannot say which client_record_id it got a 2xx for. It prints its own CPU use, so
a run where the client, not the server, set the pace shows it.
"""
import argparse
import asyncio
import functools
import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench import harness
from bench.harness import ROOT, Server, flask, free_port, log, production_env
from bench.run import NETWORKS

OUT = os.path.join(ROOT, "bench", "out")
CLUSTER_PREFIX = "opsiq_faults_"  # + the bench's pid: a cluster left by a killed run is recognised
ORIGIN = "https://bench.example"
RECOVERY_TARGET = 2.0  # seconds from the database accepting connections again to writes succeeding (issue 10)
REQUEST_TIMEOUT = 30.0
VICTIMS = 200  # visitors recorded before the run, whom forged writes then try to impersonate
PROBE_INTERVAL = 0.02  # seconds between connection attempts while PostgreSQL restarts
NESTED = functools.reduce(lambda inner, _: [inner], range(39), [])  # 40 arrays deep: past MAX_DEPTH (32)

# What the input gate must refuse (app/api/parsing.py, tests/api/test_input_gate.py), and how.
# An unknown site key, or a visitor secret that is not the one bound, can only be found so by asking
# the database: 503 is right for them during an outage.
BAD_INPUT = {
    "invalid JSON": (400,),
    "invalid UTF-8": (400,),
    "nested 40 deep": (400,),
    "lone surrogate": (422,),
    "NUL in a string": (422,),
    "unknown site key": (404, 503),
    "body over 16 KiB": (413,),
    "forged visitor secret": (403, 503),
}


def _stat(pid):
    """(parent pid, user+system seconds, those of its reaped children) of a process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / hz, (int(fields[13]) + int(fields[14])) / hz


def tree_cpu_seconds(pid):
    """CPU seconds a process, its reaped children and its live children have used."""
    own = _stat(pid)
    if own is None:
        return 0.0
    total = own[1] + own[2]
    for child in os.listdir("/proc"):
        if child.isdigit() and (st := _stat(child)) and st[0] == pid:
            total += st[1]
    return total


def machine_cpu_seconds():
    """CPU seconds every core has spent busy since boot (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Cluster:
    """A PostgreSQL cluster of the bench's own (Debian's postgresql-common), trust auth on loopback."""

    def __init__(self):
        versions = sorted(os.listdir("/etc/postgresql"), key=float) if os.path.isdir("/etc/postgresql") else []
        if not versions:
            sys.exit("no PostgreSQL under /etc/postgresql (Debian's postgresql-common is needed)")
        self.version = versions[-1]
        self.name = f"{CLUSTER_PREFIX}{os.getpid()}"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.created = False
        self.data_directory = None
        self.cpu_seconds = 0.0  # used by its processes while it ran (tree_cpu_seconds before each restart)

    def tree_cpu_seconds(self):
        """CPU seconds the running postmaster and its backends have used (backends a restart ends are
        counted by sampling just before it)."""
        try:
            with open(os.path.join(self.data_directory, "postmaster.pid")) as f:
                return tree_cpu_seconds(int(f.readline()))
        except (OSError, ValueError, TypeError):
            return 0.0

    def _ctl(self, *args):
        return subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, *args],
                              capture_output=True, text=True, check=False)

    def create(self):
        self.created = True  # from here on, drop() cleans up whatever part of it exists
        out = subprocess.run(["pg_createcluster", self.version, self.name, "-p", str(self.port), "--start-conf",
                              "manual", "--", "--auth=trust"], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            sys.exit(f"pg_createcluster failed:\n{out.stdout}\n{out.stderr}")
        listed = subprocess.run(["pg_lsclusters", "--no-header", self.version, self.name], capture_output=True,
                                text=True, check=False).stdout.split()
        self.data_directory = listed[5]
        start = self._ctl("start")
        if start.returncode != 0:
            sys.exit(f"pg_ctlcluster start failed:\n{start.stdout}\n{start.stderr}")

    async def restart(self, mode):
        """Restart it, probing meanwhile for when it refuses connections and accepts them again:
        monotonic times of the command's start and return, its exit status, the first and last
        failed probe and the first probe that succeeded after them."""
        self.cpu_seconds += self.tree_cpu_seconds()  # a new postmaster counts from 0
        returned = asyncio.Event()
        started = time.monotonic()
        probe = asyncio.create_task(self._probe(returned, started + 60))
        proc = await asyncio.create_subprocess_exec(
            "pg_ctlcluster", "--skip-systemctl-redirect", "--mode", mode, self.version, self.name, "restart",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output, _ = await proc.communicate()
        result = {"started": started, "returned": time.monotonic(), "exit": proc.returncode,
                  "output": output.decode(errors="replace").strip()}
        returned.set()
        result["down"], result["last_down"], result["back"] = await probe
        return result

    async def _probe(self, returned, give_up):
        """Connect and SELECT 1 every PROBE_INTERVAL until one fails and a later one succeeds:
        (first failure, last failure, success); Nones if none failed before the command returned,
        no success if none by `give_up`."""
        import psycopg

        down = last_down = None
        while True:
            t = time.monotonic()
            try:
                async with asyncio.timeout(1), await psycopg.AsyncConnection.connect(self.url) as conn:
                    await conn.execute("SELECT 1")
                if down is not None:
                    return down, last_down, time.monotonic()
                if returned.is_set():
                    return None, None, None
            except (psycopg.Error, OSError, TimeoutError):
                down, last_down = down or t, t
                if t > give_up:
                    return down, last_down, None
            await asyncio.sleep(PROBE_INTERVAL)

    def drop(self):
        if self.created:
            subprocess.run(["pg_dropcluster", "--stop", self.version, self.name], capture_output=True, check=False)
            self.created = False


def drop_leftover_clusters():
    """Drop the clusters of earlier runs that were killed before they could drop their own."""
    out = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False).stdout
    for line in out.splitlines():
        fields = line.split()
        m = re.fullmatch(CLUSTER_PREFIX + r"(\d+)", fields[1]) if len(fields) > 1 else None
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            log(f"dropping cluster {fields[0]}/{fields[1]}, left by a run that was killed")
            subprocess.run(["pg_dropcluster", "--stop", fields[0], fields[1]], capture_output=True, check=False)


class Requests:
    """The requests the clients send: well-formed decisions (each a new client_record_id, each
    visitor with the one secret its browser keeps) and bad input."""

    def __init__(self, site_key, port, bad_share, visitors, victims):
        self.site_key, self.bad_share, self.visitors, self.victims = site_key, bad_share, visitors, victims
        self.host = f"127.0.0.1:{port}"
        self.bad_kinds = list(BAD_INPUT)
        self.counter = 0

    def decision(self, rnd, cid, visitor=None, **override):
        visitor = f"bench-v-{rnd.randrange(self.visitors)}" if visitor is None else visitor
        body = {"site_key": self.site_key, "visitor_id": visitor, "visitor_secret": f"{visitor}-secret-of-the-browser",
                "client_record_id": cid, "decisions": {"analytics": rnd.random() < 0.5, "marketing": False},
                "method": "custom", "language": "en", "page_url": f"https://bench.example/p/{self.counter}"}
        body.update(override)
        return json.dumps(body)

    def victim(self, i, rnd):
        """The first, genuine decision of a visitor whom forged writes then try to impersonate."""
        return self.request(self.decision(rnd, str(uuid.uuid4()), visitor=f"bench-victim-{i}").encode(), rnd)

    def next(self, rnd):
        """(kind, client_record_id, the request's bytes); kind None: a well-formed write."""
        self.counter += 1
        cid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        kind = rnd.choice(self.bad_kinds) if rnd.random() < self.bad_share else None
        if kind is None:
            body = self.decision(rnd, cid).encode()
        elif kind == "invalid JSON":
            body = self.decision(rnd, cid)[:-1].encode()
        elif kind == "invalid UTF-8":  # a 0xff byte, which no UTF-8 text holds
            body = self.decision(rnd, cid).encode().replace(b"/p/", b"/\xff/", 1)
        elif kind == "nested 40 deep":
            body = self.decision(rnd, cid, context=NESTED).encode()
        elif kind == "lone surrogate":
            body = self.decision(rnd, cid, page_url="https://bench.example/\ud800").encode()
        elif kind == "NUL in a string":
            body = self.decision(rnd, cid, page_url="https://bench.example/\x00").encode()
        elif kind == "unknown site key":
            body = self.decision(rnd, cid, site_key=f"unknown-{rnd.getrandbits(64):016x}").encode()
        elif kind == "forged visitor secret":  # knows a victim's visitor id, not its browser's secret
            body = self.decision(rnd, cid, visitor=f"bench-victim-{rnd.randrange(self.victims)}",
                                 visitor_secret=f"forged-{rnd.getrandbits(128):032x}").encode()
        else:  # "body over 16 KiB", MAX_CONTENT_LENGTH
            body = self.decision(rnd, cid, page_url="https://bench.example/" + "a" * 17_000).encode()
        return kind, cid, self.request(body, rnd)

    def request(self, body, rnd):
        """POST /api/v1/consents as the widget sends it, from an address of one of NETWORKS."""
        ip = f"{rnd.choice(NETWORKS)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
        head = (f"POST /api/v1/consents HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: text/plain;charset=UTF-8\r\n"
                f"Origin: {ORIGIN}\r\nX-Forwarded-For: {ip}\r\nUser-Agent: Mozilla/5.0 (bench) faults\r\n"
                f"Content-Length: {len(body)}\r\n\r\n")
        return head.encode() + body


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_RETRY_AFTER = re.compile(rb"\r\nretry-after:", re.IGNORECASE)
_CLOSE = re.compile(rb"\r\nconnection:\s*close", re.IGNORECASE)


async def exchange(reader, writer, data):
    """Send one request, read its answer: (the answer's head, whether the connection stays open)."""
    writer.write(data)
    head = await reader.readuntil(b"\r\n\r\n")
    m = _CONTENT_LENGTH.search(head)
    if m:
        await reader.readexactly(int(m.group(1)))
    return head, m is not None and not _CLOSE.search(head)


async def record_victims(port, requests):
    """Each victim's first decision, made by its own browser (so its secret is bound) before the run."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rnd = random.Random(0)
    for i in range(requests.victims):
        head, keep = await exchange(reader, writer, requests.victim(i, rnd))
        if head[9:12] != b"201" or not keep:
            sys.exit(f"the victims' first decisions were not recorded: {head.decode(errors='replace')}")
    writer.close()


async def client(port, requests, deadline, seed, answers):
    """One keep-alive connection sending requests back to back until the deadline; appends
    (kind, client_record_id, status, has Retry-After, sent, answered) to answers. Status 0: the
    connection failed before a whole answer arrived (the error's name is in the kind's place)."""
    rnd = random.Random(seed)
    reader = writer = None
    while time.monotonic() < deadline:
        kind, cid, data = requests.next(rnd)
        sent = time.monotonic()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                head, keep = await exchange(reader, writer, data)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as e:
            answers.append((kind, cid, 0, type(e).__name__, sent, time.monotonic()))
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)  # not a busy loop if the server is gone
            continue
        answers.append((kind, cid, int(head[9:12]), bool(_RETRY_AFTER.search(head)), sent, time.monotonic()))
        if not keep:  # the server ends this connection: open another (not an error)
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def drive(args, port, requests, cluster):
    """The clients for args.seconds, and the restarts at a third and two thirds of it."""
    answers, restarts = [], []
    await record_victims(port, requests)
    start = time.monotonic()
    deadline = start + args.seconds

    async def restarter():
        for i in range(1, args.restarts + 1):
            await asyncio.sleep(start + args.seconds * i / (args.restarts + 1) - time.monotonic())
            log(f"restarting PostgreSQL ({args.mode})")
            r = await cluster.restart(args.mode)
            log(f"restart #{i}: pg_ctlcluster returned after {r['returned'] - r['started']:.2f} s, exit {r['exit']}")
            restarts.append(r)

    cpu = time.process_time()
    seed = random.randrange(1 << 30)
    await asyncio.gather(restarter(), *(client(port, requests, deadline, seed + i, answers)
                                        for i in range(args.connections)))
    return {"answers": answers, "restarts": restarts, "start": start, "end": time.monotonic(),
            "client_cpu": time.process_time() - cpu}


def recovery(restarts, successes, failures, end):
    """Per restart, from its command's start until the next restart (or the end): the longest time
    without a successful write (counted from the last success before the command), how long the
    database refused connections, when writes succeeded again after it accepted them and after the
    command returned, and the well-formed writes that failed (by the time they were answered)."""
    out = []
    for i, r in enumerate(restarts):
        window_end = restarts[i + 1]["started"] if i + 1 < len(restarts) else end
        before = [t for t in successes if t < r["started"]]
        inside = [t for t in successes if r["started"] <= t < window_end]
        times = ([before[-1]] if before else [r["started"]]) + inside
        gap = max((b - a for a, b in itertools.pairwise(times)), default=window_end - times[0])
        after_return = [t for t in inside if t >= r["returned"]]
        # the database came back between the last failed probe and the next, successful one
        after_back = [t for t in inside if r["back"] and t > r["last_down"]]
        failed = [t for t in failures if r["started"] <= t < window_end]
        out.append({
            "command_s": r["returned"] - r["started"], "exit": r["exit"], "longest_without_success_s": gap,
            "refused_from_s": r["down"] - r["started"] if r["down"] else None,
            "refused_s": r["back"] - r["down"] if r["back"] else None,
            "first_success_after_back_s": max(0.0, after_back[0] - r["back"]) if after_back else None,
            "first_success_after_return_s": after_return[0] - r["returned"] if after_return else None,
            "failed_writes": len(failed),
            "first_failure_after_start_s": failed[0] - r["started"] if failed else None,
            "last_failure_after_back_s": failed[-1] - r["back"] if failed and r["back"] else None,
            "last_failure_after_return_s": failed[-1] - r["returned"] if failed else None,
        })
    return out


def summarise(run, stored, all_sent, restarts_info, verify, args, server_workers):
    answers = run["answers"]
    writes = [a for a in answers if a[0] is None]
    bad = [a for a in answers if a[0] is not None]
    acked = {a[1] for a in writes if 200 <= a[2] < 300}
    lost = acked - stored
    by_status = Counter(a[2] for a in writes)
    return {
        "seconds": run["end"] - run["start"], "connections": args.connections, "workers": server_workers,
        "mode": args.mode, "bad_share": args.bad_share, "requests": len(answers),
        "req_per_s": len(answers) / (run["end"] - run["start"]),
        "client_cpu_share": run["client_cpu"] / (run["end"] - run["start"]),
        "writes": len(writes), "acknowledged": len(acked), "stored": len(acked & stored), "lost": len(lost),
        "lost_ids": sorted(lost)[:20],
        "stored_unacknowledged": len((stored & all_sent) - acked),
        "bad_stored": len({a[1] for a in bad} & stored),
        "status": {str(k): v for k, v in sorted(Counter(a[2] for a in answers).items())},
        "write_status": {str(k): v for k, v in sorted(by_status.items())},
        "write_503_without_retry_after": sum(1 for a in writes if a[2] == 503 and not a[3]),
        "connection_errors": dict(Counter(a[3] for a in answers if a[2] == 0)),
        "answers_500": sum(1 for a in answers if a[2] == 500),
        "bad_status": {k: {str(s): n for s, n in sorted(Counter(a[2] for a in bad if a[0] == k).items())}
                       for k in BAD_INPUT},
        "bad_misanswered": sum(1 for a in bad if a[2] not in BAD_INPUT[a[0]]),
        "restarts": restarts_info, "verify": verify,
    }


def _seconds(value):
    return f"{value:.2f} s" if value is not None else "never"


def print_report(s):
    print(f"\nOpsIQ Consent fault benchmark: {os.cpu_count()} CPUs, gunicorn {s['workers']} gevent worker(s) "
          f"(gunicorn.conf.py), {s['connections']} connections for {s['seconds']:.1f} s, PostgreSQL restarted "
          f"{len(s['restarts'])} times (pg_ctlcluster restart --mode {s['mode']}), {s['bad_share']:.0%} bad input, "
          f"rate limits {s['rate_limits']}\n")
    print(f"requests                  {s['requests']:>9,}  ({s['req_per_s']:,.0f} req/s; the client used "
          f"{s['client_cpu_share']:.0%} of one core)")
    statuses = ", ".join(f"{k}: {v:,}" for k, v in s["status"].items())
    print(f"  answers by status       {statuses}   (0: no answer)")
    print(f"well-formed writes        {s['writes']:>9,}")
    print(f"  acknowledged (2xx)      {s['acknowledged']:>9,}")
    print(f"  stored                  {s['stored']:>9,}  (of the acknowledged, looked up by client_record_id)")
    print(f"  lost                    {s['lost']:>9,}  (acknowledged, not stored: must be 0)")
    print(f"  stored, not acknowledged{s['stored_unacknowledged']:>9,}  (committed, but answered 503 or cut off)")
    statuses = ", ".join(f"{k}: {v:,}" for k, v in s["write_status"].items())
    print(f"  answers by status       {statuses}   (0: no answer)")
    print(f"  503 without Retry-After {s['write_503_without_retry_after']:>9,}")
    print(f"answers of 500 (any)      {s['answers_500']:>9,}")
    errors = ", ".join(f"{k}: {v:,}" for k, v in s["connection_errors"].items()) or "none"
    print(f"connection errors         {sum(s['connection_errors'].values()):>9,}  ({errors})")
    print(f"bad input                 {sum(sum(v.values()) for v in s['bad_status'].values()):>9,}  "
          f"({s['bad_misanswered']:,} not answered as expected; {s['bad_stored']:,} stored: must be 0)")
    for kind, statuses in s["bad_status"].items():
        expect = "/".join(map(str, BAD_INPUT[kind]))
        got = ", ".join(f"{k}: {v:,}" for k, v in statuses.items())
        print(f"  {kind:<22}  expected {expect:<8} got {got}")
    for i, r in enumerate(s["restarts"], 1):
        print(f"restart #{i}: pg_ctlcluster took {r['command_s']:.2f} s (exit {r['exit']}); longest without a "
              f"successful write {r['longest_without_success_s']:.2f} s")
        if r["refused_s"] is not None:
            print(f"  PostgreSQL refused connections from {r['refused_from_s']:.2f} s after the command started, "
                  f"for {r['refused_s']:.2f} s")
        else:
            print("  PostgreSQL was never seen refusing a connection" if r["refused_from_s"] is None else
                  "  PostgreSQL did not come back")
        print(f"  first successful write {_seconds(r['first_success_after_back_s'])} after it accepted connections "
              f"again, {_seconds(r['first_success_after_return_s'])} after pg_ctlcluster returned")
        if r["failed_writes"]:
            last = r["last_failure_after_back_s"]
            last = f"{last:+.2f} s from its coming back" if last is not None else "the end"
            print(f"  {r['failed_writes']:,} writes failed, answered from {r['first_failure_after_start_s']:.2f} s "
                  f"after the command started until {last} ({r['last_failure_after_return_s']:+.2f} s from "
                  f"pg_ctlcluster's return)")
    cpu = ", ".join(f"{k} {v:.1f} s" for k, v in s["cpu_s"].items())
    print(f"CPU used during the run   {cpu} (of {os.cpu_count() * s['seconds']:.0f} CPU-seconds)")
    print(f"gunicorn's log            {s['server_log']['lines']:,} lines, {s['server_log']['tracebacks']:,} tracebacks:"
          f" {s['server_log']['path']}")
    v = s["verify"]
    print(f"flask ledger verify: exit {v['exit']}: {v['output']}")
    failures = []
    if s["lost"]:
        failures.append(f"{s['lost']} lost")
    if s["answers_500"]:
        failures.append(f"{s['answers_500']} answers of 500")
    if s["connection_errors"]:
        failures.append("connection errors")
    if s["write_503_without_retry_after"]:
        failures.append("503 without Retry-After")
    if s["bad_misanswered"] or s["bad_stored"]:
        failures.append("bad input not refused as expected")
    if any(r["first_success_after_back_s"] is None or r["first_success_after_back_s"] > RECOVERY_TARGET
           or (r["last_failure_after_back_s"] or 0) > RECOVERY_TARGET for r in s["restarts"]):
        failures.append(f"writes not all succeeding within {RECOVERY_TARGET:.0f} s of PostgreSQL's coming back")
    if any(r["exit"] != 0 for r in s["restarts"]):
        failures.append("a restart command failed")
    if v["exit"] != 0:
        failures.append("ledger verify failed")
    print("RESULT: " + ("PASS" if not failures else "FAIL: " + "; ".join(failures)))
    return not failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60, help="length of the run (e.g. 15 for a quick try)")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--restarts", type=int, default=2, help="PostgreSQL restarts, evenly spread over the run")
    ap.add_argument("--mode", choices=("fast", "immediate"), default="fast",
                    help="pg_ctlcluster's shutdown mode for the restarts (fast: pg_ctlcluster's default)")
    ap.add_argument("--bad-share", type=float, default=0.1, help="share of requests that are bad input")
    ap.add_argument("--visitors", type=int, default=20_000, help="distinct visitor ids")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/faults.py runs as root: it creates, restarts and drops a PostgreSQL cluster of its own")

    # SIGTERM and SIGHUP end the run as Ctrl-C does, through the finally below that drops the cluster
    def interrupted(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    drop_leftover_clusters()
    os.makedirs(OUT, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    cluster = Cluster()
    server = interrupted = None
    try:
        log(f"creating PostgreSQL {cluster.version} cluster {cluster.name} on port {cluster.port}")
        cluster.create()
        dbname = harness.create_database(cluster.url, "opsiq_faults")
        env = production_env(harness.app_database_url(cluster.url, dbname))
        flask(env, "db", "upgrade")
        creds = json.loads(flask(env, "sites", "create", "--name", "Faults", "--origin", ORIGIN, "--json"))
        workers = os.cpu_count() or 1
        server_log = os.path.join(OUT, f"faults-{stamp}-gunicorn.log")
        with open(server_log, "w") as f:
            server = Server(env, workers, log_file=f)
        log(f"gunicorn {workers} gevent worker(s) on :{server.port}; {args.connections} connections for "
            f"{args.seconds:g} s, {args.restarts} restart(s)")
        requests = Requests(creds["site_key"], server.port, args.bad_share, args.visitors, VICTIMS)
        busy, ours = machine_cpu_seconds(), tree_cpu_seconds(server.proc.pid)
        cluster.cpu_seconds = -cluster.tree_cpu_seconds()
        run = asyncio.run(drive(args, server.port, requests, cluster))
        cluster.cpu_seconds += cluster.tree_cpu_seconds()
        cpu = {"gunicorn": tree_cpu_seconds(server.proc.pid) - ours, "bench PostgreSQL": cluster.cpu_seconds,
               "bench client": run["client_cpu"]}
        cpu["everything else (other work on the machine)"] = machine_cpu_seconds() - busy - sum(cpu.values())
        log(f"{len(run['answers']):,} answers; looking each acknowledged client_record_id up")
        with harness.connect(cluster.url, dbname) as conn:
            stored = {row[0] for row in conn.execute("SELECT client_record_id FROM consent_records")}
        all_sent = {a[1] for a in run["answers"] if a[0] is None}
        successes = sorted(a[5] for a in run["answers"] if a[0] is None and 200 <= a[2] < 300)
        failures = sorted(a[5] for a in run["answers"] if a[0] is None and not 200 <= a[2] < 300)
        restarts_info = recovery(run["restarts"], successes, failures, run["end"])
        server.stop()
        server = None
        out = flask(env, "ledger", "verify", check=False)
        verify = {"exit": out.returncode, "output": " ".join((out.stdout + out.stderr).split())[:500]}
        summary = summarise(run, stored, all_sent, restarts_info, verify, args, workers)
        summary["cpu_s"] = cpu
        summary["rate_limits"] = ("off" if env.get("RATE_LIMITS", "1") in ("0", "false", "no", "off") else
                                  f"on, {env.get('RATE_LIMIT_BROWSER', '600/minute')} per address and site")
        with open(server_log) as f:
            text = f.read()
        summary["server_log"] = {"path": os.path.relpath(server_log, ROOT), "lines": text.count("\n"),
                                 "tracebacks": text.count("Traceback (most recent call last)")}
    except KeyboardInterrupt as e:
        interrupted = str(e) or "SIGINT"
    finally:
        if server:
            server.stop()
        cluster.drop()
    if interrupted:
        sys.exit(f"interrupted ({interrupted}); gunicorn stopped and cluster {cluster.name} dropped")
    path = os.path.join(OUT, f"faults-{stamp}.json")
    with open(path, "w") as f:
        json.dump(summary, f, indent=2)
    ok = print_report(summary)
    print(f"\nsaved {path}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
