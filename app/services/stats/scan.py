"""The overview computed again by reading every record of the period from the ledger.

It is the rollups' reference: the tests and `flask stats check` hold the two equal. It counts
the records up to the site's rollup mark, so that both count the same records (a retention purge
deletes old ones, which the rollups still count: `purged_records` says how many).
"""
import dataclasses
from collections.abc import Mapping

import sqlalchemy as sa

from app.extensions import db
from app.models import ConsentRecord, LedgerCheckpoint
from app.services.stats.figures import Overview, Tally, build_overview, place_code, utc_day
from app.services.stats.period import Period
from app.services.stats.rollup import mark_of

STREAM_BATCH = 5_000


def scan_overview(site_id: int, span: Period, country: str | None = None, region: str | None = None) -> Overview:
    """The figures site_overview gives, from the ledger's records up to the site's rollup mark."""
    country, region = place_code(country), place_code(region)
    mark = mark_of(site_id)
    through, as_of = (mark.last_id, mark.covers_until) if mark else (0, None)
    t = ConsentRecord.__table__
    start, end = span.bounds()
    cond = [t.c.site_id == site_id, t.c.id <= through, t.c.created_at >= start]
    if end is not None:
        cond.append(t.c.created_at < end)
    if country is not None:
        cond.append(t.c.country == country)
    if region is not None:
        cond.append(t.c.region == region)
    query = sa.select(t.c.created_at, t.c.country, t.c.region, t.c.policy_version, t.c.regime, t.c.method, t.c.gpc,
                      t.c.decisions).where(*cond)
    tally = Tally()
    result = db.session.execute(query.execution_options(yield_per=STREAM_BATCH))
    for created_at, *cell, decisions in result:
        tally.add_record(utc_day(created_at), (*cell[:5], bool(cell[5])), decisions or {})
    db.session.rollback()  # end the read transaction
    return build_overview(span.start, span.end, country, region, as_of, tally, span.days())


def purged_records(site_id: int) -> int:
    """How many of the site's records retention purges have deleted from the ledger."""
    return db.session.execute(sa.select(sa.func.coalesce(sa.func.sum(LedgerCheckpoint.record_count), 0))
                              .where(LedgerCheckpoint.site_id == site_id)).scalar()


def differences(rolled: Overview, scanned: Overview) -> list[str]:
    """Where two overviews differ, one line each: `path: rollups X, ledger Y`."""
    out: list[str] = []
    _diff(dataclasses.asdict(rolled), dataclasses.asdict(scanned), "", out)
    return out


def _name(item) -> str | None:
    """What names an item of an overview's lists: a group's key, a day, a purpose."""
    if isinstance(item, Mapping):
        for field in ("key", "day", "purpose"):
            if field in item:
                return str(item[field])
    return None


def _diff(a, b, path: str, out: list[str]) -> None:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(set(a) | set(b), key=str):
            _diff(a.get(key), b.get(key), f"{path}.{key}" if path else str(key), out)
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if all(_name(x) is not None for x in [*a, *b]):  # by name: a missing group is one difference
            _diff({_name(x): x for x in a}, {_name(x): x for x in b}, path, out)
        elif a != b:
            out.append(f"{path}: rollups {a!r}, ledger {b!r}")
    elif a != b:
        out.append(f"{path}: rollups {a!r}, ledger {b!r}")
