"""The hot paths' own PostgreSQL connections: autocommit psycopg connections lent per use.

The consent write and check run one or two single statements each. Through SQLAlchemy's pool a
statement also paid a checkout, a ping and a reset; these connections skip all three. They are
lent out for one use and put back, so one process needs as many as it runs statements at once
(a thread, or a greenlet under gunicorn's gevent worker) and never one per client connection.
At most MAX_OPEN are open per process and database; a borrower waits for one beyond that.

A connection found broken is closed, and so is every idle one with it (a PostgreSQL restart
breaks them all): `with_autocommit` then runs its function once more on a new connection.
"""
import os
import threading
from contextlib import contextmanager

MAX_OPEN = int(os.environ.get("OPSIQ_HOT_CONNECTIONS", "8"))
WAIT_SECONDS = 30


class HotPool:
    """Idle connections to one database in one process, and a bound on how many are open."""

    def __init__(self, url, max_open=MAX_OPEN):
        self.url = url
        self.pid = os.getpid()
        self.idle = []
        self.slots = threading.BoundedSemaphore(max_open)
        self.opened = 0  # connections made, for tests

    def _connect(self):
        import psycopg

        self.opened += 1
        return psycopg.connect(self.url, autocommit=True)

    @contextmanager
    def connection(self):
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
                from psycopg.pq import TransactionStatus

                if conn.closed or conn.broken:
                    self.discard_idle()
                elif conn.info.transaction_status == TransactionStatus.IDLE:
                    self.idle.append(conn)
                else:  # a statement left it mid-transaction (it should not): start clean next time
                    conn.close()
            self.slots.release()

    def discard_idle(self):
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.close()


def serves(engine):
    """Whether the hot paths run on this engine's database: PostgreSQL through psycopg."""
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"


_pools = {}
_lock = threading.Lock()


def pool_for(engine):
    """This process's HotPool for a SQLAlchemy engine's PostgreSQL database (a new one after a fork)."""
    pool = _pools.get(engine)
    if pool is None or pool.pid != os.getpid():
        with _lock:
            pool = _pools.get(engine)
            if pool is None or pool.pid != os.getpid():
                url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                pool = _pools[engine] = HotPool(url)
    return pool
