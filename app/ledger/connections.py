"""The PostgreSQL repository's own connections: autocommit psycopg connections lent per use.

The consent write and check run one or two single statements each. Through SQLAlchemy's pool a
statement also paid a checkout, a ping and a reset; these connections skip all three. They are
lent out for one use and put back, so one process needs as many as it runs statements at once
(a thread, or a greenlet under gunicorn's gevent worker) and never one per client connection.
At most `max_open` are open per process; a borrower waits for one beyond that.

A connection found broken is closed, and so is every idle one with it (a PostgreSQL restart
breaks them all): `Connections.run` then runs its function once more on a new connection.
"""
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import psycopg
from psycopg.pq import TransactionStatus

WAIT_SECONDS = 30
T = TypeVar("T")


class ConnectionPool:
    """Idle connections to one database in one process, and a bound on how many are open."""

    def __init__(self, url: str, max_open: int) -> None:
        self.url = url
        self.pid = os.getpid()
        self.idle: list[psycopg.Connection] = []
        self.slots = threading.BoundedSemaphore(max_open)
        self.opened = 0  # connections made, for tests

    def _connect(self) -> psycopg.Connection:
        self.opened += 1
        # UTC: the datetimes read back are the ones written, whatever the server's TimeZone
        return psycopg.connect(self.url, autocommit=True, options="-c TimeZone=UTC")

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection for the duration of the block, autocommit: each statement commits when it returns."""
        if not self.slots.acquire(timeout=WAIT_SECONDS):
            raise TimeoutError(f"no database connection free within {WAIT_SECONDS} s")
        conn = None
        try:
            while self.idle and conn is None:
                conn = self.idle.pop()
                if conn.closed or conn.broken:
                    conn = None
            if conn is None:
                conn = self._connect()
            yield conn
        finally:
            if conn is not None:
                if conn.closed or conn.broken:
                    self.discard_idle()
                elif conn.info.transaction_status == TransactionStatus.IDLE:
                    self.idle.append(conn)
                else:  # a statement left it mid-transaction (it should not): start clean next time
                    conn.close()
            self.slots.release()

    def discard_idle(self) -> None:
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.close()


class Connections:
    """The connections one app's repository uses: this process's pool (a new one after a fork,
    since a child must not share its parent's sockets), and one retry on a lost connection."""

    def __init__(self, url: str, max_open: int) -> None:
        self.url = url
        self.max_open = max_open
        self._pool = ConnectionPool(url, max_open)
        self._lock = threading.Lock()

    def pool(self) -> ConnectionPool:
        """This process's pool."""
        pool = self._pool
        if pool.pid != os.getpid():
            with self._lock:
                if self._pool.pid != os.getpid():
                    self._pool = ConnectionPool(self.url, self.max_open)
                pool = self._pool
        return pool

    def run(self, fn: Callable[[psycopg.Connection], T]) -> T:
        """fn(conn) on a lent connection, once more on a fresh one if the first was lost (a PostgreSQL
        restart): what the repository runs is safe to repeat (lookups, and inserts guarded by their
        unique client_record_id)."""
        pool = self.pool()
        with pool.connection() as conn:
            try:
                return fn(conn)
            except psycopg.OperationalError:
                if not (conn.broken or conn.closed):
                    raise
        with pool.connection() as conn:
            return fn(conn)
