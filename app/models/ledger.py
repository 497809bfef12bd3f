"""The consent ledger: one append-only row per decision, and the seals that chain them."""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import BigId, UTCDateTime, new_uuid, utcnow


class ConsentRecord(db.Model):
    """One consent decision. Append-only: a correction is a new record linked to the previous one."""

    __tablename__ = "consent_records"
    __table_args__ = (
        # client_record_id leads: a generic (prepared) plan must not mistake the visitor index for this one
        sa.UniqueConstraint("client_record_id", "site_id", name="uq_consent_client_record"),
        sa.Index("ix_consent_site_visitor", "site_id", "visitor_id", "id"),
        sa.Index("ix_consent_site_created", "site_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"))
    visitor_id: Mapped[str] = mapped_column(sa.String(64))
    client_record_id: Mapped[str | None] = mapped_column(sa.String(36))
    event: Mapped[str] = mapped_column(sa.String(16))
    method: Mapped[str] = mapped_column(sa.String(16))
    decisions: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    config_hash: Mapped[str] = mapped_column(sa.String(64))
    policy_version: Mapped[str | None] = mapped_column(sa.String(64))
    policy_url: Mapped[str | None] = mapped_column(sa.String(2048))
    language: Mapped[str] = mapped_column(sa.String(16))
    regime: Mapped[str] = mapped_column(sa.String(16))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    region: Mapped[str | None] = mapped_column(sa.String(8))
    geoip_build: Mapped[dt.date | None] = mapped_column(sa.Date)
    ip_truncated: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
    page_url: Mapped[str | None] = mapped_column(sa.String(2048))
    gpc: Mapped[bool] = mapped_column(default=False)
    prev_record_id: Mapped[str | None] = mapped_column(sa.String(36))
    source: Mapped[str] = mapped_column(sa.String(16), default="browser")
    secret_hash: Mapped[str | None] = mapped_column(sa.String(64))  # rules.secret_hash: the visitor's proof
    record_hash: Mapped[str] = mapped_column(sa.String(64))


class LedgerSeal(db.Model):
    """A sealed batch of a site's records, chained to the seal before it by SHA-256."""

    __tablename__ = "ledger_seals"
    __table_args__ = (sa.UniqueConstraint("site_id", "seq", name="uq_seal_site_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"), index=True)
    seq: Mapped[int] = mapped_column()
    first_id: Mapped[int] = mapped_column(sa.BigInteger)
    last_id: Mapped[int] = mapped_column(sa.BigInteger)
    record_count: Mapped[int] = mapped_column()
    # [[record row id, record hash], ...] in id order: lets verify name each altered, inserted or removed record
    entries: Mapped[list] = mapped_column(sa.JSON)
    # Every record created up to this time should be in this seal or an earlier one.
    covers_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    seal_hash: Mapped[str] = mapped_column(sa.String(64))
    sealed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
