"""Known people and the visitors (browsers) linked to them.

No column holds a raw email address or external id: those are AES-256-GCM ciphertexts under the
site's data key (`*_enc`), and lookups go through a keyed hash of the normalised value (`*_hash`).
"""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, new_uuid, utcnow


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
