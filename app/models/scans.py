"""Compliance scans asked for through the API or the dashboard (app/services/scanner/queue.py):
queued, claimed by one worker's `scan` duty, and kept with their JSON report."""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

STATUSES = ("queued", "running", "done", "failed")


class Scan(db.Model):
    __tablename__ = "scans"
    __table_args__ = (sa.Index("ix_scans_site_id_id", "site_id", "id"), sa.Index("ix_scans_status_id", "status", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    scan_id: Mapped[str] = mapped_column(sa.String(40), unique=True)  # `scan_` and 32 hex digits: the public id
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(sa.String(2048))
    regions: Mapped[list] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(10), default="queued")
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    claim: Mapped[str | None] = mapped_column(sa.String(32))  # the worker's token while it runs the scan
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    findings: Mapped[int | None] = mapped_column()  # how many findings the report lists
    report: Mapped[dict | None] = mapped_column(sa.JSON)
    error: Mapped[str | None] = mapped_column(sa.String(300))
