"""Rate limits (app/ratelimits.py): RATE_LIMIT_BROWSER per client address and site on the browser
endpoints, RATE_LIMIT_SERVER per API key on the server endpoints, both on the front door too;
past a limit, 429 with Retry-After in the one error shape. Counters shared through Redis when
REDIS_URL is set, and keyed so that no store holds a client address."""
import time
import uuid

import pytest
import redis

from app import create_app
from tests.conftest import REDIS_URL, from_ip, make_consent, need_redis

ORIGIN = "https://shop.example"


def limited_app(app, **config):
    """Another app on the test database, with small limits (config is read once, at create_app)."""
    return create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "TRUSTED_PROXIES": 1,
        "SITE_CACHE_SECONDS": 0, "LEDGER_SEAL_INTERVAL": 0, "CACHE_CHANNEL": "",
        "RATE_LIMIT_BROWSER": "3/minute", "RATE_LIMIT_SERVER": "4/minute", **config})


def a_client_address():
    """An address no earlier run has counted (counters in Redis outlive a test run)."""
    n = uuid.uuid4().int
    return f"81.169.{n % 250}.{(n >> 8) % 250 + 1}"


def assert_limited(r):
    assert r.status_code == 429, r.get_data(as_text=True)
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.json["code"] == 429 and r.json["status"] == "Too Many Requests" and "3 per 1 minute" in r.json["message"]


@pytest.mark.parametrize("hot", [True, False], ids=["front door", "flask"])
def test_a_browser_past_its_limit_gets_429_for_that_site_only(app, make_site, hot):
    limited = limited_app(app, HOT_PATHS=hot)
    client = limited.test_client()
    site_key, _ = make_site()
    other_site, _ = make_site(name="Other")
    address = a_client_address()
    write = lambda key=site_key, ip=address: client.post(  # noqa: E731
        "/api/v1/consents", json=make_consent(key), headers=from_ip(ip, Origin=ORIGIN))
    assert [write().status_code for _ in range(3)] == [201, 201, 201]
    assert_limited(write())
    # the endpoints of a page view share the count: the widget script, the configuration, identity links
    assert_limited(client.get(f"/api/v1/sites/{site_key}/config", headers=from_ip(address, Origin=ORIGIN)))
    script = client.get(f"/w/{site_key}.js", headers=from_ip(address))
    assert script.status_code == 429 and script.headers["Retry-After"] and "console.warn" in script.get_data(as_text=True)
    assert_limited(client.post("/api/v1/identities/browser", headers=from_ip(address, Origin=ORIGIN), json={
        "site_key": site_key, "visitor_id": "v-12345678", "visitor_secret": "s" * 32, "token": "x"}))
    # another address, or another site from the same address, is counted apart
    assert write(ip=a_client_address()).status_code == 201
    assert write(key=other_site).status_code == 201


@pytest.mark.parametrize("hot", [True, False], ids=["front door", "flask"])
def test_an_api_key_past_its_limit_gets_429_on_every_server_endpoint(app, make_site, hot):
    limited = limited_app(app, HOT_PATHS=hot)
    client = limited.test_client()
    _, api_key = make_site()
    _, other_key = make_site(name="Other")
    check = lambda key=api_key: client.post(  # noqa: E731
        "/api/v1/consent-checks", json={"visitor_id": "v-12345678", "purpose": "analytics"},
        headers={"Authorization": f"Bearer {key}"})
    assert [check().status_code for _ in range(4)] == [200] * 4
    r = check()
    assert r.status_code == 429 and r.json["code"] == 429 and "4 per 1 minute" in r.json["message"]
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    r = client.get("/api/v1/visitors/v-12345678/consent", headers={"Authorization": f"Bearer {api_key}"})
    assert r.status_code == 429
    assert check(other_key).status_code == 200
    # a wrong key is refused as before, whatever the count of the right one
    assert check("opsiq_sk_not-a-key-at-all").status_code == 401


def test_limits_off(app, make_site):
    client = limited_app(app, RATE_LIMITS=False).test_client()
    site_key, _ = make_site()
    address = a_client_address()
    assert {client.post("/api/v1/consents", json=make_consent(site_key),
                        headers=from_ip(address, Origin=ORIGIN)).status_code for _ in range(5)} == {201}


@pytest.fixture
def redis_url():
    return need_redis(REDIS_URL)


def test_with_redis_two_processes_share_one_count_that_names_no_address(app, make_site, redis_url):
    first, second = (limited_app(app, REDIS_URL=redis_url).test_client() for _ in range(2))
    site_key, _ = make_site()
    address = a_client_address()
    statuses = [c.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(address, Origin=ORIGIN))
                .status_code for c in (first, second, first, second)]
    assert statuses == [201, 201, 201, 429]
    keys = [k.decode() for k in redis.Redis.from_url(redis_url).scan_iter("LIMITS*", count=1000)]
    assert keys and not any(address in k for k in keys)


def test_a_counter_store_out_of_reach_lets_calls_through(app, make_site):
    client = limited_app(app, REDIS_URL="redis://127.0.0.1:1/0").test_client()  # nothing listens there
    site_key, _ = make_site()
    address = a_client_address()
    assert [client.post("/api/v1/consents", json=make_consent(site_key), headers=from_ip(address, Origin=ORIGIN))
            .status_code for _ in range(4)] == [201] * 4


def test_a_spent_limit_comes_back_with_the_next_window(app, make_site):
    client = limited_app(app, RATE_LIMIT_BROWSER="2/second").test_client()
    site_key, _ = make_site()
    address = a_client_address()
    write = lambda: client.post("/api/v1/consents", json=make_consent(site_key),  # noqa: E731
                                headers=from_ip(address, Origin=ORIGIN)).status_code
    assert [write(), write(), write()] == [201, 201, 429]
    time.sleep(1.05)
    assert write() == 201
