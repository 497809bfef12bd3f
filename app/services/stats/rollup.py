"""Rolling the ledger up into the overview's counts (app/models/stats.py), apart from the write path.

The write path is not touched: `flask worker` (or `flask stats rollup`) reads the records written
since a site's mark, in batches of up to BATCH, and adds them to the day and month counts. Each
batch is one transaction that moves the mark with the counts, so a crash between batches never
counts a record twice nor loses one; a batch first claims the mark where it found it (an UPDATE
that matches only the row id it read), so two rollups of a site never both count a batch. On
PostgreSQL a rollup also takes the site's advisory lock, and another that finds it taken leaves
the site to it; SQLite writes one at a time.

Writers take a record's time a moment before its row id, and commit in their own time, so a row id
can appear after a higher one. As the seals do (app/ledger/seals.py), a batch stops before the
first record (by row id) younger than `lag` seconds: a write still in flight then has a younger
time than that record, and a higher id than the mark. The counts are complete for every record
created up to the mark's `covers_until`, which claims no further than just before the oldest
record left for later among the next CROSSING_WINDOW ones.

The ledger's SQL groups a batch's records by day and by every field a count is kept for,
decision map included (a site's records share a handful of maps), and Python counts each group's
purposes with the figures' own definitions (app/services/stats/figures.py).
"""
import datetime as dt
import json
from collections import Counter, defaultdict

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.ledger.seals import aware, first_young_id, seal_covers, sealing_lock
from app.models import ConsentPurposeRollup, ConsentRecord, ConsentRollup, ConsentRollupMark, Site, utcnow
from app.models.stats import KEY_COLUMNS
from app.services.stats.figures import purpose_outcomes

BATCH = 50_000  # records a transaction
ROLLUP_LOCK = 0x57A75  # advisory lock namespace of the rollups (with the site id as second key)
EMPTY = ""  # what a count's key holds where the record has no value (app/models/stats.py)


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def utc_day_sql(column):
    """SQL for the UTC day of a timestamp column (figures.utc_day): a date on PostgreSQL, the
    'YYYY-MM-DD' text SQLite stores first (SQLAlchemy stores UTC there, app/models/types.py)."""
    if _is_postgres():
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)
    return sa.func.substr(column, 1, 10)


def mark_of(site_id: int) -> ConsentRollupMark | None:
    """How far the site's ledger is rolled up (None: never)."""
    return db.session.get(ConsentRollupMark, site_id)


UPSERT_CHUNK = 20_000  # rows a statement


def _upsert_adding(table: sa.Table, rows: list[dict], added: tuple[str, ...]) -> None:
    """Insert rows, adding their `added` columns to those of rows already there with the same key.
    On PostgreSQL the rows travel as one JSON document a statement (as the ledger's do,
    app/ledger/postgres.py): one statement, not one a row."""
    key = [c.name for c in table.primary_key.columns]
    if not _is_postgres():
        stmt = sqlite.insert(table)
        stmt = stmt.on_conflict_do_update(index_elements=key, set_={c: table.c[c] + stmt.excluded[c] for c in added})
        if rows:
            db.session.execute(stmt, rows)
        return
    dialect = postgresql.dialect()
    names = [c.name for c in table.columns]
    shape = ", ".join(f"{c.name} {c.type.compile(dialect)}" for c in table.columns)
    stmt = sa.text(
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {', '.join(names)}"
        f" FROM json_to_recordset(CAST(:rows AS json)) AS r({shape})"
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
        + ", ".join(f"{c} = {table.name}.{c} + excluded.{c}" for c in added))
    for start in range(0, len(rows), UPSERT_CHUNK):
        db.session.execute(stmt, {"rows": json.dumps(rows[start:start + UPSERT_CHUNK], default=str)})


def _batch_counts(site_id: int, after: int, last: int) -> tuple[int, Counter, defaultdict]:
    """(records, counts, purpose counts) of the site's records with row ids in (after, last]: counts
    keyed as the tables' primary keys are, per day and per month."""
    t = ConsentRecord.__table__
    day = utc_day_sql(t.c.created_at)
    fields = (t.c.country, t.c.region, t.c.policy_version, t.c.regime, t.c.method, t.c.gpc)
    decisions = sa.cast(t.c.decisions, sa.Text)
    groups = db.session.execute(
        sa.select(day, *fields, decisions, sa.func.count())
        .where(t.c.site_id == site_id, t.c.id > after, t.c.id <= last)
        .group_by(day, *fields, decisions)
    ).all()
    counts, purposes, maps = Counter(), defaultdict(lambda: [0, 0]), {}
    total = 0
    for when, country, region, policy, regime, method, gpc, text, n in groups:
        when = when if isinstance(when, dt.date) else dt.date.fromisoformat(when)
        rest = (country or EMPTY, region or EMPTY, policy or EMPTY, regime, method, bool(gpc))
        outcomes = maps.get(text)
        if outcomes is None:
            outcomes = maps[text] = purpose_outcomes(json.loads(text) if text else {})
        total += n
        for key in ((site_id, "day", when, *rest), (site_id, "month", when.replace(day=1), *rest)):
            counts[key] += n
            for slug, granted in outcomes:
                c = purposes[(*key, slug)]
                c[0] += n
                c[1] += n if granted else 0
    return total, counts, purposes


def _covers(site_id: int, last: int, cutoff: dt.datetime) -> dt.datetime:
    """Up to when every record is counted once the site's ids up to `last` are (as a seal vouches)."""
    t = ConsentRecord.__table__
    return seal_covers(t, t.c.site_id == site_id, last, cutoff)


def _claim(site_id: int, mark: ConsentRollupMark | None, last: int, covers: dt.datetime, now: dt.datetime) -> bool:
    """Move the site's mark from where this rollup found it to `last`; False (rolled back) if another
    rollup moved it meanwhile."""
    if mark is None:
        db.session.add(ConsentRollupMark(site_id=site_id, last_id=last, covers_until=covers, rolled_at=now))
        try:
            db.session.flush()
            return True
        except sa.exc.IntegrityError:
            db.session.rollback()
            return False
    found = mark.last_id
    if mark.covers_until is not None:
        covers = max(covers, aware(mark.covers_until))  # never claims less than it did
    moved = db.session.execute(
        sa.update(ConsentRollupMark).where(ConsentRollupMark.site_id == site_id, ConsentRollupMark.last_id == found)
        .values(last_id=last, covers_until=covers, rolled_at=now).execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        db.session.rollback()
        return False
    return True


def rollup_site(site_id: int, lag: float, batch: int = BATCH, limit: int | None = None) -> int:
    """Count the site's records written since its mark and older than `lag` seconds, in transactions
    of up to `batch` records, stopping after about `limit` (None: all). Returns how many were counted."""
    t = ConsentRecord.__table__
    total = 0
    while limit is None or total < limit:
        size = batch if limit is None else min(batch, limit - total)
        # on PostgreSQL, this transaction's claim on the site; on SQLite the mark's claim alone keeps
        # two rollups from counting a batch twice
        if not sealing_lock(site_id, ROLLUP_LOCK):
            return total  # another process is rolling this site up right now
        mark = mark_of(site_id)
        after = mark.last_id if mark else 0
        now = utcnow()
        cutoff = now - dt.timedelta(seconds=lag)
        young = first_young_id(t, t.c.site_id == site_id, after, cutoff)
        due = [t.c.site_id == site_id, t.c.id > after] + ([t.c.id < young] if young is not None else [])
        last = db.session.execute(sa.select(t.c.id).where(*due).order_by(t.c.id).offset(size - 1).limit(1)).scalar()
        full = last is not None
        if not full:
            last = db.session.execute(sa.select(sa.func.max(t.c.id)).where(*due)).scalar()
        if last is None:  # nothing due: only say the counts are complete up to now (less the lag)
            if _claim(site_id, mark, after, _covers(site_id, after, cutoff), now):
                db.session.commit()
            return total
        n, counts, purposes = _batch_counts(site_id, after, last)
        if not _claim(site_id, mark, last, _covers(site_id, last, cutoff), now):
            return total
        names = KEY_COLUMNS
        _upsert_adding(ConsentRollup.__table__, [dict(zip(names, k), decisions=v) for k, v in counts.items()],
                       ("decisions",))
        _upsert_adding(ConsentPurposeRollup.__table__, [
            dict(zip(names + ("purpose",), k), decided=d, granted=g) for k, (d, g) in purposes.items()],
            ("decided", "granted"))
        db.session.commit()
        total += n
        if not full:
            return total
    return total


def rollup_sites(lag: float, limit: int | None = None) -> tuple[int, bool]:
    """Roll up every site (at most about `limit` records each); (records counted, whether a site has more due)."""
    total, more = 0, False
    for site_id in db.session.execute(sa.select(Site.id).order_by(Site.id)).scalars().all():
        n = rollup_site(site_id, lag, limit=limit)
        total += n
        more = more or (limit is not None and n >= limit)
    return total, more
