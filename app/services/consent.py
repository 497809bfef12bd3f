"""Recording consent decisions: the browser-facing write path of the ledger."""
import datetime as dt
import json
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

from app.errors import Invalid
from app.extensions import db, geo
from app.ledger import rules
from app.ledger.rules import classify_event, resolve_decisions
from app.models import ConsentRecord, utcnow
from app.ledger import connections, seals
from app.services import webhooks
from app.services.geo import truncate_ip
from app.ledger.group_commit import GroupCommit
from app.services.receipts import sign_receipt
from app.services.regimes import decide_regime


@dataclass
class Recorded:
    record: dict
    receipt: str
    created: bool


def _find_by_client_id(site_id, client_record_id, conn=None):
    query = db.select(ConsentRecord.__table__).where(
        ConsentRecord.site_id == site_id, ConsentRecord.client_record_id == client_record_id)
    row = (conn or db.session).execute(query).mappings().first()
    return dict(row) if row else None


def latest_record(site_id, visitor_id):
    """The visitor's most recent record as a dict, or None (an index-only walk: site, visitor, id)."""
    row = db.session.execute(
        db.select(ConsentRecord.record_id, ConsentRecord.decisions)
        .where(ConsentRecord.site_id == site_id, ConsentRecord.visitor_id == visitor_id)
        .order_by(ConsentRecord.id.desc()).limit(1)
    ).mappings().first()
    return dict(row) if row else None


@contextmanager
def autocommit_connection():
    """A connection in autocommit mode, apart from the request's session: each statement is its own
    transaction, committed when it returns (PostgreSQL commits it synchronously: durability is the
    same as with an explicit COMMIT).

    On PostgreSQL through psycopg it is a connection lent by app/ledger/connections.py; elsewhere a
    pooled SQLAlchemy connection.
    """
    engine = db.engine
    if connections.serves(engine):
        with connections.pool_for(engine).connection() as conn:
            yield conn
        return
    with engine.connect() as conn:
        yield conn.execution_options(isolation_level="AUTOCOMMIT")


def with_autocommit(fn):
    """fn(conn) on an autocommit connection, once more on a fresh one if the first was lost
    (a PostgreSQL restart): each hot path is safe to repeat (lookups, and an insert guarded by
    its unique client_record_id)."""
    import psycopg

    used = []

    def run():
        with autocommit_connection() as conn:
            used.append(conn)
            return fn(conn)

    try:
        return run()
    except psycopg.OperationalError:
        lost = used[-1] if used else None
        if lost is None or not (getattr(lost, "broken", False) or getattr(lost, "closed", False)):
            raise
        return run()


_T = ConsentRecord.__table__
# One round trip for both lookups a write needs: whether a repeated client_record_id already made
# a record (kind 0), and the visitor's latest record (kind 1), with only the columns a new record
# needs from it. Built once; only the values change.
_LOOKUP = sa.union_all(
    sa.select(sa.literal(0).label("kind"), _T.c.record_id, _T.c.decisions).where(
        _T.c.client_record_id == sa.bindparam("client_id"), _T.c.site_id == sa.bindparam("site_id")),
    sa.select(sa.literal(1).label("kind"), _T.c.record_id, _T.c.decisions).where(
        _T.c.site_id == sa.bindparam("site_id"), _T.c.visitor_id == sa.bindparam("visitor_id"))
    .order_by(_T.c.id.desc()).limit(1).subquery().select(),
)
_INSERT = sa.insert(_T)


_COLS = [c.name for c in _T.columns]
# The same two statements in psycopg's own dialect: on PostgreSQL the hot path hands them to the
# driver, skipping SQLAlchemy's per-execution work (about 0.3 ms a statement, most of a write).
_PG_LOOKUP = (
    "(SELECT 0 AS kind, record_id, decisions FROM consent_records"
    " WHERE client_record_id = %(client_id)s AND site_id = %(site_id)s)"
    " UNION ALL (SELECT 1 AS kind, record_id, decisions FROM consent_records"
    " WHERE site_id = %(site_id)s AND visitor_id = %(visitor_id)s ORDER BY id DESC LIMIT 1)"
)
_INSERT_COLS = [c for c in _COLS if c != "id"]
_PG_INSERT = (f"INSERT INTO consent_records ({', '.join(_INSERT_COLS)}) "
              f"VALUES ({', '.join(f'%({c})s' for c in _INSERT_COLS)})")


def _psycopg(conn):
    """`conn` itself when it is a psycopg connection (see autocommit_connection), else None."""
    return None if isinstance(conn, sa.engine.Connection) else conn


def _lookup(conn, site_id, client_id, visitor_id):
    """(whether this client_record_id already made a record, the visitor's latest {record_id, decisions})."""
    params = {"site_id": site_id, "client_id": client_id, "visitor_id": visitor_id}
    raw = _psycopg(conn)
    if raw is not None:
        rows = raw.execute(_PG_LOOKUP, params).fetchall()
    else:
        rows = conn.execute(_LOOKUP, params).all()
    repeated = previous = None
    for kind, record_id, decisions in rows:
        if kind == 0:
            repeated = True
        else:
            previous = {"record_id": record_id, "decisions": decisions}
    return repeated, previous


def _insert(conn, values):
    """Insert one record as its own (autocommit) transaction: committed when this returns.
    A duplicate client_record_id raises sqlalchemy's IntegrityError whichever way it went."""
    raw = _psycopg(conn)
    if raw is None:
        conn.execute(_INSERT, values)
        return
    import psycopg
    from psycopg.types.json import Json

    try:
        raw.execute(_PG_INSERT, {**values, "decisions": Json(values["decisions"])})
    except psycopg.IntegrityError as e:
        raise sa.exc.IntegrityError(_PG_INSERT, None, e) from e


def record_consent(snap, data, ip, user_agent, gpc_header, source="browser", seal_interval=0, seal_lag=5):
    """Record one decision for a site snapshot. `data` is the validated body (ConsentIn).

    Returns Recorded(record dict, receipt, created). A repeated client_record_id returns the first
    record and writes nothing. When this returns, the record is committed.

    On PostgreSQL, decisions arriving together in one process are written together (group
    commit, one statement and one transaction for the lot, outbox rows for webhook endpoints
    included).
    """
    draft = draft_record(snap, data, ip, user_agent, gpc_header, source)  # Invalid: nothing written
    if _GROUP_COMMIT and connections.serves(db.engine):
        values = _group().submit(draft)
        if values is not None:
            seals.maybe_seal(snap.id, seal_interval, seal_lag)
            return Recorded(values, sign_receipt(snap, values), True)
    return _record_one(snap, draft, seal_interval, seal_lag)


def _record_one(snap, draft, seal_interval, seal_lag):
    """record_consent for one draft on its own: a lookup and an insert (with outbox rows when the
    site has webhook subscriptions), or the record a repeated client_record_id already made."""
    client_id = draft.values["client_record_id"]

    def write(conn):
        """(the record that already existed, or None; the new record's values; whether inserted)."""
        repeated, previous = _lookup(conn, snap.id, client_id, draft.values["visitor_id"])
        if repeated:  # the rare retry: read the whole first record to answer with it
            return _find_by_client_id(snap.id, client_id, None if _psycopg(conn) is not None else conn), None, False
        values = finish_record(draft, previous, utcnow())
        if webhooks.subscriptions(snap.id):
            return None, values, False  # inserted below, in one transaction with its outbox rows
        try:
            _insert(conn, values)  # committed when it returns
        except sa.exc.IntegrityError:
            # the same client_record_id raced in from a retry: answer with the record that won
            return _find_by_client_id(snap.id, client_id, None if _psycopg(conn) is not None else conn), None, False
        return None, values, True

    existing, values, inserted = with_autocommit(write)
    if existing:
        return Recorded(existing, sign_receipt(snap, existing), False)
    if not inserted:
        try:
            db.session.execute(_INSERT, values)
            webhooks.enqueue_consent_record(snap.id, values)
            db.session.commit()
        except sa.exc.IntegrityError:
            db.session.rollback()
            existing = _find_by_client_id(snap.id, client_id)
            if existing is None:
                raise
            return Recorded(existing, sign_receipt(snap, existing), False)
    seals.maybe_seal(snap.id, seal_interval, seal_lag)
    return Recorded(values, sign_receipt(snap, values), True)


_groups = {}
_GROUP_COMMIT = os.environ.get("OPSIQ_GROUP_COMMIT", "1") != "0"  # 0: one transaction per write (README)


def _group():
    """This process's group committer for the app's database."""
    engine = db.engine
    group = _groups.get(engine)
    if group is None:
        group = _groups.setdefault(engine, GroupCommit(lambda drafts: with_autocommit(lambda c: _write_drafts(c, drafts))))
    return group


def _pg_type(column):
    from sqlalchemy.dialects import postgresql

    name = column.type.compile(dialect=postgresql.dialect())
    return name.split("(")[0]  # no length: a value too long fails the insert instead of being cut


def _jsonable(value):
    return value.isoformat() if isinstance(value, dt.date) else value


# Records of distinct visitors in one statement: for each, the visitor's latest record, the new
# record's event and chained columns and its hash (rules.chain_hash, in SQL), then the insert,
# which skips a client_record_id already there. One round trip, one transaction, one commit.
_CHAINED = ("event", "prev_record_id", "record_hash")
_CTES = (
    "WITH t AS (SELECT * FROM json_to_recordset(%s) AS t(n int, "
    + ", ".join(f"{c} {_pg_type(_T.c[c])}" for c in _INSERT_COLS if c not in _CHAINED)
    + ", base_hash text, is_gpc boolean, granted boolean, necessary jsonb, msg_id text, created_iso text)),"
    " ev AS (SELECT t.n, p.record_id AS prev_id, CASE"
    " WHEN t.is_gpc THEN 'gpc_optout'"
    " WHEN p.record_id IS NULL THEN CASE WHEN t.granted THEN 'given' ELSE 'refused' END"
    " WHEN NOT t.granted AND EXISTS (SELECT 1 FROM json_each_text(p.decisions) AS d(k, v)"
    " WHERE d.v = 'true' AND NOT t.necessary ? d.k) THEN 'withdrawn'"
    " ELSE 'updated' END AS event FROM t LEFT JOIN LATERAL (SELECT record_id, decisions FROM consent_records c"
    " WHERE c.site_id = t.site_id AND c.visitor_id = t.visitor_id ORDER BY c.id DESC LIMIT 1) p ON true)"
)
_INSERT_SELECT = (
    f" INSERT INTO consent_records ({', '.join(_INSERT_COLS)})"
    f" SELECT {', '.join('ev.event' if c == 'event' else 'ev.prev_id' if c == 'prev_record_id' else 'h.hash' if c == 'record_hash' else f't.{c}' for c in _INSERT_COLS)}"
    " FROM t JOIN ev ON ev.n = t.n CROSS JOIN LATERAL (SELECT encode(sha256(convert_to("
    "t.base_hash || '|' || coalesce(ev.prev_id, '') || '|' || ev.event, 'UTF8')), 'hex') AS hash) h ORDER BY t.n"
    " ON CONFLICT (client_record_id, site_id) DO NOTHING RETURNING record_id, event, prev_record_id, record_hash"
)
_PG_INSERT_CHAINED = _CTES + _INSERT_SELECT
# The same, for sites with webhook endpoints: each record's outbox event (webhooks.enqueue_consent_record's
# shape) and a delivery per subscribed endpoint go in with it, in the same statement and transaction.
_PG_INSERT_CHAINED_OUTBOX = (
    _CTES + ", ins AS (" + _INSERT_SELECT + ", site_id),"
    " subs AS (SELECT * FROM json_to_recordset(%s) AS s(site_id int, type text, endpoint_id int)),"
    " wev AS (INSERT INTO webhook_events (event_id, site_id, type, data, created_at)"
    " SELECT t.msg_id, ins.site_id, x.type, json_build_object('record_id', ins.record_id, 'visitor_id', t.visitor_id,"
    " 'event', ins.event, 'method', t.method, 'decisions', t.decisions, 'regime', t.regime, 'country', t.country,"
    " 'region', t.region, 'gpc', t.gpc, 'policy_version', t.policy_version, 'source', t.source,"
    " 'created_at', t.created_iso), t.created_at"
    " FROM ins JOIN t ON t.record_id = ins.record_id CROSS JOIN LATERAL (SELECT CASE WHEN ins.event = 'withdrawn'"
    " THEN 'consent.withdrawn' ELSE 'consent.recorded' END AS type) x"
    " WHERE EXISTS (SELECT 1 FROM subs WHERE subs.site_id = ins.site_id AND subs.type = x.type)"
    " RETURNING id, site_id, type, created_at),"
    " wdl AS (INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempts, next_attempt_at, retry_from)"
    " SELECT wev.id, subs.endpoint_id, 'pending', 0, wev.created_at, wev.created_at"
    " FROM wev JOIN subs ON subs.site_id = wev.site_id AND subs.type = wev.type)"
    " SELECT record_id, event, prev_record_id, record_hash FROM ins"
)
_CONSENT_EVENTS = ("consent.recorded", "consent.withdrawn")


def _write_chained(conn, drafts):
    """Drafts of distinct visitors in one statement (PostgreSQL, a psycopg connection): the values
    of each record written, or None where its client_record_id was already taken."""
    now = utcnow()
    docs, out = [], []
    for n, draft in enumerate(drafts):
        values = dict(draft.values)
        values["created_at"], values["expires_at"] = now, now + draft.validity
        doc = {c: _jsonable(v) for c, v in values.items()}
        doc.update(n=n, base_hash=rules.base_hash(values), is_gpc=values["method"] == "gpc",
                   necessary=sorted(draft.necessary), msg_id="msg_" + uuid.uuid4().hex, created_iso=now.isoformat(),
                   granted=rules.grants_any(values["decisions"], draft.necessary))
        docs.append(doc)
        out.append(values)
    subs = [{"site_id": site_id, "type": kind, "endpoint_id": ep}
            for site_id in {d.values["site_id"] for d in drafts}
            for kind, endpoints in webhooks.subscriptions(site_id).items() if kind in _CONSENT_EVENTS
            for ep in endpoints]
    if subs:
        rows = conn.execute(_PG_INSERT_CHAINED_OUTBOX, (json.dumps(docs), json.dumps(subs))).fetchall()
    else:
        rows = conn.execute(_PG_INSERT_CHAINED, (json.dumps(docs),)).fetchall()
    written = {rid: rest for rid, *rest in rows}
    for i, values in enumerate(out):
        chained = written.get(values["record_id"])
        if chained is None:
            out[i] = None
        else:
            values["event"], values["prev_record_id"], values["record_hash"] = chained
    return out


def _write_drafts(conn, drafts):
    """Write drafts that arrived together (PostgreSQL, a psycopg connection): the values of each
    record written, in their order, or None for a draft to be written on its own (a repeated
    client_record_id, a race lost to one, a record PostgreSQL refused).

    Each statement takes drafts of distinct visitors; a visitor's second decision in the batch
    goes in the next statement, so it chains to the first (usually there is one statement)."""
    import psycopg

    out = [None] * len(drafts)
    pending = list(range(len(drafts)))
    while pending:
        wave, later, visitors = [], [], set()
        for i in pending:
            visitor = (drafts[i].values["site_id"], drafts[i].values["visitor_id"])
            (later if visitor in visitors else wave).append(i)
            visitors.add(visitor)
        try:
            written = _write_chained(conn, [drafts[i] for i in wave])
        except psycopg.DataError:
            if len(drafts) == 1:
                raise
            return out  # one record PostgreSQL refuses: it and those not yet written are written alone
        for i, values in zip(wave, written):
            out[i] = values
        pending = later
    return out


def response_body(result):
    """What the API answers for a Recorded (ConsentOut's shape, built directly: a hot path)."""
    rec = result.record
    return {
        "record_id": rec["record_id"], "receipt": result.receipt, "event": rec["event"], "regime": rec["regime"],
        "country": rec["country"], "region": rec["region"], "decisions": rec["decisions"],
        "decided_at": rec["created_at"].isoformat(), "expires_at": rec["expires_at"].isoformat(),
    }


@dataclass
class Draft:
    """A new record before it meets the ledger: what its request alone decides."""

    values: dict  # every column but event, created_at, expires_at, prev_record_id and record_hash
    validity: dt.timedelta
    necessary: frozenset


def draft_record(snap, data, ip, user_agent, gpc_header, source):
    """Everything a new record takes from its request and site; Invalid for site-dependent faults.
    Nothing here reads the ledger, so it runs before any database work."""
    ip_net = truncate_ip(ip)
    loc = geo.locate(ip_net)
    regime = decide_regime(loc.country, loc.region, snap.regime_overrides, snap.uses_google).regime
    gpc = bool(data.get("gpc")) or bool(gpc_header)
    method = data["method"]
    decisions = resolve_decisions(snap, regime, method, data.get("decisions") or {}, gpc)

    policy_version = data.get("policy_version") or (snap.policy or {}).get("version")
    if policy_version is not None and policy_version not in snap.policy_versions:
        raise Invalid(errors={"policy_version": [f"unknown policy version for this site: {policy_version}"]})
    language = data.get("language") or snap.default_language
    if language not in snap.languages:
        raise Invalid(errors={"language": [f"not one of the site's languages: {', '.join(snap.languages)}"]})

    values = {
        "record_id": str(uuid.uuid4()),
        "site_id": snap.id,
        "visitor_id": data["visitor_id"],
        "client_record_id": data.get("client_record_id"),
        "method": method,
        "decisions": decisions,
        "config_hash": snap.config_hash,
        "policy_version": policy_version,
        "policy_url": snap.policy_versions.get(policy_version) if policy_version else None,
        "language": language,
        "regime": regime,
        "country": loc.country,
        "region": loc.region,
        "geoip_build": loc.database_build,
        "ip_truncated": ip_net,
        "user_agent": (user_agent or "")[:512] or None,
        "page_url": data.get("page_url"),
        "gpc": gpc,
        "source": source,
    }
    necessary = frozenset(p["slug"] for p in snap.purposes if p["legal_basis"] == "necessary")
    return Draft(values, dt.timedelta(days=snap.validity_days), necessary)


def finish_record(draft, previous, now):
    """The full column values (hash included) of a draft, given the visitor's latest record as the
    ledger holds it at `now` ({record_id, decisions} or None)."""
    values = dict(draft.values)
    values["event"] = classify_event(values["method"], values["decisions"], previous and previous["decisions"],
                                     draft.necessary)
    values["created_at"] = now
    values["expires_at"] = now + draft.validity
    values["prev_record_id"] = previous["record_id"] if previous else None
    values["record_hash"] = rules.record_hash(values)
    return values
