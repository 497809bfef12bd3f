"""Retention purges: what the platform keeps only for as long as its settings say (REGULATIONS.md
section 9, storage limitation), removed by `flask retention purge` and the worker's `retention` duty.

Per site and run:

- consent records older than the site's `retention_days`, except each visitor's latest record while
  it is still in force (`expires_at` in the future): the proof of a current consent is never purged.
  Only sealed records go (app/ledger/purge.py writes the MAC'd checkpoint that lets verify tell the
  purge from a deletion); older records not yet sealed are counted as left for a later run.
  The ledger primitive is called once per chunk of at most CHUNK candidates, so no statement holds
  more than a batch of rows and no read holds a whole site's ids;
- webhook deliveries delivered more than WEBHOOK_RETENTION_DAYS ago, and then the events that no
  delivery refers to any more;
- pending email confirmations older than EMAIL_CONFIRM_MAX_AGE (their link has expired; the
  submission stays in the append-only records);
- audit entries older than AUDIT_RETENTION_DAYS (installation-wide ones when every site is purged),
  once sealed, under a deletion entry of their chain (app/ledger/chains.py) that verify accepts.

A dry run counts the same things and changes nothing. A run that purged something, or that a
person asked for, leaves one `retention.purged` audit entry per site with the counts.
"""
import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass

import sqlalchemy as sa

from app.errors import Conflict
from app.extensions import db
from app.ledger import chains
from app.ledger.purge import PURGE_BATCH, purge_sealed_range
from app.ledger.seals import last_seal
from app.models import (
    ConsentRecord,
    EmailConsentState,
    Site,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    utcnow,
)
from app.services import audit

CHUNK = 10_000  # candidates per ledger checkpoint
PURGE_LOCK = 0x9E7A1  # advisory lock namespace of the purges (with the site id as second key)
WEBHOOK_RETENTION_DAYS = 30


@dataclass
class Counts:
    """What a purge of one site removed (or, in a dry run, would remove)."""

    consent_records: int = 0
    consent_kept: int = 0  # old, but the visitor's decision in force
    consent_unsealed: int = 0  # old, but not sealed yet: left for a later run
    webhook_deliveries: int = 0
    webhook_events: int = 0
    email_pending: int = 0
    audit_entries: int = 0

    def removed(self) -> int:
        """Rows removed, of every kind."""
        return (self.consent_records + self.webhook_deliveries + self.webhook_events + self.email_pending
                + self.audit_entries)


@dataclass(frozen=True)
class Settings:
    """The configuration a purge runs under (from the app's config, read by the caller)."""

    audit_days: int
    email_confirm_max_age: float
    batch: int = PURGE_BATCH

    @classmethod
    def from_config(cls, config) -> "Settings":
        """The settings in this app's configuration."""
        return cls(int(config["AUDIT_RETENTION_DAYS"]), float(config["EMAIL_CONFIRM_MAX_AGE"]))


def purge_site(site: Site, settings: Settings, dry_run: bool = False, record_empty: bool = True,
               limit: int | None = None, installation: bool = False,
               progress: Callable[[int], None] | None = None) -> Counts:
    """Purge (or with `dry_run` count) what the site keeps past its retention. Commits each batch.

    `limit`: stop after about this many consent records (the worker's bounded round); `progress`
    is called with each chunk's count; `installation`: also installation-wide audit entries.
    The audit entry is written unless dry, and unless nothing was removed and not `record_empty`.
    Conflict when another purge of the site is running (PostgreSQL: the site's purge lock)."""
    if dry_run:
        return _purge(site, settings, True, record_empty, limit, installation, progress)
    with _purging(site.id):
        return _purge(site, settings, False, record_empty, limit, installation, progress)


@contextlib.contextmanager
def _purging(site_id: int):
    """On PostgreSQL, the site's purge lock for the whole run, held on a connection of its own (the
    purge commits every batch, and two purges of a site would each vouch for the same rows in their
    checkpoints); Conflict when another purge has it. SQLite writes one at a time."""
    if db.engine.dialect.name != "postgresql":
        yield
        return
    args = {"ns": PURGE_LOCK, "site": site_id}
    with db.engine.connect() as conn:
        if not conn.execute(sa.text("SELECT pg_try_advisory_lock(:ns, :site)"), args).scalar():
            raise Conflict("another purge of this site is running: it is left to that one")
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:ns, :site)"), args)
            conn.commit()


def _purge(site: Site, settings: Settings, dry_run: bool, record_empty: bool, limit: int | None, installation: bool,
           progress: Callable[[int], None] | None) -> Counts:
    now = utcnow()
    counts = Counts()
    _consent_records(site, now, dry_run, settings.batch, limit, counts, progress)
    _webhooks(site.id, now, dry_run, settings.batch, counts)
    counts.email_pending = _delete_batched(
        EmailConsentState.__table__, dry_run, settings.batch,
        EmailConsentState.site_id == site.id, EmailConsentState.status == "pending",
        sa.func.coalesce(EmailConsentState.given_at, EmailConsentState.updated_at)
        < now - dt.timedelta(seconds=settings.email_confirm_max_age))
    audit_cutoff = now - dt.timedelta(days=settings.audit_days)
    for scope in [site.id] + ([chains.INSTALLATION] if installation else []):
        counts.audit_entries += _audit_entries(scope, audit_cutoff, settings, dry_run)
    if not dry_run and (record_empty or counts.removed()):
        audit.record("retention.purged", audit.Target("site", site.site_key), site.id,
                     {**asdict(counts), "retention_days": site.retention_days, "audit_days": settings.audit_days})
        db.session.commit()
    db.session.rollback()  # end the last read
    return counts


def consent_candidates(site: Site) -> int:
    """How many of the site's sealed consent records are past its retention now (a progress bar's length)."""
    now = utcnow()
    head = last_seal(site.id)
    sealed = ConsentRecord.__table__.c.id <= (head.last_id if head is not None else 0)
    n = db.session.execute(sa.select(sa.func.count()).where(*_purgeable(site, now), sealed)).scalar_one()
    db.session.rollback()
    return n


def _purgeable(site: Site, now: dt.datetime) -> list:
    """Where a record of the site is past retention and not its visitor's decision in force."""
    r = ConsentRecord.__table__
    later = r.alias("later")
    newer = sa.exists().where(later.c.site_id == r.c.site_id, later.c.visitor_id == r.c.visitor_id,
                              later.c.id > r.c.id)
    in_force = sa.and_(r.c.expires_at > now, ~newer)
    return [r.c.site_id == site.id, r.c.created_at < now - dt.timedelta(days=site.retention_days), ~in_force]


def _consent_records(site: Site, now: dt.datetime, dry_run: bool, batch: int, limit: int | None, counts: Counts,
                     progress: Callable[[int], None] | None) -> None:
    r = ConsentRecord.__table__
    old = [r.c.site_id == site.id, r.c.created_at < now - dt.timedelta(days=site.retention_days)]
    purgeable = _purgeable(site, now)
    head = last_seal(site.id)
    sealed_to = head.last_id if head is not None else 0
    count = lambda *cond: db.session.execute(sa.select(sa.func.count()).where(*cond)).scalar_one()
    counts.consent_kept = count(*old) - count(*purgeable)
    counts.consent_unsealed = count(*purgeable, r.c.id > sealed_to)
    if dry_run:
        counts.consent_records = count(*purgeable, r.c.id <= sealed_to)
        return
    setting = f"retention_days={site.retention_days}"
    after = 0
    while limit is None or counts.consent_records < limit:
        ids = db.session.execute(sa.select(r.c.id).where(*purgeable, r.c.id > after, r.c.id <= sealed_to)
                                 .order_by(r.c.id).limit(CHUNK)).scalars().all()
        if not ids:
            break
        doomed = set(ids)
        # the primitive deletes its whole range but `keep`: keep what lies between the candidates
        keep = [i for i in db.session.execute(sa.select(r.c.id).where(
            r.c.site_id == site.id, r.c.id.between(ids[0], ids[-1]))).scalars() if i not in doomed]
        checkpoint = purge_sealed_range(site.id, ids[0], ids[-1], setting, keep=keep, batch=batch)
        counts.consent_records += checkpoint.record_count
        after = ids[-1]
        if progress is not None:
            progress(len(ids))
        if len(ids) < CHUNK:
            break
    if limit is not None and counts.consent_records >= limit:
        counts.consent_unsealed = count(*purgeable, r.c.id > sealed_to)
    db.session.rollback()


def _webhooks(site_id: int, now: dt.datetime, dry_run: bool, batch: int, counts: Counts) -> None:
    d, e = WebhookDelivery.__table__, WebhookEvent.__table__
    cutoff = now - dt.timedelta(days=WEBHOOK_RETENTION_DAYS)
    endpoints = sa.select(WebhookEndpoint.id).where(WebhookEndpoint.site_id == site_id)
    spent = sa.and_(d.c.status == "delivered", d.c.delivered_at < cutoff)
    counts.webhook_deliveries = _delete_batched(d, dry_run, batch, d.c.endpoint_id.in_(endpoints), spent)
    # an event goes once no delivery refers to it; in a dry run, once none would
    referred = sa.exists().where(d.c.event_id == e.c.id, *([~spent] if dry_run else []))
    counts.webhook_events = _delete_batched(e, dry_run, batch, e.c.site_id == site_id, e.c.created_at < cutoff,
                                            ~referred)


def _audit_entries(scope: int, cutoff: dt.datetime, settings: Settings, dry_run: bool) -> int:
    """Delete the scope's sealed audit entries older than `cutoff`, each batch under a deletion entry
    of its audit chain (app/ledger/chains.py); older ones not sealed yet wait for a later run."""
    a = chains.AUDIT
    t = a.table
    vouch = lambda ids: chains.vouch_deletion(a, scope, ids, f"audit_retention_days={settings.audit_days}")
    return _delete_batched(t, dry_run, settings.batch, a.where(scope), t.c.created_at < cutoff,
                           t.c.id <= chains.sealed_up_to(a, scope), before_delete=vouch)


def _delete_batched(table: sa.Table, dry_run: bool, batch: int, *where,
                    before_delete: Callable[[list[int]], object] | None = None) -> int:
    """Delete the rows matching `where`, `batch` at a time, each batch its own transaction (or count
    them); `before_delete` is given each batch's ids first, in its transaction."""
    if dry_run:
        return db.session.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()
    total = 0
    while True:
        ids = db.session.execute(sa.select(table.c.id).where(*where).order_by(table.c.id).limit(batch)).scalars().all()
        if not ids:
            return total
        if before_delete is not None:
            before_delete(ids)
        db.session.execute(sa.delete(table).where(table.c.id.in_(ids)))
        db.session.commit()
        total += len(ids)
