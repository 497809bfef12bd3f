"""A site's overview for a period, read from the rollups: three small indexed GROUP BYs.

The day series reads the period's day rows, grouped by day, method and GPC; the breakdowns read
its whole months from the month rows and the days around them from the day rows
(Period.spans), grouped by the fields a breakdown needs, with the time gone. Only the counts of
records up to the site's rollup mark are there: `as_of` says up to when that is complete.
"""
import datetime as dt

import sqlalchemy as sa

from app.extensions import db
from app.models import ConsentPurposeRollup, ConsentRollup
from app.services.stats.figures import CELL_FIELDS, PURPOSE_FIELDS, Overview, Tally, build_overview, place_code
from app.services.stats.period import Period
from app.services.stats.rollup import EMPTY, mark_of


def _day(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _value(stored: str) -> str | None:
    return stored if stored != EMPTY else None


def _where(table, site_id: int, span: str, first: dt.date, last: dt.date, country: str | None,
           region: str | None) -> list:
    cond = [table.c.site_id == site_id, table.c.span == span, table.c.day >= first, table.c.day <= last]
    if country is not None:
        cond.append(table.c.country == country)
    if region is not None:
        cond.append(table.c.region == region)
    return cond


def _over_spans(table, columns: list[str], site_id: int, span: Period, country, region):
    """The rows of `table` that cover the period once (each span's range an index range), as one subquery."""
    parts = [sa.select(*[table.c[c] for c in columns]).where(*_where(table, site_id, kind, first, last, country,
                                                                     region))
             for kind, first, last in span.spans()]
    return (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery()


def site_overview(site_id: int, span: Period, country: str | None = None, region: str | None = None) -> Overview:
    """The site's figures over `span` from the rollups, of one country and/or region if given."""
    counts, purposes = ConsentRollup.__table__, ConsentPurposeRollup.__table__
    country, region = place_code(country), place_code(region)
    mark = mark_of(site_id)
    tally = Tally()
    days = db.session.execute(
        sa.select(counts.c.day, counts.c.method, counts.c.gpc, sa.func.sum(counts.c.decisions))
        .where(*_where(counts, site_id, "day", span.start, span.end, country, region))
        .group_by(counts.c.day, counts.c.method, counts.c.gpc)
    ).all()
    for day, method, gpc, n in days:
        tally.add_day(_day(day), method, bool(gpc), int(n))
    cells = _over_spans(counts, [*CELL_FIELDS, "decisions"], site_id, span, country, region)
    fields = [cells.c[f] for f in CELL_FIELDS]
    for *cell, n in db.session.execute(sa.select(*fields, sa.func.sum(cells.c.decisions)).group_by(*fields)):
        tally.add_cell((*map(_value, cell[:4]), cell[4], bool(cell[5])), int(n))
    rows = _over_spans(purposes, [*PURPOSE_FIELDS, "decided", "granted"], site_id, span, country, region)
    fields = [rows.c[f] for f in PURPOSE_FIELDS]
    for *where, purpose, decided, granted in db.session.execute(
            sa.select(*fields, sa.func.sum(rows.c.decided), sa.func.sum(rows.c.granted)).group_by(*fields)):
        tally.add_purpose(tuple(map(_value, where)), purpose, int(decided), int(granted))
    as_of = mark.covers_until if mark else None
    db.session.rollback()  # end the read transaction
    return build_overview(span.start, span.end, country, region, as_of, tally, span.days())


def first_day(site_id: int) -> dt.date | None:
    """The first UTC day the site's rollups count a decision on (None: none yet)."""
    t = ConsentRollup.__table__
    day = db.session.execute(sa.select(sa.func.min(t.c.day)).where(t.c.site_id == site_id, t.c.span == "day")).scalar()
    return _day(day) if day is not None else None
