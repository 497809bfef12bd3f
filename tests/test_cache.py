"""The one cache type: hits, expiry, single-flight re-reads, remembered misses, invalidation."""
import threading
import time

from app import create_app
from app.cache import EXTENSION, Cache
from app.extensions import caches


class Source:
    """A loader that counts its reads; `gate`, when set, holds each read until it is opened."""

    def __init__(self, value="v1"):
        self.value, self.reads, self.gate, self.reading = value, 0, None, threading.Event()

    def __call__(self, arg):
        self.reads += 1
        self.reading.set()
        if self.gate is not None:
            assert self.gate.wait(5)
        return self.value if arg != "unknown" else None


def test_a_hit_is_answered_without_a_read_until_it_is_older_than_max_age():
    cache, source = Cache("t"), Source()
    assert cache.get("k", 0.2, source, "k") == "v1"
    source.value = "v2"
    assert cache.get("k", 0.2, source, "k") == "v1" and source.reads == 1
    time.sleep(0.25)
    assert cache.get("k", 0.2, source, "k") == "v2" and source.reads == 2


def test_max_age_zero_reads_every_time_and_keeps_nothing():
    cache, source = Cache("t"), Source()
    for _ in range(3):
        assert cache.get("k", 0, source, "k") == "v1"
    assert source.reads == 3 and len(cache) == 0


def test_a_miss_is_remembered_like_an_answer():
    cache, source = Cache("t"), Source()
    assert cache.get("unknown", 60, source, "unknown") is None
    assert cache.get("unknown", 60, source, "unknown") is None
    assert source.reads == 1
    cache.invalidate("unknown")  # what a creation does
    source.value = "made"
    assert cache.get("unknown", 60, source, "known") == "made"


def test_a_stale_entry_is_reread_by_one_caller_while_the_others_keep_it():
    cache, source = Cache("t"), Source()
    cache.get("k", 0.05, source, "k")
    time.sleep(0.06)
    source.value, source.gate, source.reading = "v2", threading.Event(), threading.Event()
    rereader = threading.Thread(target=cache.get, args=("k", 0.05, source, "k"))
    rereader.start()
    assert source.reading.wait(5)
    try:
        assert [cache.get("k", 0.05, source, "k") for _ in range(5)] == ["v1"] * 5  # no herd
    finally:
        source.gate.set()
        rereader.join(5)
    assert source.reads == 2
    assert cache.get("k", 0.05, source, "k") == "v2"


def test_a_key_with_no_entry_is_read_once_while_the_others_wait_for_that_read():
    cache, source = Cache("t"), Source()
    source.gate = threading.Event()
    answers = []
    callers = [threading.Thread(target=lambda: answers.append(cache.get("k", 60, source, "k"))) for _ in range(8)]
    for t in callers:
        t.start()
    assert source.reading.wait(5)
    time.sleep(0.05)  # the others have arrived and wait behind the first read
    source.gate.set()
    for t in callers:
        t.join(5)
    assert answers == ["v1"] * 8 and source.reads == 1  # a cold start under load costs one query, not eight


def test_a_read_that_overlapped_an_invalidation_is_returned_but_not_kept():
    cache, source = Cache("t"), Source()
    source.gate = threading.Event()
    answers = []
    reader = threading.Thread(target=lambda: answers.append(cache.get("k", 60, source, "k")))
    reader.start()
    assert source.reading.wait(5)
    cache.invalidate("other")  # any change while the read is under way: it may predate it
    source.gate.set()
    reader.join(5)
    assert answers == ["v1"] and len(cache) == 0
    source.gate = None
    assert cache.get("k", 60, source, "k") == "v1" and source.reads == 2 and len(cache) == 1


def test_the_oldest_entry_makes_room_beyond_max_entries():
    cache, source = Cache("t", max_entries=3), Source()
    for key in ("a", "b", "c", "d"):
        cache.get(key, 60, source, key)
    assert len(cache) == 3
    cache.get("a", 60, source, "a")
    assert source.reads == 5  # "a" was the one let go
    cache.clear()
    assert len(cache) == 0


def test_each_app_has_caches_of_its_own(app, site):
    from app.extensions import db
    from app.services.sites.snapshot import site_snapshot

    other = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "TESTING": True,
                        "CACHE_CHANNEL": ""})
    assert other.extensions[EXTENSION] is not app.extensions[EXTENSION]
    with app.app_context():
        assert site_snapshot(site[0], 60) is not None and len(caches.sites) == 1
    with other.app_context():
        assert len(caches.sites) == 0
        db.engine.dispose()
