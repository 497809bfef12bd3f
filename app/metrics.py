"""Prometheus metrics, and `GET /metrics`, which exports them in Prometheus' text format.

What is counted, and where:

  opsiq_http_requests_total{route, method, status}   every answer, once: the front door counts its own
      (app/api/front_door.py), Flask the rest (hooks below); `route` is the URL rule (`/api/v1/visitors/
      <visitor_id>/consent`), never the path, so the number of series stays bounded ("unmatched": no rule)
  opsiq_request_duration_seconds{operation}          the consent write, check and batch check
  opsiq_group_commit_batch_size{committer}           each batch of app/ledger/group_commit.py (writes, lookups)
  opsiq_database_errors_total{kind}                  `outage`: a request answered 503 (app/api/errors.py),
      `failed`: another database error answered 500, `group_commit_retry`: a write whose batch failed,
      written again alone (app/ledger/extension.py)
  opsiq_webhook_deliveries_pending, _dead, opsiq_database_up   read from the database at scrape time

Under gunicorn the workers are separate processes: gunicorn.conf.py gives them a fresh
PROMETHEUS_MULTIPROC_DIR before any loads the app, prometheus_client then keeps each worker's values
in files there, and a scrape (answered by any worker) adds them up. Without it (flask run, the tests)
each app has a registry of its own. Either way the metric objects belong to the app, made in
`init_app`: two apps in one process share nothing.

The write and the check are the busiest routes, so their cost is kept to one counter increment and
one histogram observation, with every label resolved once (`Meter`). Configuration, read once:

  METRICS_TOKEN          the bearer token a scraper sends; unset: /metrics is open in development, and
                         in production neither served nor counted (it tells anyone the service's
                         traffic and backlog; a deployment without a scraper pays nothing)
  METRICS_MULTIPROC_DIR  PROMETHEUS_MULTIPROC_DIR from the environment (set by gunicorn.conf.py)
"""
import hmac
import logging
from time import perf_counter

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, request
from flask_smorest import abort
from prometheus_client import CollectorRegistry, Counter, Histogram, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger(__name__)

EXTENSION = "opsiq_metrics"
STARTED, STATUS = "opsiq.metrics.started", "opsiq.metrics.status"  # a Flask request's, in its WSGI environ
UNMATCHED = "unmatched"  # the route of a request no URL rule matched (404, 405)
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))  # any other: "other"
# The timed operations, by method and URL rule: the front door and Flask time the same three.
TIMED = {("POST", "/api/v1/consents"): "write", ("POST", "/api/v1/consent-checks"): "check",
         ("POST", "/api/v1/consent-checks/batch"): "check_batch"}
# A write takes ~1 ms alone and tens under load, a 10,000-item batch check ~150 ms.
SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)  # the write committer takes 64 at most, lookups 256
DATABASE_ERRORS = ("outage", "failed", "group_commit_retry")
SCRAPE_STATEMENT_TIMEOUT_MS = 2000  # a scrape's count on PostgreSQL; Prometheus' own timeout is 10 s


class Meter:
    """One route's instruments with their labels resolved: a counter per status (made on first use)
    and the operation's histogram, if it is timed."""

    __slots__ = ("_by_status", "_method", "_requests", "_route", "_seconds")

    def __init__(self, requests: Counter, method: str, route: str, seconds=None) -> None:
        self._requests, self._method, self._route = requests, method, route
        self._by_status = {}
        self._seconds = seconds

    def answered(self, status: int, seconds: float) -> None:
        """Count one answer, and time it if the route is timed."""
        child = self._by_status.get(status)
        if child is None:  # two greenlets may both get here: labels() hands both the same child
            child = self._by_status[status] = self._requests.labels(self._route, self._method, str(status))
        child.inc()
        if self._seconds is not None:
            self._seconds.observe(seconds)


class _Off:
    """The meter of an app whose metrics are off (production without METRICS_TOKEN): counts nothing."""

    __slots__ = ()

    def answered(self, status: int, seconds: float) -> None:
        pass


OFF = _Off()


class DatabaseGauges:
    """Read at scrape time: the webhook deliveries pending and dead (one count on the index on
    `status`), and whether the database answered. A scrape while the database is out of reach still
    answers, with everything kept in process and `opsiq_database_up 0`."""

    def __init__(self, db) -> None:
        self.db = db

    def collect(self):
        from app.models import WebhookDelivery  # the models import app.extensions, which imports this module

        up = GaugeMetricFamily("opsiq_database_up", "Whether this scrape could read the database (1) or not (0)")
        try:
            with self.db.engine.connect() as conn:
                if conn.dialect.name == "postgresql":  # a slow count must not fail the whole scrape
                    conn.execute(sa.text(f"SET LOCAL statement_timeout = {SCRAPE_STATEMENT_TIMEOUT_MS}"))
                counts = dict(conn.execute(sa.select(WebhookDelivery.status, sa.func.count())
                                           .where(WebhookDelivery.status.in_(("pending", "dead")))
                                           .group_by(WebhookDelivery.status)).all())
        except sa.exc.SQLAlchemyError as e:
            log.warning("metrics: database not read (%s: %s)", type(e).__name__, e)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("opsiq_webhook_deliveries_pending", "Webhook deliveries waiting to be sent (the queue)",
                                value=counts.get("pending", 0))
        yield GaugeMetricFamily("opsiq_webhook_deliveries_dead", "Webhook deliveries given up on (dead letters)",
                                value=counts.get("dead", 0))


class AppMetrics:
    """One app's metric objects, its registry (None in multiprocess mode) and its meters."""

    def __init__(self, db, token: str | None, multiprocess_dir: str | None) -> None:
        self.token = token.encode() if token else None
        self.multiprocess_dir = multiprocess_dir
        self.registry = None if multiprocess_dir else CollectorRegistry()
        registry = self.registry
        self.requests = Counter("opsiq_http_requests", "Answers by route (URL rule), method and status",
                                ("route", "method", "status"), registry=registry)
        self.seconds = Histogram("opsiq_request_duration_seconds", "Time to answer a consent write, check or batch "
                                 "check, from the body's first byte to the answer", ("operation",),
                                 buckets=SECONDS_BUCKETS, registry=registry)
        self.batch_sizes = Histogram("opsiq_group_commit_batch_size", "Items written or looked up together by "
                                     "one group commit", ("committer",), buckets=BATCH_BUCKETS, registry=registry)
        errors = Counter("opsiq_database_errors", "Database errors: outage (answered 503), failed (answered "
                         "500), group_commit_retry (a write written again alone after its batch failed)",
                         ("kind",), registry=registry)
        self.database_errors = {kind: errors.labels(kind) for kind in DATABASE_ERRORS}
        self.gauges = DatabaseGauges(db)
        if registry is not None:
            registry.register(self.gauges)  # no describe(): registering reads nothing
        self._meters: dict[tuple[str, str], Meter] = {}

    def meter(self, method: str, route: str) -> Meter:
        """The meter of a method and URL rule, made once."""
        meter = self._meters.get((method, route))
        if meter is None:
            operation = TIMED.get((method, route))
            seconds = self.seconds.labels(operation) if operation else None
            meter = self._meters.setdefault((method, route), Meter(self.requests, method, route, seconds))
        return meter

    def scrape_registry(self) -> CollectorRegistry:
        """What a scrape exports: this process's registry, or every worker's files and the gauges."""
        if self.registry is not None:
            return self.registry
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)
        registry.register(self.gauges)
        return registry

    # Flask's hooks: the start stamped first, the status noted last, the answer counted once at teardown
    # (which runs once per request even when a hook fails, after_request then running twice). Each
    # resolves the `request` proxy once: every attribute read through it costs ~0.6 us.

    def started(self) -> None:
        request._get_current_object().environ[STARTED] = perf_counter()

    def answered(self, response):
        request._get_current_object().environ[STATUS] = response.status_code
        return response

    def finished(self, error) -> None:
        req = request._get_current_object()
        environ = req.environ
        started = environ.pop(STARTED, None)
        if started is None:
            return  # a request context that no request came through (test_request_context)
        rule, method = req.url_rule, req.method
        meter = self.meter(method if method in METHODS else "other", rule.rule if rule is not None else UNMATCHED)
        meter.answered(environ.pop(STATUS, 500), perf_counter() - started)  # no status: an error escaped

    def authorize(self, header: str | None) -> None:
        """Abort unless the request carries the token (when one is set): 401 without one, 403 with another."""
        if self.token is None:
            return
        scheme, _, given = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            abort(401, message="Send the metrics token as `Authorization: Bearer <METRICS_TOKEN>`.",
                  headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        if not hmac.compare_digest(given.strip().encode("utf-8", "surrogatepass"), self.token):
            abort(403, message="Wrong metrics token.")


bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def export_metrics():
    """Every metric in Prometheus' text format (OpenMetrics if the scraper asks for it)."""
    state = current_app.extensions[EXTENSION]
    state.authorize(request.headers.get("Authorization"))
    encode, content_type = choose_encoder(request.headers.get("Accept"))
    return Response(encode(state.scrape_registry()), 200, {"Content-Type": content_type, "Cache-Control": "no-store"})


class Metrics:
    """Flask extension, created unbound in app/extensions.py; `init_app` before the front door and
    the ledger are made, since both take their instruments from it."""

    def init_app(self, app: Flask, db) -> None:
        config = app.config
        token, directory = config.get("METRICS_TOKEN"), config.get("METRICS_MULTIPROC_DIR")
        if not token and config["OPSIQ_ENV"] == "production":
            app.extensions[EXTENSION] = None  # not served, nothing counted
            return
        if directory and values.ValueClass is values.MutexValue:
            from app import ConfigError

            raise ConfigError("PROMETHEUS_MULTIPROC_DIR must be set before prometheus_client is imported "
                              "(gunicorn.conf.py sets it in the master, before the workers load the app)")
        state = app.extensions[EXTENSION] = AppMetrics(db, token, directory)
        app.before_request_funcs.setdefault(None, []).insert(0, state.started)  # before any hook can refuse
        app.after_request_funcs.setdefault(None, []).insert(0, state.answered)  # run last: the final status
        app.teardown_request(state.finished)
        app.register_blueprint(bp)


def meter_for(app: Flask, method: str, route: str) -> Meter | _Off:
    """The meter the front door uses for one of its routes (`OFF` when the app's metrics are off)."""
    state = app.extensions.get(EXTENSION)
    return state.meter(method, route) if state is not None else OFF


def batch_observer(app: Flask, committer: str):
    """What a group committer calls with each batch's size (None when the app's metrics are off)."""
    state = app.extensions.get(EXTENSION)
    return state.batch_sizes.labels(committer).observe if state is not None else None


def count_database_error(kind: str) -> None:
    """Count a database error of the current app (`kind` one of DATABASE_ERRORS)."""
    state = current_app.extensions.get(EXTENSION)
    if state is not None:
        state.database_errors[kind].inc()
