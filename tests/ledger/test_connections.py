"""The PostgreSQL repository's connections: lent and reused within a bound, and a pool of its own
for a forked process."""
import os
import threading

import pytest

from app.extensions import ledger
from app.ledger.connections import ConnectionPool
from tests.ledger.conftest import POSTGRES

pytestmark = pytest.mark.skipif(not POSTGRES, reason="the connections are PostgreSQL's (run with TEST_DATABASE_URL)")


def test_hot_connections_are_lent_and_reused_never_more_than_the_bound(app):
    with app.app_context():
        pool = ConnectionPool(ledger.state.connections.url, max_open=3)
    for _ in range(20):  # one after another: one connection does it all
        with pool.connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert pool.opened == 1 and len(pool.idle) == 1

    busy = []

    def slow():
        with pool.connection() as conn:
            busy.append(conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                     " AND query LIKE '%%pg_sleep%%' AND pid <> pg_backend_pid()").fetchone()[0])
            conn.execute("SELECT pg_sleep(0.05)")

    threads = [threading.Thread(target=slow) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(busy) == 12 and pool.opened <= 3 and max(busy) <= 2  # at most 3 at once, this one included
    pool.discard_idle()


def test_a_forked_process_gets_a_pool_of_its_own_and_leaves_the_parents_connections_alone(app):
    """As after gunicorn forks a worker: a child that used its parent's sockets would talk over it."""
    with app.app_context():
        connections = ledger.state.connections

    def backend():
        return connections.run(lambda conn: conn.execute("SELECT pg_backend_pid()").fetchone()[0])

    parent = backend()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its backend and leave at once, running no cleanup of the parent's
        try:
            os.write(write, str(backend()).encode())
        finally:
            os._exit(0)
    os.close(write)
    child = int(os.read(read, 64) or 0)
    os.waitpid(pid, 0)
    os.close(read)
    assert child not in (0, parent)
    assert backend() == parent  # the parent's connection still serves it
