"""Each site's keys for personal data, wrapped by the master key."""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


class SiteKeyring(db.Model):
    """A site's data, lookup and link-signing keys, wrapped (AES-256-GCM) by the master key."""

    __tablename__ = "site_keyrings"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"), unique=True)
    wrapped: Mapped[str] = mapped_column(sa.Text)
    # which master key wrapped it (an HMAC of a fixed string under that key), so rotation is idempotent
    master_fingerprint: Mapped[str] = mapped_column(sa.String(32))
    # the site's default for email consent: the consent counts only after the confirmation click
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    rewrapped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
