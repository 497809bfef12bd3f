"""Cache invalidations carried to every process of the deployment (app/cache.py keeps the caches).

A change to cached data is published as the JSON `[cache name, key]` (key null: every entry):

- on PostgreSQL, with `pg_notify` inside the transaction that makes the change, so it is delivered
  when that transaction commits and never if it rolls back;
- with REDIS_URL set, with a Redis PUBLISH once the transaction has committed (Redis is not part
  of it: a process that dies between the two leaves the others to their TTL).

Each process runs one listener, a thread (a greenlet under gunicorn's gevent worker, whose
monkey-patching makes psycopg's and redis-py's waits cooperative), started lazily by the first
entry a cache keeps in that process, so after gunicorn's fork. It reconnects with backoff; on every
(re)connection it clears the process's caches, since whatever changed while it was away is
unknown. While it cannot connect, the TTL bounds how stale an entry gets.
"""
import json
import logging
import os
import threading
from typing import Callable, Hashable

import sqlalchemy as sa

log = logging.getLogger(__name__)

BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0  # seconds between attempts to listen again
IDLE_CHECK = 10.0  # seconds without a message after which the connection is checked


def encode(name: str, key: Hashable | None) -> str:
    return json.dumps([name, key], separators=(",", ":"))


def decode(payload: str | bytes) -> tuple[str, Hashable | None]:
    name, key = json.loads(payload)
    return name, key


class PostgresChannel:
    """LISTEN/NOTIFY on the app's own database: a notification is part of the changing transaction."""

    in_transaction = True

    def __init__(self, url: str, name: str):
        self.url, self.name = url, name

    def publish(self, session, payload: str) -> None:
        """Notify in `session`'s open transaction: delivered on its commit."""
        session.execute(sa.select(sa.func.pg_notify(self.name, payload)))

    def listen(self, on_ready: Callable[[], None], on_message: Callable[[str], None], stopped: threading.Event) -> None:
        """Deliver each payload until the connection fails (it raises) or `stopped` is set."""
        import psycopg
        from psycopg import sql

        # keepalives: a peer gone without a word (a failover, a cut network) is noticed in a minute
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5, keepalives=1, keepalives_idle=30,
                             keepalives_interval=10, keepalives_count=3) as conn:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.name)))
            on_ready()
            while not stopped.is_set():
                for notify in conn.notifies(timeout=IDLE_CHECK):
                    on_message(notify.payload)
                conn.execute("SELECT 1")


class RedisChannel:
    """Redis pub/sub (REDIS_URL): published once the changing transaction has committed."""

    in_transaction = False

    def __init__(self, url: str, name: str):
        import redis

        self.url = url
        # pub/sub ignores the database number: naming it keeps deployments that share a server apart
        self.name = f"{name}:{redis.connection.parse_url(url).get('db', 0)}"
        self._client, self._pid = None, None

    def _connect(self, timeout):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # no retries of its own: a failure must reach the caller (the listener reconnects, and
        # clears the caches when it does, so nothing missed in between is kept)
        return redis.Redis.from_url(self.url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                    socket_keepalive=True, retry=Retry(NoBackoff(), 0))

    def publish(self, payload: str) -> None:
        if self._pid != os.getpid():  # a connection pool of this process's own, after a fork
            self._client, self._pid = self._connect(2.0), os.getpid()
        self._client.publish(self.name, payload)

    def listen(self, on_ready: Callable[[], None], on_message: Callable[[str], None], stopped: threading.Event) -> None:
        """Deliver each payload until the connection fails (it raises) or `stopped` is set."""
        client = self._connect(IDLE_CHECK + 5)
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(self.name)
            while not stopped.is_set():
                message = pubsub.get_message(timeout=IDLE_CHECK)
                if message is None:
                    pubsub.ping()  # its answer arrives as a message: a dead connection raises instead
                elif message["type"] == "subscribe":
                    on_ready()
                elif message["type"] == "message":
                    on_message(message["data"])
        finally:
            pubsub.close()
            client.close()


def channel_for(config, engine) -> PostgresChannel | RedisChannel | None:
    """Redis when REDIS_URL is set, else NOTIFY on PostgreSQL, else none (on SQLite without Redis,
    or with CACHE_CHANNEL empty: each process waits out its TTL)."""
    name = config["CACHE_CHANNEL"]
    if not name:
        return None
    if config.get("REDIS_URL"):
        return RedisChannel(config["REDIS_URL"], name)
    if engine.dialect.name == "postgresql":
        return PostgresChannel(engine.url.set(drivername="postgresql").render_as_string(hide_password=False), name)
    return None


class Listener:
    """One process's subscription to a channel, handing each invalidation to `forget`."""

    def __init__(self, channel, forget: Callable[[str, Hashable | None], None], forget_all: Callable[[], None]):
        self.channel, self.forget, self.forget_all = channel, forget, forget_all
        self.pid = None
        self.connected = threading.Event()  # set while subscribed
        self._stopped = threading.Event()
        self._failing = False  # the last attempt failed (and said so once)
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        """Start listening in this process, unless it already does (a fork leaves the thread behind)."""
        if self.pid == os.getpid():
            return
        with self._lock:
            if self.pid != os.getpid():
                self.pid = os.getpid()
                self.connected.clear()
                threading.Thread(target=self._run, name="cache-invalidations", daemon=True).start()

    def stop(self) -> None:
        """Stop listening (within IDLE_CHECK seconds)."""
        self._stopped.set()

    def _run(self):
        delay = BACKOFF_FIRST
        while not self._stopped.is_set():
            try:
                self.channel.listen(self._ready, self._received, self._stopped)
            except Exception as e:  # noqa: BLE001 (any failure: listen again later, the TTL holds meanwhile)
                if self._stopped.is_set():
                    return
                if self.connected.is_set():
                    delay = BACKOFF_FIRST  # it was listening: a new outage, not the same one going on
                if not self._failing:
                    log.warning("cache invalidations are not being received (%s: %s); cached entries "
                                "expire after their TTL until listening again", type(e).__name__, e)
                self._failing = True
            self.connected.clear()
            if self._stopped.wait(delay):
                return
            delay = min(delay * 2, BACKOFF_MAX)

    def _ready(self):
        self.forget_all()  # what changed while not listening is unknown
        self.connected.set()
        if self._failing:
            log.warning("cache invalidations are being received again")
            self._failing = False

    def _received(self, payload):
        try:
            name, key = decode(payload)
            self.forget(name, key)
        except (ValueError, TypeError, KeyError):
            log.warning("ignored a cache invalidation that is not [cache, key]: %r", payload)
