"""The audit log: who did what to which thing, one row per action (app/services/audit.py writes them)."""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import BigId, UTCDateTime


class AuditEntry(db.Model):
    """One audited action, written in the transaction of the change it describes. It holds no
    personal data: people appear only as keyed hashes, addresses truncated. `entry_hash` commits
    to every other column but `id` (app/services/audit.py entry_hash), for sealing to chain."""

    __tablename__ = "audit_entries"
    __table_args__ = (sa.Index("ix_audit_entries_site_id_id", "site_id", "id"),
                      {"sqlite_autoincrement": True})  # ids never reused: seals list them

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    # null: an installation-wide action (the master key, every site's dead letters)
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(sa.String(200))
    action: Mapped[str] = mapped_column(sa.String(64))
    target_kind: Mapped[str] = mapped_column(sa.String(32))
    target_id: Mapped[str | None] = mapped_column(sa.String(200))
    client_ip: Mapped[str | None] = mapped_column(sa.String(45))
    request_id: Mapped[str | None] = mapped_column(sa.String(128))
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    entry_hash: Mapped[str] = mapped_column(sa.String(64))
