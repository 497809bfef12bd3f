"""Sites and what belongs to them: purposes, policy versions, API keys, receipt-signing keys."""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


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
    # email consent: a signup counts after its confirmation link is followed, unless a request says otherwise
    email_double_opt_in: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    # who the controller is (app/services/subjects/controller.py): {"organisation", "contact", "address",
    # "email", "phone", "dpo": {...}}, each optional; None for a site that has given none
    controller: Mapped[dict | None] = mapped_column(sa.JSON)
    # the widget's colours (app/services/theme.py): {"bg": "#ffffff", ...}; None keeps its defaults
    theme: Mapped[dict | None] = mapped_column(sa.JSON)
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
    """A published policy version. One that asks again (`reconsent`) makes the decisions made under
    older versions stale once it takes effect; one that does not (a correction) leaves them standing."""

    __tablename__ = "policy_versions"
    __table_args__ = (sa.UniqueConstraint("site_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(sa.String(64))
    url: Mapped[str] = mapped_column(sa.String(2048), default="")
    effective_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    reconsent: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())

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


class SiteDraft(db.Model):
    """A site's unpublished edits (app/services/sites/drafts.py): a whole site document, which
    visitors never see until it is published."""

    __tablename__ = "site_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"), unique=True)
    document: Mapped[dict] = mapped_column(sa.JSON)
    # the published document's hash when the draft was begun: a publish from elsewhere since shows
    base_hash: Mapped[str] = mapped_column(sa.String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(sa.String(200))


class SiteSighting(db.Model):
    """The first time the tag was seen working on one of a site's origins: its widget loaded from a
    page there (`widget`), or a decision arrived from there (`decision`). Names no visitor."""

    __tablename__ = "site_sightings"
    __table_args__ = (sa.UniqueConstraint("site_id", "origin", "kind", name="uq_site_sighting"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    origin: Mapped[str] = mapped_column(sa.String(255))
    kind: Mapped[str] = mapped_column(sa.String(16))  # widget | decision
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
