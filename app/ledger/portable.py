"""The ledger on any database SQLAlchemy speaks, in SQLAlchemy Core: SQLite in development and
tests, and the reference the PostgreSQL repository is held to (tests/ledger/test_repository_contract.py).

Each record is finished in Python by the rules (app/ledger/rules.py) and written in a transaction
of its own, with its outbox rows when the site has webhook subscriptions.
"""
from collections.abc import Sequence

import sqlalchemy as sa

from app.errors import Forbidden
from app.ledger import rules
from app.ledger.records import LATEST_COLUMNS, RECORD_COLUMNS, Draft, LatestRecord, Record, Written
from app.models import ConsentRecord
from app.models.types import utcnow
from app.services.webhooks.outbox import add_to_outbox, subscriptions

_T = ConsentRecord.__table__
_INSERT = sa.insert(_T)
_FIND = sa.select(*[_T.c[c] for c in RECORD_COLUMNS]).where(
    _T.c.client_record_id == sa.bindparam("client_record_id"), _T.c.site_id == sa.bindparam("site_id"))
# an index-only walk of (site_id, visitor_id, id) to the visitor's newest row
_LATEST = (sa.select(*[_T.c[c] for c in LATEST_COLUMNS])
           .where(_T.c.site_id == sa.bindparam("site_id"), _T.c.visitor_id == sa.bindparam("visitor_id"))
           .order_by(_T.c.id.desc()).limit(1))
CHUNK = 5000  # visitors per query: SQLite allows 32,766 bound variables


class PortableRepository:
    """The Repository contract in SQLAlchemy Core (see the module docstring)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def write(self, drafts: Sequence[Draft]) -> list[Written | Forbidden]:
        return [self._write_one(draft) for draft in drafts]

    def find(self, site_id: int, client_record_id: str) -> Record | None:
        with self.engine.connect() as conn:
            row = conn.execute(_FIND, {"client_record_id": client_record_id, "site_id": site_id}).first()
        return Record(*row) if row else None

    def latest(self, site_id: int, visitor_id: str) -> LatestRecord | None:
        with self.engine.connect() as conn:
            return self._latest(conn, site_id, visitor_id)

    def latest_many(self, site_id: int, visitor_ids: Sequence[str]) -> dict[str, LatestRecord]:
        ids = list(dict.fromkeys(visitor_ids))
        out = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), CHUNK):
                newest = (sa.select(sa.func.max(_T.c.id).label("id"))
                          .where(_T.c.site_id == site_id, _T.c.visitor_id.in_(ids[start:start + CHUNK]))
                          .group_by(_T.c.visitor_id).subquery())
                query = sa.select(*[_T.c[c] for c in LATEST_COLUMNS]).join(newest, newest.c.id == _T.c.id)
                for row in conn.execute(query):
                    out[row[0]] = LatestRecord(*row)
        return out

    def _write_one(self, draft: Draft) -> Written | Forbidden:
        """One draft in its own transaction, or the record its client_record_id already made
        (Forbidden in its place when its secret is not its visitor's)."""
        if draft.client_record_id is not None and (existing := self.find(draft.site_id, draft.client_record_id)):
            return rules.repeat_answer(existing, draft)
        subscribed = subscriptions(draft.site_id)  # before the transaction: it may read the endpoints
        try:
            with self.engine.begin() as conn:
                record = rules.finish_record(draft, self._latest(conn, draft.site_id, draft.visitor_id), utcnow())
                conn.execute(_INSERT, record.columns())
                kind, data = rules.outbox_event(draft, record.event, record.created_at)
                if endpoints := subscribed.get(kind):
                    add_to_outbox(conn, draft.site_id, kind, data, endpoints, record.created_at)
        except Forbidden as refused:  # nothing written: the transaction is rolled back
            return refused
        except sa.exc.IntegrityError:
            # the same client_record_id raced in from a retry: answer with the record that won
            existing = self.find(draft.site_id, draft.client_record_id) if draft.client_record_id else None
            if existing is None:
                raise
            return rules.repeat_answer(existing, draft)
        return Written(record, True)

    @staticmethod
    def _latest(conn: sa.Connection, site_id: int, visitor_id: str) -> LatestRecord | None:
        row = conn.execute(_LATEST, {"site_id": site_id, "visitor_id": visitor_id}).first()
        return LatestRecord(*row) if row else None
