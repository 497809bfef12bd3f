"""The widget builds this installation has served: the builds a consent record may name.

The widget's configuration carries the SHA-256 of the widget it is inlined into (`widget_build`,
app/embed.py widget_build), and the widget sends it back with each decision. A record keeps it
only if the server served that build: a build another deployment served (a visitor's page loaded
before a deploy, answered by a process after it) is in `widget_builds`, which each process adds to
the first time it serves its build, once per build and process (the unique key lets all but the
first insert do nothing). A decision naming a build never served is refused, nothing written.

The check costs the write path a comparison with the process's own build, else a cache lookup
(`caches.widget_builds`, one query per build and process per SITE_CACHE_SECONDS; a build is never
forgotten, and a build no one has served yet cannot be named by an honest client, so a remembered
"no" is never wrong for long).
"""
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from app.errors import Invalid
from app.extensions import caches, db
from app.models import WidgetBuild, utcnow

NOTED = "opsiq_widget_builds"  # app.extensions key: the builds this process has noted


def note_served(build: str) -> None:
    """Note that this process serves `build` (once per process). Commits the session: call it where
    the request holds nothing uncommitted."""
    noted = current_app.extensions.setdefault(NOTED, set())
    if build in noted:
        return
    table = WidgetBuild.__table__
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    try:
        db.session.execute(insert(table).values(sha256=build, first_served_at=utcnow())
                           .on_conflict_do_nothing(index_elements=["sha256"]))
        db.session.commit()
    except sa.exc.SQLAlchemyError as e:  # retried by the next request; a record naming it is refused meanwhile
        db.session.rollback()
        current_app.logger.warning("widget build not noted: %s", type(e).__name__)
        return
    noted.add(build)


def _served(build: str) -> bool:
    return db.session.get(WidgetBuild, build) is not None


def is_served(build: str) -> bool:
    """Whether this installation has served `build`."""
    if build in current_app.extensions.get(NOTED, ()):
        return True
    return caches.widget_builds.get(build, current_app.config["SITE_CACHE_SECONDS"], _served, build)


def check_build(build: str | None) -> None:
    """Invalid unless `build` (when given) is a build this installation has served."""
    if build is not None and not is_served(build):
        raise Invalid(errors={"widget_build": ["not a widget build this server has served"]})

