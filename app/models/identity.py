"""Tables for known people, email consent and webhooks (issue 5).

No column holds a raw email address or external id: those are AES-256-GCM ciphertexts under the
site's data key (`*_enc`), and lookups go through a keyed hash of the normalised value (`*_hash`).
"""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models import BigId, UTCDateTime, new_uuid, utcnow


class SiteKeyring(db.Model):
    """A site's data, lookup and link-signing keys, wrapped (AES-256-GCM) by the master key."""

    __tablename__ = "site_keyrings"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"), unique=True)
    wrapped: Mapped[str] = mapped_column(sa.Text)
    # which master key wrapped it (an HMAC of a fixed string under that key), so rotation is idempotent
    master_fingerprint: Mapped[str] = mapped_column(sa.String(32))
    # the site's default for email consent: the consent counts only after the confirmation click
    double_opt_in: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    rewrapped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Identity(db.Model):
    """A known person on a site, found by the keyed hash of their email or external id."""

    __tablename__ = "identities"
    __table_args__ = (
        sa.UniqueConstraint("site_id", "email_hash", name="uq_identity_email"),
        sa.UniqueConstraint("site_id", "external_id_hash", name="uq_identity_external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    email_hash: Mapped[str | None] = mapped_column(sa.String(64))
    email_enc: Mapped[str | None] = mapped_column(sa.Text)
    external_id_hash: Mapped[str | None] = mapped_column(sa.String(64))
    external_id_enc: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdentityLink(db.Model):
    """A visitor (browser) linked to a known person; `method` is server or browser."""

    __tablename__ = "identity_links"
    __table_args__ = (
        sa.UniqueConstraint("identity_id", "visitor_id", name="uq_identity_link"),
        sa.Index("ix_identity_links_site_visitor", "site_id", "visitor_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    identity_id: Mapped[int] = mapped_column(sa.ForeignKey("identities.id", ondelete="CASCADE"))
    visitor_id: Mapped[str] = mapped_column(sa.String(64))
    method: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmailConsentRecord(db.Model):
    """One step of email consent: submitted, confirmed or withdrawn. Append-only."""

    __tablename__ = "email_consent_records"
    __table_args__ = (sa.Index("ix_email_records_site_hash", "site_id", "email_hash", "id"),)

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


class WebhookEndpoint(db.Model):
    """A receiver subscribed to some event types; its signing secrets are encrypted under the site key."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(sa.String(40), unique=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(sa.String(2048))
    events: Mapped[list] = mapped_column(sa.JSON)
    secret_enc: Mapped[str] = mapped_column(sa.Text)
    # during a rotation the previous secret signs too, until it expires
    previous_secret_enc: Mapped[str | None] = mapped_column(sa.Text)
    previous_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(200))


class WebhookEvent(db.Model):
    """An event in the outbox, written in the same transaction as the change it describes."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(sa.String(40), unique=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(sa.String(40))
    data: Mapped[dict] = mapped_column(sa.JSON)
    # personal fields of `data` (an email address), encrypted; merged in only when sending
    sealed_data: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(db.Model):
    """One event owed to one endpoint: pending until delivered, dead after a day of failures."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "endpoint_id", name="uq_delivery_event_endpoint"),
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        sa.Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # retries go on for WEBHOOK_RETRY_HOURS from here (reset by a replay)
    retry_from: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    claim: Mapped[str | None] = mapped_column(sa.String(36))
    last_status: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
