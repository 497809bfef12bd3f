"""Tables. Core consent tables live here; later areas add modules beside this one."""
import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def utcnow():
    """Timezone-aware current UTC time (the one clock the models use)."""
    return dt.datetime.now(dt.timezone.utc)


def new_uuid():
    return str(uuid.uuid4())


class UTCDateTime(sa.types.TypeDecorator):
    """Stores aware UTC datetimes; SQLite returns them aware again."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(dt.timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value


class Site(db.Model):
    """A customer site: its public key, origins, languages and texts, and consent settings."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_key: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    origins: Mapped[list] = mapped_column(sa.JSON, default=list)
    default_language: Mapped[str] = mapped_column(sa.String(16), default="en")
    languages: Mapped[list] = mapped_column(sa.JSON, default=lambda: ["en"])
    # {"de": {"title": ..., "description": ..., ...}}: overrides of the built-in banner texts
    texts: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    retention_days: Mapped[int] = mapped_column(default=3 * 365)
    consent_validity_days: Mapped[int] = mapped_column(default=180)
    # {"US-NY": "opt_out", "CH": "opt_in"}: a region or country forced to a regime
    regime_overrides: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    uses_google: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    purposes: Mapped[list["Purpose"]] = relationship(
        back_populates="site", order_by="Purpose.position", cascade="all, delete-orphan"
    )
    policies: Mapped[list["PolicyVersion"]] = relationship(
        back_populates="site", order_by="PolicyVersion.effective_at", cascade="all, delete-orphan"
    )


class Purpose(db.Model):
    """A purpose of processing on a site, with its legal basis and Consent Mode keys."""

    __tablename__ = "purposes"
    __table_args__ = (sa.UniqueConstraint("site_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(sa.String(64))
    legal_basis: Mapped[str] = mapped_column(sa.String(32))  # necessary | consent | legitimate_interest
    # Default outside opt-in regimes; under opt-in every purpose but `necessary` starts off.
    default_on: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    titles: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # {"en": "Analytics"}
    descriptions: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    consent_mode_keys: Mapped[list] = mapped_column(sa.JSON, default=list)
    cookies: Mapped[list] = mapped_column(sa.JSON, default=list)  # removed on withdrawal
    storage_keys: Mapped[list] = mapped_column(sa.JSON, default=list)

    site: Mapped[Site] = relationship(back_populates="purposes")


class PolicyVersion(db.Model):
    """A published policy: publishing a newer one makes older decisions stale."""

    __tablename__ = "policy_versions"
    __table_args__ = (sa.UniqueConstraint("site_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(sa.String(64))
    url: Mapped[str] = mapped_column(sa.String(2048), default="")
    effective_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    site: Mapped[Site] = relationship(back_populates="policies")


class ApiKey(db.Model):
    """A site's secret server API key, kept only as a SHA-256 hash."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(sa.String(24), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ReceiptKey(db.Model):
    """A secret that signs a site's consent receipts; the newest signs, all unretired verify."""

    __tablename__ = "receipt_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    secret: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


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
from app.models import identity  # noqa: E402,F401  (issue 5: identities, email consent, webhooks)
