"""The one cache type: what every request reads and an owner rarely changes, kept per app.

Five caches use it, each keyed by what the request paths have in hand: site snapshots (by site
key), API keys (the SHA-256 of the key -> its site key), webhook subscriptions and keyrings (by
site id), and the widget builds served (by SHA-256). A `Cache` trusts an entry for `max_age` seconds (0: no caching at all), and:

- a hit costs a dict lookup and a clock read, and takes no lock;
- a stale entry is re-read by one caller while the others keep the stale value meanwhile, so an
  expiry under load costs one query, not one per waiting request; a missing entry (a cold start,
  or just after an invalidation) is read by one caller while the others wait for its answer;
- a miss (the loader answered None: an unknown site key or API key) is remembered like any other
  answer, so a client repeating a wrong key costs one query per TTL rather than one per request;
- a read that overlapped an invalidation is returned but not kept: it may predate the change.

A service that changes cached data calls `caches.changed(name, key)` inside its transaction. Once
the transaction commits (`after_commit`), the entry is dropped in this process at once, and in every
other process within moments through the channel of app/invalidations.py (PostgreSQL NOTIFY, or
Redis with REDIS_URL); nothing happens if it rolls back. `Caches` is the Flask extension (created
unbound in app/extensions.py) that gives each app its own caches, so two apps in one process never
share an entry.
"""
import logging
import os
import threading
import time
from typing import Any, Callable, Hashable

import sqlalchemy as sa
from flask import Flask

# Flask's own context variable (Flask 2.2 to 3.1): through the `current_app` proxy, finding the
# app's caches would cost several times the cache hit it leads to
from flask.globals import _cv_app

from app import invalidations

log = logging.getLogger(__name__)

EXTENSION = "opsiq_caches"
PENDING = "opsiq_cache_changes"  # session.info key: (hub, name, key) changed in the open transaction

_clock = time.monotonic
FIRST_READ_WAIT = 10  # seconds a caller waits for another's first read of a key before reading it itself


class Cache:
    """Entries read from the database, each trusted for the `max_age` its caller passes."""

    __slots__ = ("name", "max_entries", "_entries", "_refreshing", "_loading", "_lock", "_generation", "_on_store")

    def __init__(self, name: str, max_entries: int = 10_000, on_store: Callable[[], None] | None = None):
        self.name = name
        self.max_entries = max_entries  # unknown keys are kept too: made-up ones must not grow it for ever
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._refreshing: set = set()
        self._loading: dict[Hashable, threading.Event] = {}  # keys with no entry that one caller is reading
        self._lock = threading.Lock()  # a gevent lock once monkey-patched; never held across I/O
        self._generation = 0  # counts invalidations: a read that saw another number keeps nothing
        self._on_store = on_store

    def get(self, key: Hashable, max_age: float, load: Callable[[Any], Any], arg: Any) -> Any:
        """The value for `key`, read with `load(arg)` unless an entry younger than `max_age` exists."""
        entry = self._entries.get(key)
        if entry is not None and _clock() - entry[0] < max_age:
            return entry[1]
        return self._read(key, entry, max_age, load, arg)

    def _read(self, key, entry, max_age, load, arg):
        if max_age <= 0:
            return load(arg)
        if entry is None:
            return self._first_read(key, max_age, load, arg)
        if entry is not None:
            with self._lock:
                if key in self._refreshing:
                    return entry[1]  # another caller is re-reading it right now: a herd helps nobody
                self._refreshing.add(key)
        try:
            generation, started = self._generation, _clock()  # an entry's age counts from before its read
            value = load(arg)
            self._store(key, entry, generation, started, value)
            return value
        finally:
            if entry is not None:
                with self._lock:
                    self._refreshing.discard(key)

    def _first_read(self, key, max_age, load, arg):
        """A key with no entry: one caller reads it, the others wait for that read (then use its entry)."""
        with self._lock:
            loading = self._loading.get(key)
            if loading is None:
                loading = self._loading[key] = threading.Event()
                leader = True
            else:
                leader = False
        if not leader:
            loading.wait(FIRST_READ_WAIT)
            entry = self._entries.get(key)
            if entry is not None:
                return entry[1]
            return load(arg)  # the leader failed, or its read was overtaken by an invalidation
        try:
            generation, started = self._generation, _clock()
            value = load(arg)
            self._store(key, None, generation, started, value)
            return value
        finally:
            with self._lock:
                self._loading.pop(key, None)
            loading.set()

    def _store(self, key, seen, generation, started, value):
        with self._lock:
            if generation != self._generation:
                if self._entries.get(key) is seen:
                    self._entries.pop(key, None)  # the stale entry is no better than what was just read
                return
            if key not in self._entries and len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]  # the oldest: it is read again if still wanted
            self._entries[key] = (started, value)
        if self._on_store is not None:
            self._on_store()

    def invalidate(self, key: Hashable) -> None:
        """Forget one entry in this process (and keep no read that was under way)."""
        with self._lock:
            self._generation += 1
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget every entry in this process."""
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class CacheHub:
    """One app's caches, and what becomes of the changes its transactions make to cached data."""

    def __init__(self, app: Flask, db):
        max_entries = app.config["CACHE_MAX_ENTRIES"]
        self.app, self.db = app, db
        self.sites = Cache("sites", max_entries, self._stored)
        self.api_keys = Cache("api_keys", max_entries, self._stored)
        self.webhooks = Cache("webhooks", max_entries, self._stored)
        self.keyrings = Cache("keyrings", max_entries, self._stored)
        self.widget_builds = Cache("widget_builds", max_entries, self._stored)  # never changed: no invalidation
        self.by_name = {c.name: c for c in (self.sites, self.api_keys, self.webhooks, self.keyrings,
                                            self.widget_builds)}
        self._channel = self._listener = None
        self._channel_chosen = False  # on first use: the engine is only there inside an app context
        self._lock = threading.Lock()

    def channel(self) -> invalidations.PostgresChannel | invalidations.RedisChannel | None:
        """The channel to other processes (None: this process alone). Needs an app context once."""
        if not self._channel_chosen:
            with self._lock:
                if not self._channel_chosen:
                    self._channel = invalidations.channel_for(self.app.config, self.db.engine)
                    if self._channel is not None:
                        self._listener = invalidations.Listener(self._channel, self.forget, self.clear)
                    self._channel_chosen = True
        return self._channel

    def _stored(self) -> None:
        # an entry now waits for invalidations: this process must be listening (started here, so after a fork)
        if self.channel() is not None:
            self._listener.ensure_running()

    def listening(self) -> bool:
        """Whether this process receives other processes' invalidations right now."""
        return self._listener is not None and self._listener.pid == os.getpid() and self._listener.connected.is_set()

    def changed(self, session, name: str, key: Hashable | None) -> None:
        """Note a change in `session`'s open transaction; on PostgreSQL, NOTIFY it in that transaction."""
        if name not in self.by_name:
            raise ValueError(f"no cache named {name!r}")
        pending = session.info.setdefault(PENDING, [])
        if (self, name, key) in pending:
            return
        pending.append((self, name, key))
        channel = self.channel()
        if channel is not None and channel.in_transaction:
            channel.publish(session, invalidations.encode(name, key))

    def committed(self, name: str, key: Hashable | None) -> None:
        """A change to cached data is committed: forget it here, and tell the others if the
        channel is not part of the transaction."""
        self.forget(name, key)
        channel = self.channel()
        if channel is not None and not channel.in_transaction:
            try:
                channel.publish(invalidations.encode(name, key))
            except Exception as e:  # noqa: BLE001 (the change is made: other processes fall back on their TTL)
                log.warning("cache invalidation %s %r not published (%s: %s); other processes see the change "
                            "within their TTL", name, key, type(e).__name__, e)

    def forget(self, name: str, key: Hashable | None) -> None:
        """Drop one entry of one cache (every entry when `key` is None), in this process."""
        cache = self.by_name[name]
        if key is None:
            cache.clear()
        else:
            cache.invalidate(key)

    def clear(self) -> None:
        """Drop every entry of every cache, in this process."""
        for cache in self.by_name.values():
            cache.clear()

    def stop(self) -> None:
        """Stop listening to other processes (the caches go on, each entry bound by its TTL alone)."""
        if self._listener is not None:
            self._listener.stop()


def _after_commit(session):
    if session.in_nested_transaction():
        return  # a savepoint: the change is not committed until its transaction is
    for hub, name, key in session.info.pop(PENDING, ()):
        hub.committed(name, key)


def _after_transaction_end(session, transaction):
    if transaction.parent is None:
        session.info.pop(PENDING, None)  # rolled back or closed without a commit: nothing changed


class Caches:
    """Flask extension: each app's `CacheHub`; the properties answer for the current app."""

    def __init__(self):
        self._db = None

    def init_app(self, app: Flask, db) -> None:
        """Give `app` its caches, and forget changed entries whenever `db`'s session commits."""
        app.extensions[EXTENSION] = CacheHub(app, db)
        self._db = db
        if not sa.event.contains(db.session, "after_commit", _after_commit):
            sa.event.listen(db.session, "after_commit", _after_commit)
            sa.event.listen(db.session, "after_transaction_end", _after_transaction_end)

    @staticmethod
    def hub() -> CacheHub:
        """The current app's caches and channel."""
        return _cv_app.get().app.extensions[EXTENSION]

    @property
    def sites(self) -> Cache:
        return _cv_app.get().app.extensions[EXTENSION].sites

    @property
    def api_keys(self) -> Cache:
        return _cv_app.get().app.extensions[EXTENSION].api_keys

    @property
    def webhooks(self) -> Cache:
        return _cv_app.get().app.extensions[EXTENSION].webhooks

    @property
    def keyrings(self) -> Cache:
        return _cv_app.get().app.extensions[EXTENSION].keyrings

    @property
    def widget_builds(self) -> Cache:
        return _cv_app.get().app.extensions[EXTENSION].widget_builds

    def changed(self, name: str, key: Hashable | None = None) -> None:
        """Cached data changes in the open transaction: once it commits, `name`'s entry for `key`
        (every entry when `key` is None) is dropped here at once and in every other process through
        the channel. Call it before the commit, never after."""
        self.hub().changed(self._db.session, name, key)

    def clear(self) -> None:
        """Forget every entry of the current app, in this process: for tests that change tables
        behind the services' back."""
        self.hub().clear()

    def stop(self) -> None:
        """Stop the current app's listener in this process (before its database goes away)."""
        self.hub().stop()
