"""The ledger as a Flask extension: what each app's ledger holds, made once in `init_app`.

Per app (never per process, so two apps in one process share nothing): the repository its
database uses; two group committers, so that the writes arriving together share a transaction
and the lookups arriving together one query; the PostgreSQL connections; and the clock of the
seals made from the write path. Configuration is read once, in `init_app`:

  GROUP_COMMIT          False: each write its own transaction, even when several arrive together
  HOT_CONNECTIONS       PostgreSQL connections the writes and checks may hold open per process
  LEDGER_SEAL_INTERVAL  seconds between seals made from the write path (0: none)
  LEDGER_SEAL_LAG       records younger than this are left for the next seal

On PostgreSQL through psycopg the PostgreSQL repository serves; elsewhere the portable one.
"""
import time
from collections.abc import Sequence

import sqlalchemy as sa
from flask import Flask, current_app

from app.ledger.connections import Connections
from app.ledger.group_commit import GroupCommit
from app.ledger.records import Draft, LatestRecord, Repository, Written
from app.metrics import batch_observer, count_database_error


def serves_postgres(engine: sa.Engine) -> bool:
    """Whether an engine's database gets the PostgreSQL repository: PostgreSQL through psycopg."""
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"


class AppLedger:
    """One app's ledger: its repository, group committers, connections and seal clock."""

    def __init__(self, repository: Repository, writes: GroupCommit | None = None, lookups: GroupCommit | None = None,
                 connections: Connections | None = None, seal_interval: float = 0, seal_lag: float = 5) -> None:
        self.repository = repository
        self.writes = writes  # None: each write on its own
        self.lookups = lookups  # None: each lookup on its own
        self.connections = connections  # the PostgreSQL repository's, else None
        self.seal_interval = seal_interval
        self.seal_lag = seal_lag
        self._sealed_at: dict[int, float] = {}  # site id -> monotonic time of the last seal from a write

    def maybe_seal(self, site_id: int) -> None:
        """Seal from the write path: at most once per interval per site, at most AUTO_SEAL_LIMIT
        records (`flask ledger seal --every` does the bulk on a busy site)."""
        if self.seal_interval <= 0:
            return
        now = time.monotonic()
        if now - self._sealed_at.get(site_id, 0) < self.seal_interval:
            return
        self._sealed_at[site_id] = now
        from app.ledger import seals  # imported here, as the repositories are (see make_app_ledger)

        seals.seal_site(site_id, self.seal_lag, limit=seals.AUTO_SEAL_LIMIT)


def make_app_ledger(app: Flask, engine: sa.Engine) -> AppLedger:
    """The AppLedger for an app's configuration and engine."""
    config = app.config
    seal = {"seal_interval": float(config["LEDGER_SEAL_INTERVAL"]), "seal_lag": float(config["LEDGER_SEAL_LAG"])}
    # imported here: the repositories import the models, which import app.extensions, which imports this module
    if not serves_postgres(engine):
        from app.ledger.portable import PortableRepository

        return AppLedger(PortableRepository(engine), **seal)
    from app.ledger.postgres import PostgresRepository

    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    connections = Connections(url, int(config["HOT_CONNECTIONS"]))
    repository = PostgresRepository(connections)
    writes = None
    if config["GROUP_COMMIT"]:
        writes = GroupCommit(repository.write_together, on_batch=batch_observer(app, "writes"))
    lookups = GroupCommit(repository.latest_each, max_batch=256, on_batch=batch_observer(app, "lookups"))
    return AppLedger(repository, writes, lookups, connections, **seal)


class Ledger:
    """The consent ledger of the current app. Created unbound in app/extensions.py; `init_app`
    after the database extension's, whose engine it uses."""

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        with app.app_context():
            engine = app.extensions["sqlalchemy"].engine
        app.extensions["ledger"] = make_app_ledger(app, engine)

    @property
    def state(self) -> AppLedger:
        """The current app's ledger."""
        return current_app.extensions["ledger"]

    def write(self, draft: Draft) -> Written:
        """Write one draft, with whatever others arrive meanwhile when group commit is on; committed
        when this returns. A repeated client_record_id writes nothing and returns the first record.
        Forbidden when the draft's secret is not its visitor's (rules.check_visitor_secret)."""
        state = current_app.extensions["ledger"]
        written = state.writes.submit(draft) if state.writes is not None else None
        if written is None:  # on its own: group commit is off, or its batch was refused
            if state.writes is not None:
                count_database_error("group_commit_retry")
            written = state.repository.write([draft])[0]
            if isinstance(written, Exception):  # refused for its visitor's secret
                raise written
        if written.created:
            state.maybe_seal(draft.site_id)
        return written

    def latest(self, site_id: int, visitor_id: str) -> LatestRecord | None:
        """The visitor's latest record, or None. Lookups arriving together in one process share one
        query where the repository can (no timer: a lone lookup runs at once); each still sees
        every record committed before it was asked."""
        state = current_app.extensions["ledger"]
        if state.lookups is not None:
            return state.lookups.submit((site_id, visitor_id))
        return state.repository.latest(site_id, visitor_id)

    def latest_many(self, site_id: int, visitor_ids: Sequence[str]) -> dict[str, LatestRecord]:
        """{visitor_id: latest record} for those of `visitor_ids` the site has recorded, in one query
        (a few on SQLite)."""
        return self.state.repository.latest_many(site_id, visitor_ids)
