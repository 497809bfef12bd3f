"""Email marketing consent: the append-only records, the current state per address, suppressions.

No column holds a raw email address or external id: those are AES-256-GCM ciphertexts under the
site's data key (`*_enc`), and lookups go through a keyed hash of the normalised value (`*_hash`).
"""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import BigId, UTCDateTime, new_uuid, utcnow


class EmailConsentRecord(db.Model):
    """One step of email consent: submitted, confirmed or withdrawn. Append-only; sealed in the
    site's `email` chain (app/ledger/chains.py), removed only by erasure, which leaves a
    deletion entry."""

    __tablename__ = "email_consent_records"
    __table_args__ = (sa.Index("ix_email_records_site_hash", "site_id", "email_hash", "id"),
                      sa.Index("ix_email_records_site_id_id", "site_id", "id"),
                      {"sqlite_autoincrement": True})  # ids never reused: seals list them

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"))
    email_hash: Mapped[str] = mapped_column(sa.String(64))
    event: Mapped[str] = mapped_column(sa.String(16))  # submitted | confirmed | withdrawn
    double_opt_in: Mapped[bool] = mapped_column(default=True)
    # the submission a confirmation confirms
    submission_record_id: Mapped[str | None] = mapped_column(sa.String(36))
    method: Mapped[str] = mapped_column(sa.String(16))  # api | link | one_click
    source: Mapped[str | None] = mapped_column(sa.String(2048))
    wording: Mapped[str | None] = mapped_column(sa.Text)
    language: Mapped[str | None] = mapped_column(sa.String(16))
    ip_truncated: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmailConsentState(db.Model):
    """The current email consent of one address on a site: what the check reads (one row per address)."""

    __tablename__ = "email_consent_states"
    __table_args__ = (sa.UniqueConstraint("site_id", "email_hash", name="uq_email_state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    email_hash: Mapped[str] = mapped_column(sa.String(64))
    email_enc: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16))  # pending | confirmed | withdrawn
    basis: Mapped[str] = mapped_column(sa.String(16))  # double_opt_in | single_opt_in | none
    submission_record_id: Mapped[str | None] = mapped_column(sa.String(36))
    confirmation_record_id: Mapped[str | None] = mapped_column(sa.String(36))
    withdrawal_record_id: Mapped[str | None] = mapped_column(sa.String(36))
    given_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmailSuppression(db.Model):
    """An unsubscribed address, kept by keyed hash only so that it outlives erasure of the person."""

    __tablename__ = "email_suppressions"
    __table_args__ = (sa.UniqueConstraint("site_id", "email_hash", name="uq_email_suppression"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    email_hash: Mapped[str] = mapped_column(sa.String(64))
    withdrawal_record_id: Mapped[str] = mapped_column(sa.String(36))
    suppressed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
