"""Fixtures: one app per session on a fresh database built by the migrations.

The database is SQLite unless TEST_DATABASE_URL names a PostgreSQL server, in which case a
database of its own is created on that server for the run and dropped afterwards.
"""
import hashlib
import os
import threading
import uuid

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from werkzeug.serving import make_server

from app import create_app
from app.extensions import caches, db
from app.services.sites.administration import create_site, require_site
from app.services.sites.documents import export_site, import_site
from tests.webhook_receiver import Receiver

# Real addresses that the embedded GeoLite2 (2018) database places as named.
IPS = {
    "DE": "81.169.145.1", "FR": "2.2.2.2", "GB": "212.58.244.1", "US-CA": "128.32.0.1",
    "US-NY": "128.59.0.1", "CA-QC": "132.204.0.1", "BR": "200.147.0.1", "JP": "133.242.0.1",
    "private": "10.1.2.3", "DE6": "2a02:2e0::1",
}


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def need_redis(url):
    """`url` if a Redis answers there; else the test is skipped, and fails in CI, which must run it."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        return url
    except redis.RedisError:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"no Redis at {url}: CI must run the tests that need one")
        pytest.skip(f"no Redis at {url} (TEST_REDIS_URL)")


def _postgres_database(url):
    """Create a throw-away database on the server in `url`; returns (its url, a drop function)."""
    base = sa.engine.make_url(url)
    name = f"opsiq_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    """The app on a migrated database, shared by the session (tables emptied after each test)."""
    url = os.environ.get("TEST_DATABASE_URL")
    drop = None
    if url:
        url, drop = _postgres_database(url)
    else:
        url = "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite")
    app = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "TRUSTED_PROXIES": 1,
        "SITE_CACHE_SECONDS": 0, "LEDGER_SEAL_INTERVAL": 0, "SERVER_NAME": None,
        "CACHE_CHANNEL": "",  # one process; tests/test_invalidations.py runs apps and servers of its own
        "PROOF_CHROMIUM": None,  # a worker in a test builds packs without screenshots (test_proof_packs sets it)
        "SCAN_CHROMIUM": None,  # tests/scanner/ sets it: only they start Chromium for a scan
    })
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()
    if drop:
        drop()


@pytest.fixture(autouse=True)
def _clean_tables(app):
    yield
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        caches.clear()  # the rows went behind the services' back (ids and keys are used again)
        for memo in ("opsiq_sightings", "opsiq_widget_builds"):  # what each process noted it has inserted
            app.extensions.pop(memo, None)


@pytest.fixture(scope="session")
def live_server(app):
    """The session's app served on a free loopback port by a werkzeug thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_site(app):
    """make_site(**kw) -> (site_key, api_key) for a new site with the default purposes."""

    def make(name="Shop", origins=("https://shop.example",), **kw):
        with app.app_context():
            site, api_key = create_site(name, list(origins), policy_url="https://shop.example/privacy", **kw)
            return site.site_key, api_key

    return make


@pytest.fixture
def site(make_site):
    return make_site()


@pytest.fixture
def site_ctx(site):
    """(site_key, api_key, the API key's Authorization header) of a new site."""
    site_key, api_key = site
    return site_key, api_key, {"Authorization": f"Bearer {api_key}"}


@pytest.fixture
def receiver():
    """A webhook receiver of our own on a loopback port (a fake at the edge of the world)."""
    r = Receiver()
    yield r
    r.close()


def visitor_secret(visitor_id):
    """The secret a test's browser keeps for a visitor id: one per id, so a visitor's writes agree."""
    return "s-" + hashlib.sha256(visitor_id.encode()).hexdigest()[:40]


def make_consent(site_key, **overrides):
    """A valid widget body for POST /api/v1/consents (with the visitor's own secret unless given)."""
    body = {
        "site_key": site_key, "visitor_id": "v-" + uuid.uuid4().hex[:16], "client_record_id": str(uuid.uuid4()),
        "decisions": {"analytics": True, "marketing": False}, "method": "custom", "policy_version": "1",
        "language": "en", "page_url": "https://shop.example/products", "gpc": False,
    }
    body.update(overrides)
    body.setdefault("visitor_secret", visitor_secret(body["visitor_id"]))
    return body


def set_purpose(app, site_key, slug, **fields):
    """Add a purpose to a site (consent basis, default off) or change one it has, via export / import."""
    with app.app_context():
        doc = export_site(require_site(site_key))
        same = [p for p in doc["purposes"] if p["slug"] == slug]
        if same:
            same[0].update(fields)
        else:
            doc["purposes"].append({"slug": slug, "legal_basis": "consent", "default_on": False,
                                    "titles": {"en": slug.title()}, **fields})
        import_site(doc)


def run_together(fn, n, timeout=60):
    """fn(0) ... fn(n - 1), each in a thread of its own, all at once; returns when all are done."""
    threads = [threading.Thread(target=fn, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a thread was left waiting"


def from_ip(ip, **headers):
    """Request headers that place the caller at `ip` (the test app trusts one proxy)."""
    return {"X-Forwarded-For": ip, **headers}
