"""gunicorn's settings for OpsIQ Consent; `gunicorn wsgi:app` reads this file from the working directory.

The worker is gevent's: one process per core, a greenlet per client connection. Measured on the
2-core development machine (bench/run.py, README), against the sync and gthread workers: a
durable consent write waits for PostgreSQL's commit, and greenlets waiting together let the
writes of one process share a transaction (app/ledger/group_commit.py) and the checks share a
query, at a fraction of a thread switch. psycopg 3 cooperates with gevent by itself (3.1.14+), and
so does each worker's listener for cache invalidations (a greenlet waiting in psycopg's notifies()
or on redis-py's patched socket; tests/test_invalidations.py holds it to that).

Every setting can be overridden on the command line or with GUNICORN_CMD_ARGS.
"""
import glob
import os
import shutil
import sys
import tempfile

bind = os.environ.get("OPSIQ_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("OPSIQ_WORKERS") or 0) or (os.cpu_count() or 1)
worker_class = "gevent"
worker_connections = 1000
# a worker's heartbeat keeps running while a greenlet streams a long export, so the default holds
timeout = 30
graceful_timeout = 30


def post_request(worker, req, environ, resp):
    """Let the worker's other connections run before this keep-alive connection's next request:
    a greenlet whose client sends requests back to back would otherwise never yield (measured:
    a p99 in the hundreds of milliseconds for the cheapest route)."""
    if worker.__class__.__name__.startswith("Gevent"):
        import gevent

        gevent.sleep(0)


def post_worker_init(worker):
    """Move everything the app loaded into the collector's permanent generation: full collections
    then walk only what requests allocate (fewer, shorter pauses in the latency tail)."""
    import gc

    gc.freeze()


def on_starting(server):
    """Metrics from every worker (app/metrics.py, prometheus_client's multiprocess mode): each worker
    keeps its values in files in PROMETHEUS_MULTIPROC_DIR, and a scrape adds them all up. A fresh
    temporary directory per server start, or the one the environment names emptied of a previous
    run's files. Set here, in the master, before any worker loads the app: prometheus_client picks
    the mode when first imported (so no preload_app)."""
    # set by a master that made its own: one exec'd from it (USR2) makes another rather than empty that one
    made = os.environ.get("OPSIQ_METRICS_DIR_MADE")
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR") if not made else None
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in glob.glob(os.path.join(directory, "*.db")):
            os.remove(name)
        server.metrics_dir_made = None
    else:
        directory = server.metrics_dir_made = tempfile.mkdtemp(prefix="opsiq-metrics-")
        os.environ["OPSIQ_METRICS_DIR_MADE"] = "1"
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    values = sys.modules.get("prometheus_client.values")  # imported already (preload_app): too late for the mode?
    if values is not None and values.ValueClass is values.MutexValue:
        server.log.warning("metrics: the app was loaded before on_starting; each scrape shows one worker's")


def child_exit(server, worker):
    """A worker is gone: prometheus_client forgets its live gauges (its counters still count)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics directory this server made (one the environment named is left in place)."""
    if getattr(server, "metrics_dir_made", None):
        shutil.rmtree(server.metrics_dir_made, ignore_errors=True)
