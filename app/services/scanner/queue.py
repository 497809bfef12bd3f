"""Scans asked for through the API or the dashboard: queued (`scan.requested`), claimed by one
worker's `scan` duty at a time, run, and kept with their report (`scan.completed`).

A claim is a conditional update of a queued row (or of a running one whose worker has been gone
for LEASE): of two workers reaching for the same scan, one updates it and the other finds nothing
to update and looks for the next. A worker writes its result only while the claim is still its own.
"""
import datetime as dt
import uuid
from collections.abc import Sequence
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy import orm

from app.errors import NotFound
from app.extensions import db
from app.models import Scan, Site, utcnow
from app.services import audit
from app.services.purposes import purpose_doc
from app.services.scanner.guard import check_page_url
from app.services.scanner.report import scan_page
from app.services.scanner.settings import ScanError, Settings, parse_regions

LEASE = dt.timedelta(minutes=15)  # far longer than a scan may take (its time limits bound it)


def request_scan(site_id: int, url: str, regions: Sequence[str] | None, settings: Settings) -> Scan:
    """Queue a scan of `url` for the site; ScanError (fields `url`, `regions`) if it could not run."""
    wanted = parse_regions(regions)
    check_page_url(url, settings)
    scan = Scan(scan_id="scan_" + uuid.uuid4().hex, site_id=site_id, url=url, regions=[r.code for r in wanted],
                status="queued", requested_at=utcnow())
    db.session.add(scan)
    audit.record("scan.requested", audit.Target("scan", scan.scan_id), site_id,
                 {"host": urlsplit(url).hostname, "regions": scan.regions})  # not the URL: its query may hold a token
    db.session.commit()
    return scan


def get_scan(site_id: int, scan_id: str) -> Scan:
    """The site's scan with this id, or NotFound (another site's scans are not found either)."""
    scan = db.session.execute(db.select(Scan).where(Scan.site_id == site_id, Scan.scan_id == scan_id)
                              ).scalar_one_or_none()
    if scan is None:
        raise NotFound(f"No scan {scan_id!r} on this site.")
    return scan


def list_scans(site_id: int, limit: int = 50) -> Sequence[Scan]:
    """The site's latest scans, newest first, without their reports (megabytes with the screenshots)."""
    return db.session.execute(db.select(Scan).options(orm.defer(Scan.report)).where(Scan.site_id == site_id)
                              .order_by(Scan.id.desc()).limit(limit)).scalars().all()


def _claimable(now: dt.datetime):
    return sa.or_(Scan.status == "queued", sa.and_(Scan.status == "running", Scan.started_at < now - LEASE))


def claim_next(now: dt.datetime | None = None) -> tuple[int, str] | None:
    """Claim the oldest claimable scan for this worker: (its row id, the claim token), or None."""
    now = now or utcnow()
    token = uuid.uuid4().hex
    for _ in range(5):  # another worker may take each candidate first
        row_id = db.session.execute(db.select(Scan.id).where(_claimable(now)).order_by(Scan.id).limit(1)).scalar()
        if row_id is None:
            db.session.rollback()
            return None
        taken = db.session.execute(sa.update(Scan.__table__).where(Scan.id == row_id, _claimable(now))
                                   .values(status="running", claim=token, started_at=now)).rowcount
        db.session.commit()
        if taken == 1:
            return row_id, token
    return None


def run_pending(settings: Settings) -> tuple[int, bool]:
    """Run one queued scan (Chromium takes seconds to minutes): (1 if one ran, whether more wait)."""
    claimed = claim_next()
    if claimed is None:
        return 0, False
    row_id, token = claimed
    scan = db.session.get(Scan, row_id)
    site = db.session.get(Site, scan.site_id)
    scan_id, site_id, url, regions = scan.scan_id, scan.site_id, scan.url, list(scan.regions)
    site_key, purposes = site.site_key, [purpose_doc(p) for p in site.purposes]
    db.session.commit()  # no transaction held open while Chromium works
    values = {"finished_at": None, "claim": None}
    try:
        report = scan_page(site_key, purposes, url, regions, settings)
        values.update(status="done", report=report, findings=len(report["findings"]), error=None)
    except ScanError as e:  # refused now (the address changed since it was queued), or no Chromium
        values.update(status="failed", error=e.message[:300])
    except Exception as e:  # noqa: BLE001 (Chromium crashed: the scan failed, the worker goes on)
        values.update(status="failed", error=f"{type(e).__name__}: {e}"[:300])
    values["finished_at"] = utcnow()
    mine = db.session.execute(sa.update(Scan.__table__).where(Scan.id == row_id, Scan.claim == token)
                              .values(**values)).rowcount
    if mine:
        audit.record("scan.completed", audit.Target("scan", scan_id), site_id,
                     {"status": values["status"], "findings": values.get("findings") or 0})
    db.session.commit()
    more = db.session.execute(db.select(Scan.id).where(Scan.status == "queued").limit(1)).scalar() is not None
    return 1, more
