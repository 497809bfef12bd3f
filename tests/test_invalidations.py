"""Changes reach every process within a second. Two apps on the test database stand for two
processes (each has caches of its own); one caches, the other changes, through PostgreSQL NOTIFY
and through Redis pub/sub. A change that is rolled back tells nobody. Then the same end to end:
gunicorn's workers, a minute's cache, and `flask policy publish` run as its own process; and with
the channel down, the TTL still bounds how long a worker answers from what it had."""
import json
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

from app import create_app
from app.extensions import caches, db
from app.services.sites.administration import require_site, set_email_double_opt_in
from app.services.sites.keys import revoke_api_key, site_key_for_api_key
from app.services.sites.policies import publish_policy
from app.services.sites.snapshot import site_snapshot
from app.services.webhooks.endpoints import create_endpoint
from app.services.webhooks.outbox import subscriptions
from tests.conftest import IPS, REDIS_URL, make_consent, need_redis
from tests.servers import flask_command, serve_gunicorn


@pytest.fixture(params=["postgres", "redis"])
def two_processes(request, app):
    """(watcher, changer): two apps on the session's database, joined by one channel of their own."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    config = {"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SITE_CACHE_SECONDS": 60,
              "WEBHOOK_SUBSCRIPTION_CACHE_SECONDS": 60, "CACHE_CHANNEL": f"opsiq_test_{uuid.uuid4().hex[:12]}"}
    if request.param == "postgres" and not url.startswith("postgresql"):
        pytest.skip("NOTIFY is PostgreSQL's (run with TEST_DATABASE_URL)")
    if request.param == "redis":
        need_redis(REDIS_URL)
        config["REDIS_URL"] = REDIS_URL
    apps = create_app(config), create_app(config)
    yield apps
    for each in apps:
        with each.app_context():
            caches.stop()
            db.engine.dispose()


def listening(watcher, look):
    """Cache what `look` reads in the watcher, once its listener (started by that) is subscribed."""
    with watcher.app_context():
        look()
        deadline = time.monotonic() + 10
        while not caches.hub().listening():
            assert time.monotonic() < deadline, "the watcher never started listening"
            time.sleep(0.01)
        first = look()  # subscribing cleared the caches: what it keeps from now on waits for invalidations
        db.session.remove()
        return first


def seen_within(watcher, look, expected, seconds=1.0):
    """How long until `look()` in the watcher answers `expected` (each look in a fresh session, as a
    request would); fails after `seconds`."""
    started = time.monotonic()
    while True:
        with watcher.app_context():
            answer = look()
            db.session.remove()
        if answer == expected:
            return time.monotonic() - started
        assert time.monotonic() - started < seconds, f"still {answer!r} after {seconds} s"
        time.sleep(0.01)


def test_a_published_policy_reaches_the_other_process(two_processes, site):
    watcher, changer = two_processes
    site_key, _ = site

    def look():
        return site_snapshot(site_key, 60).policy["version"]

    assert listening(watcher, look) == "1"
    with changer.app_context():
        publish_policy(require_site(site_key), "2", "https://shop.example/p2")
    seen_within(watcher, look, "2")


def test_a_revoked_key_reaches_the_other_process(two_processes, site):
    watcher, changer = two_processes
    site_key, api_key = site

    def look():
        return site_key_for_api_key(api_key, 60)

    assert listening(watcher, look) == site_key
    with changer.app_context():
        assert revoke_api_key(api_key) == 1
    seen_within(watcher, look, None)


def test_a_new_webhook_endpoint_reaches_the_other_process(two_processes, site):
    watcher, changer = two_processes
    with changer.app_context():
        site_id = require_site(site[0]).id

    def look():
        return sorted(subscriptions(site_id))

    assert listening(watcher, look) == []
    with changer.app_context():
        create_endpoint(site_id, "https://hooks.example/consent", ["consent.recorded"])
    seen_within(watcher, look, ["consent.recorded"])


def test_the_double_opt_in_default_reaches_the_other_process(two_processes, site):
    watcher, changer = two_processes
    site_key, _ = site

    def look():
        return site_snapshot(site_key, 60).email_double_opt_in

    assert listening(watcher, look) is True
    with changer.app_context():
        set_email_double_opt_in(require_site(site_key), False)
    seen_within(watcher, look, False)


def test_a_change_rolled_back_tells_nobody(two_processes, site):
    watcher, changer = two_processes
    site_key, _ = site

    def look():
        return site_snapshot(site_key, 60).policy["version"]

    listening(watcher, look)
    with watcher.app_context():
        kept = site_snapshot(site_key, 60)
    with changer.app_context():
        publish_policy(require_site(site_key), "2", "https://shop.example/p2", commit=False)
        db.session.rollback()
    time.sleep(0.3)  # an invalidation takes milliseconds to arrive
    with watcher.app_context():
        assert site_snapshot(site_key, 60) is kept
    with changer.app_context():
        publish_policy(require_site(site_key), "3", "https://shop.example/p3")
    seen_within(watcher, look, "3")


GEVENT_LISTENER = """
from gevent import monkey; monkey.patch_all()
import sys, threading, time
import gevent
from app.invalidations import PostgresChannel, RedisChannel, encode

kind, url, name = sys.argv[1:]
channel = (PostgresChannel if kind == "postgres" else RedisChannel)(url, name)
received, ready, stopped = [], threading.Event(), threading.Event()
threading.Thread(target=channel.listen, args=(ready.set, received.append, stopped), daemon=True).start()
ticks, started = 0, time.monotonic()
while time.monotonic() - started < 1.0:
    gevent.sleep(0.01)
    ticks += 1
assert ready.is_set(), "never subscribed"
assert ticks >= 50, f"the listener held the hub: {ticks} ticks of a 10 ms greenlet in 1 s"
if kind == "postgres":
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_notify(%s, %s)", (name, encode("sites", "k")))
else:
    channel.publish(encode("sites", "k"))
gevent.sleep(0.5)
assert [m if isinstance(m, str) else m.decode() for m in received] == ['["sites","k"]'], received
"""


@pytest.mark.parametrize("kind", ["postgres", "redis"])
def test_the_listener_lets_other_greenlets_run_under_gevent(app, kind):
    """gunicorn's gevent worker monkey-patches: the listener's waits (psycopg's notifies(), redis-py's
    sockets) must then yield to the hub, or one idle listener would stall every request."""
    import subprocess
    import sys

    from tests.servers import ROOT

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if kind == "postgres":
        if not url.startswith("postgresql"):
            pytest.skip("NOTIFY is PostgreSQL's (run with TEST_DATABASE_URL)")
        url = url.replace("postgresql+psycopg://", "postgresql://")
    else:
        url = need_redis(REDIS_URL)
    done = subprocess.run([sys.executable, "-c", GEVENT_LISTENER, kind, url, f"opsiq_test_{uuid.uuid4().hex[:12]}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)  # a held hub never ends
    assert done.returncode == 0, done.stderr[-2000:]


# --- end to end: gunicorn's workers and the real CLI ---------------------------------------------

def post(url, body, headers):
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def reasons(base, api_key, visitor_id, n=16):
    """The reasons `n` checks answer at once (on connections of their own, so both workers answer)."""
    out = []

    def one():
        out.append(post(base + "/api/v1/consent-checks", {"visitor_id": visitor_id, "purpose": "analytics"},
                        {"Authorization": f"Bearer {api_key}"})["reason"])

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(out) == n
    return set(out)


def decide(base, site_key, visitor_id):
    post(base + "/api/v1/consents", make_consent(site_key, visitor_id=visitor_id, method="accept_all"),
         {"Origin": "https://shop.example", "X-Forwarded-For": IPS["DE"]})


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.mark.parametrize("channel", ["postgres", "redis"])
def test_a_policy_published_with_the_cli_is_answered_by_every_worker_within_a_second(app, site, channel):
    site_key, api_key = site
    env = {"OPSIQ_SITE_CACHE_SECONDS": "60", "OPSIQ_CACHE_CHANNEL": f"opsiq_test_{uuid.uuid4().hex[:12]}"}
    if channel == "postgres" and not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("NOTIFY is PostgreSQL's (run with TEST_DATABASE_URL)")
    if channel == "redis":
        need_redis(REDIS_URL)
        env["REDIS_URL"] = REDIS_URL
    with serve_gunicorn(app, **env) as base:
        decide(base, site_key, "visitor-cli-1")
        for _ in range(3):  # every worker caches the site and the key, and has started listening
            assert reasons(base, api_key, "visitor-cli-1") == {"granted"}
            time.sleep(0.2)
        flask_command(app, "policy", "publish", site_key, "--version", "2", "--url", "https://shop.example/p2", **env)
        published = time.monotonic()
        while reasons(base, api_key, "visitor-cli-1") != {"policy_superseded"}:
            assert time.monotonic() - published < 1.0, "a worker still answers from the old policy"
            time.sleep(0.02)


def test_with_the_channel_down_the_ttl_still_bounds_staleness(app, site):
    site_key, api_key = site
    ttl = 4
    env = {"OPSIQ_SITE_CACHE_SECONDS": str(ttl), "REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0"}
    with serve_gunicorn(app, workers=1, **env) as base:
        decide(base, site_key, "visitor-ttl-1")
        assert reasons(base, api_key, "visitor-ttl-1", n=1) == {"granted"}
        cached = time.monotonic()  # the worker keeps the site from here (it read it for that check)
        out = flask_command(app, "policy", "publish", site_key, "--version", "2", "--url", "https://shop.example/p2",
                            **env)
        assert "not published" in out  # the command succeeds; only the others' caches wait for their TTL
        if time.monotonic() - cached < ttl - 1:
            assert reasons(base, api_key, "visitor-ttl-1", n=1) == {"granted"}  # no word reached the worker
        while reasons(base, api_key, "visitor-ttl-1", n=1) != {"policy_superseded"}:
            assert time.monotonic() - cached < ttl + 1, "an entry outlived its TTL"
            time.sleep(0.05)
