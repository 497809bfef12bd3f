"""The register of data-subject requests: what was asked, by whom (encrypted), when it is due, whether answered.

No column holds the selector in the clear: the value (an email, an external id, a visitor or
person id) is AES-256-GCM encrypted under the site's data key, and found by its keyed hash.
"""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, new_uuid, utcnow


class SubjectRequest(db.Model):
    """One request of a data subject (access, erasure, rectification, objection) and its deadline."""

    __tablename__ = "subject_requests"
    __table_args__ = (sa.Index("ix_subject_requests_site_status_due", "site_id", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(16))  # access | erasure | rectification | objection
    selector: Mapped[str] = mapped_column(sa.String(16))  # visitor_id | email | external_id | person_id
    selector_hash: Mapped[str] = mapped_column(sa.String(64))
    selector_enc: Mapped[str] = mapped_column(sa.Text)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(sa.String(16), default="open")  # open | fulfilled
    fulfilled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
