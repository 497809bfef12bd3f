"""The ledger on PostgreSQL, straight through psycopg: one statement per batch of records.

A write is one statement: for each draft, PostgreSQL reads the visitor's latest record, picks the
draft's event among those the rules computed for each case (first record, after a grant, after
none), finishes the chained hash from the base hash computed in Python, and inserts, skipping a
client_record_id the site already has (a repeat, or a race lost to one; those are then read
back). On a site with webhook subscriptions the same statement adds each record's outbox event
(built in Python for each event it could take) and a delivery per subscribed endpoint. Rows
travel as one JSON document: psycopg's adaptation of some twenty parameters a row cost more than
the statement. Decisions of one visitor that arrive together go in successive statements of one
transaction, so each chains to the one before.

Every statement is a constant below; tests/ledger/test_sql_rules.py holds the parts that restate
a rule (the chained hash, the choice of event, the outbox row) equal to app/ledger/rules.py.
"""
import datetime as dt
import json
from collections.abc import Sequence

import psycopg

from app.errors import Forbidden
from app.ledger import rules
from app.ledger.connections import Connections
from app.ledger.records import LATEST_COLUMNS, RECORD_COLUMNS, Draft, LatestRecord, Record, Written
from app.models.types import utcnow
from app.services.webhooks.outbox import new_event_id, subscriptions

_LATEST_LIST = ", ".join(LATEST_COLUMNS)

FIND = f"SELECT {', '.join(RECORD_COLUMNS)} FROM consent_records WHERE client_record_id = %s AND site_id = %s"

# one index descent on (site_id, visitor_id, id)
LATEST_ONE = (f"SELECT {_LATEST_LIST} FROM consent_records WHERE site_id = %s AND visitor_id = %s"
              " ORDER BY id DESC LIMIT 1")

# one index descent per visitor of one site
LATEST_MANY = (
    f"SELECT r.* FROM unnest(%s::varchar[]) AS v(visitor_id) CROSS JOIN LATERAL (SELECT {_LATEST_LIST}"
    " FROM consent_records c WHERE c.site_id = %s AND c.visitor_id = v.visitor_id ORDER BY c.id DESC LIMIT 1) AS r"
)

# one index descent per (n, site, visitor) asked, whatever the sites
LATEST_EACH = (
    f"SELECT k.n, r.* FROM json_to_recordset(%s) AS k(n int, s int, v varchar) CROSS JOIN LATERAL (SELECT {_LATEST_LIST}"
    " FROM consent_records c WHERE c.site_id = k.s AND c.visitor_id = k.v ORDER BY c.id DESC LIMIT 1) AS r"
)

# rules.chain_hash
_CHAIN_HASH = "encode(sha256(convert_to(base_hash || '|' || coalesce(prev_record_id, '') || '|' || event, 'UTF8')), 'hex')"
# Drafts in, each with its visitor's previous record id and its event (the previous decisions are
# read only when the two events after a record differ); then the insert.
_CHAIN = (
    "WITH t AS (SELECT d.*, p.record_id AS prev_record_id, CASE"
    " WHEN p.record_id IS NULL THEN d.event_if_first"
    " WHEN d.event_if_had_grant = d.event_if_had_none THEN d.event_if_had_none"
    " WHEN EXISTS (SELECT 1 FROM json_each_text(p.decisions) AS g(k, v) WHERE g.v = 'true' AND NOT d.necessary ? g.k)"
    " THEN d.event_if_had_grant ELSE d.event_if_had_none END AS event,"
    # rules.check_visitor_secret: a visitor bound to a secret hash is written to only with it
    " (p.secret_hash IS NULL OR (p.secret_hash = d.secret_hash) IS TRUE) AS bound_ok"
    " FROM json_to_recordset(%s) AS d(n int, record_id varchar, site_id int, visitor_id varchar,"
    " client_record_id varchar, method varchar, decisions json, created_at timestamptz, expires_at timestamptz,"
    " config_hash varchar, policy_version varchar, policy_url varchar, language varchar, regime varchar,"
    " country varchar, region varchar, geoip_build date, ip_truncated varchar, user_agent varchar,"
    " page_url varchar, gpc boolean, source varchar, secret_hash varchar, widget_build varchar, personal_salt varchar,"
    " personal_digest varchar, base_hash text, necessary jsonb, event_if_first varchar,"
    " event_if_had_grant varchar, event_if_had_none varchar, outbox json)"
    " LEFT JOIN LATERAL (SELECT record_id, decisions, secret_hash FROM consent_records c"
    " WHERE c.site_id = d.site_id AND c.visitor_id = d.visitor_id ORDER BY c.id DESC LIMIT 1) p ON true),"
    f" ins AS (INSERT INTO consent_records ({', '.join(RECORD_COLUMNS)})"
    f" SELECT {', '.join(_CHAIN_HASH if c == 'record_hash' else c for c in RECORD_COLUMNS)}"
    " FROM t WHERE bound_ok ORDER BY n ON CONFLICT (client_record_id, site_id) DO NOTHING"
    " RETURNING record_id, event, prev_record_id, record_hash)"
)
# Each inserted record's entry of `outbox` for the event it took (none: nobody subscribed to it),
# into the outbox with a pending delivery per endpoint the entry lists.
_OUTBOX = (
    ", sent AS (SELECT t.site_id, t.created_at, t.outbox -> ins.event AS item FROM ins JOIN t ON t.record_id = ins.record_id"
    " WHERE t.outbox -> ins.event IS NOT NULL),"
    " wev AS (INSERT INTO webhook_events (event_id, site_id, type, data, created_at)"
    " SELECT item ->> 'event_id', site_id, item ->> 'type', item -> 'data', created_at FROM sent"
    " RETURNING id, event_id, created_at),"
    " wdl AS (INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempts, next_attempt_at, retry_from)"
    " SELECT wev.id, ep.id::int, 'pending', 0, wev.created_at, wev.created_at"
    " FROM wev JOIN sent ON sent.item ->> 'event_id' = wev.event_id"
    " CROSS JOIN LATERAL json_array_elements_text(sent.item -> 'endpoints') AS ep(id))"
)
# what was inserted, then the drafts refused for their secret (no event: nothing was written)
_WRITTEN = (" SELECT record_id, event, prev_record_id, record_hash FROM ins"
            " UNION ALL SELECT record_id, NULL, NULL, NULL FROM t WHERE NOT bound_ok")

INSERT_CHAINED = _CHAIN + _WRITTEN
INSERT_CHAINED_WITH_OUTBOX = _CHAIN + _OUTBOX + _WRITTEN


def _isoformat(value):
    if isinstance(value, dt.date):  # datetimes included
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _waves(drafts: Sequence[Draft]) -> list[list[int]]:
    """The drafts' indexes in statements holding one draft per visitor, in arrival order: a visitor's
    second decision goes in the next statement, so that it chains to the first."""
    waves, pending = [], list(range(len(drafts)))
    while pending:
        wave, later, visitors = [], [], set()
        for i in pending:
            visitor = (drafts[i].site_id, drafts[i].visitor_id)
            (later if visitor in visitors else wave).append(i)
            visitors.add(visitor)
        waves.append(wave)
        pending = later
    return waves


def _outbox(draft: Draft, created_at: dt.datetime, events: set[str], subscribed: dict) -> dict:
    """{event: the outbox event and endpoints} for each event the draft can take that has subscribers."""
    out = {}
    for event in events:
        kind, data = rules.outbox_event(draft, event, created_at)
        endpoints = subscribed.get(kind)
        if endpoints:
            out[event] = {"event_id": new_event_id(), "type": kind, "data": data, "endpoints": list(endpoints)}
    return out


class PostgresRepository:
    """The Repository contract on PostgreSQL through psycopg (see the module docstring)."""

    def __init__(self, connections: Connections) -> None:
        self.connections = connections

    def write(self, drafts: Sequence[Draft]) -> list[Written | Forbidden]:
        return self.connections.run(lambda conn: self._write(conn, drafts))

    def write_together(self, drafts: Sequence[Draft]) -> list[Written | Forbidden | None]:
        """write() for drafts that arrived together (the group committer's). When the batch fails, for
        any reason (PostgreSQL refuses a value, one draft cannot even be encoded or hashed), nothing
        of it is written and each gets None: each is then written alone by its own caller, so only
        the failing one fails its request. A lone draft's failure is its own."""
        try:
            return self.write(drafts)
        except Exception:
            if len(drafts) == 1:
                raise
            return [None] * len(drafts)

    def find(self, site_id: int, client_record_id: str) -> Record | None:
        return self.connections.run(lambda conn: self._find(conn, site_id, client_record_id))

    def latest(self, site_id: int, visitor_id: str) -> LatestRecord | None:
        row = self.connections.run(lambda conn: conn.execute(LATEST_ONE, (site_id, visitor_id)).fetchone())
        return LatestRecord(*row) if row else None

    def latest_many(self, site_id: int, visitor_ids: Sequence[str]) -> dict[str, LatestRecord]:
        ids = list(dict.fromkeys(visitor_ids))
        if len(ids) <= 1:
            found = self.latest(site_id, ids[0]) if ids else None
            return {found.visitor_id: found} if found else {}
        rows = self.connections.run(lambda conn: conn.execute(LATEST_MANY, (ids, site_id)).fetchall())
        return {row[0]: LatestRecord(*row) for row in rows}

    def latest_each(self, keys: Sequence[tuple[int, str]]) -> list[LatestRecord | None]:
        """latest() for each (site_id, visitor_id), in their order, in one query (the lookups' group committer)."""
        if len(keys) == 1:
            return [self.latest(*keys[0])]
        try:
            doc = json.dumps([{"n": n, "s": s, "v": v} for n, (s, v) in enumerate(keys)])
            rows = self.connections.run(lambda conn: conn.execute(LATEST_EACH, (doc,)).fetchall())
        except Exception:  # one key no statement takes fails only its own caller: each asked alone
            return [self._latest_or_error(*key) for key in keys]
        found = {row[0]: LatestRecord(*row[1:]) for row in rows}
        return [found.get(n) for n in range(len(keys))]

    def _latest_or_error(self, site_id: int, visitor_id: str) -> "LatestRecord | None | Exception":
        try:
            return self.latest(site_id, visitor_id)
        except Exception as e:  # handed to its own caller by the group committer
            return e

    def _write(self, conn: psycopg.Connection, drafts: Sequence[Draft]) -> list[Written | Forbidden]:
        waves = _waves(drafts)
        written: dict[int, Record | Forbidden] = {}
        if len(waves) == 1:
            self._insert(conn, drafts, waves[0], written)
        else:
            with conn.transaction():  # all or nothing, like a single statement
                for wave in waves:
                    self._insert(conn, drafts, wave, written)
        out = []
        for i, draft in enumerate(drafts):
            record = written.get(i)
            if isinstance(record, Forbidden):
                out.append(record)
                continue
            if record is not None:
                out.append(Written(record, True))
                continue
            # its client_record_id was taken, by an earlier write or by one that won a race
            found = self._find(conn, draft.site_id, draft.client_record_id)
            if found is None:
                raise RuntimeError(f"record {draft.record_id} was neither written nor found")
            out.append(rules.repeat_answer(found, draft))
        return out

    def _insert(self, conn: psycopg.Connection, drafts: Sequence[Draft], wave: list[int],
                written: dict[int, Record]) -> None:
        """One statement for the drafts of `wave` (one per visitor): fills `written` with those inserted."""
        now = utcnow()
        docs, columns, subscribed, with_outbox = [], [], {}, False
        for i in wave:
            draft = drafts[i]
            cols = rules.new_columns(draft, now)
            first, had_grant, had_none = rules.event_choices(draft.method, draft.decisions, draft.necessary)
            subs = subscribed.get(draft.site_id)
            if subs is None:
                subs = subscribed[draft.site_id] = subscriptions(draft.site_id)
            outbox = _outbox(draft, now, {first, had_grant, had_none}, subs) if subs else None
            with_outbox = with_outbox or bool(outbox)
            docs.append(dict(cols, n=i, base_hash=rules.base_hash(cols), necessary=sorted(draft.necessary),
                             event_if_first=first, event_if_had_grant=had_grant, event_if_had_none=had_none,
                             outbox=outbox or None))
            columns.append(cols)
        statement = INSERT_CHAINED_WITH_OUTBOX if with_outbox else INSERT_CHAINED
        rows = conn.execute(statement, (json.dumps(docs, default=_isoformat),)).fetchall()
        chained = {row[0]: row for row in rows}
        for i, cols in zip(wave, columns):
            row = chained.get(cols["record_id"])
            if row is not None and row[1] is None:
                written[i] = Forbidden(rules.VISITOR_MISMATCH)
            elif row is not None:
                written[i] = Record(**cols, event=row[1], prev_record_id=row[2], record_hash=row[3])

    @staticmethod
    def _find(conn: psycopg.Connection, site_id: int, client_record_id: str | None) -> Record | None:
        if client_record_id is None:
            return None
        row = conn.execute(FIND, (client_record_id, site_id)).fetchone()
        return Record(*row) if row else None
