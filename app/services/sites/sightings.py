"""Whether the tag works on a site's origins: the first time its widget loaded from a page there,
and the first decision that arrived from there (the dashboard's "Getting started").

Only origins the site lists are recorded (anyone can send any Origin or Referer, but not make a
site list it), once per origin and kind: each process remembers what it has recorded, so a page
view or a decision costs a set lookup, and the database sees one insert per origin, kind and
process, which the unique key lets all but the first do nothing.
"""
import datetime as dt
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.models import SiteSighting, utcnow

KINDS = ("widget", "decision")


def origin_of(url: str | None) -> str | None:
    """The origin (scheme://host[:port]) of a URL such as a Referer, lower-cased; None if it has none."""
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme in ("http", "https") and parts.netloc else None


def saw(snap, origin: str | None, kind: str) -> None:
    """Note that the site's tag worked on `origin` (one the site lists; others are ignored). Commits
    the session: call it where the request holds nothing uncommitted (after the answer's work)."""
    if not origin:
        return
    origin = origin.lower()
    if origin not in snap.origins:
        return
    seen = current_app.extensions.setdefault("opsiq_sightings", set())
    key = (snap.id, origin, kind)
    if key in seen:
        return
    seen.add(key)
    table = SiteSighting.__table__
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(site_id=snap.id, origin=origin, kind=kind, first_seen_at=utcnow())
    try:
        db.session.execute(statement.on_conflict_do_nothing(index_elements=["site_id", "origin", "kind"]))
        db.session.commit()
    except sa.exc.SQLAlchemyError as e:  # a missed sighting is retried by the next request, never an error
        db.session.rollback()
        seen.discard(key)
        current_app.logger.warning("site sighting not recorded: %s", type(e).__name__)


def sightings(site_id: int) -> dict[str, dict[str, dt.datetime]]:
    """{origin: {kind: first seen}} for the site."""
    out: dict[str, dict[str, dt.datetime]] = {}
    for row in db.session.execute(sa.select(SiteSighting).where(SiteSighting.site_id == site_id)).scalars():
        out.setdefault(row.origin, {})[row.kind] = row.first_seen_at
    return out
