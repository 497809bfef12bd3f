"""Consent statistics: decisions counted as they are rolled up from the ledger (app/services/stats/).

Anonymous counts, no one's record: they describe a decision by its day, place, policy, regime,
method and GPC signal only. Erasure leaves the ledger's decision fields, and a retention purge
deletes records, but neither touches these: the figures count every decision recorded.

Each count is kept twice, per UTC day and per calendar month (`span`), so a period is read from
its whole months' rows and only its leading and trailing days' rows: a year is some 70 rows per
key, not 365. A field a record leaves empty (no country, no region, no policy version) is stored
as "" so that it can be part of the primary key (NULLs never match in a unique key).
"""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime

SPANS = ("day", "month")


class RollupKey:
    """The columns that name a count (KEY_COLUMNS, the order of its primary key: site and period first)."""

    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"))
    span: Mapped[str] = mapped_column(sa.String(5))  # SPANS
    # the UTC day; for span "month", the first day of the month
    day: Mapped[dt.date] = mapped_column(sa.Date)
    country: Mapped[str] = mapped_column(sa.String(2))
    region: Mapped[str] = mapped_column(sa.String(8))
    policy_version: Mapped[str] = mapped_column(sa.String(64))
    regime: Mapped[str] = mapped_column(sa.String(16))
    method: Mapped[str] = mapped_column(sa.String(16))
    gpc: Mapped[bool] = mapped_column()


KEY_COLUMNS = ("site_id", "span", "day", "country", "region", "policy_version", "regime", "method", "gpc")


class ConsentRollup(RollupKey, db.Model):
    """How many decisions a site recorded in a span with these fields."""

    __tablename__ = "consent_rollups"
    __table_args__ = (sa.PrimaryKeyConstraint(*KEY_COLUMNS, name="pk_consent_rollups"),)

    decisions: Mapped[int] = mapped_column(sa.BigInteger)


class ConsentPurposeRollup(RollupKey, db.Model):
    """Of the decisions of a ConsentRollup key, how many decided a purpose (its slug is in the
    record's decision map) and how many granted it."""

    __tablename__ = "consent_purpose_rollups"
    __table_args__ = (sa.PrimaryKeyConstraint(*KEY_COLUMNS, "purpose", name="pk_consent_purpose_rollups"),)

    purpose: Mapped[str] = mapped_column(sa.String(64))
    decided: Mapped[int] = mapped_column(sa.BigInteger)
    granted: Mapped[int] = mapped_column(sa.BigInteger)


class ConsentRollupMark(db.Model):
    """How far a site's ledger is rolled up: every record with a row id up to `last_id` is counted
    (and none after it), and every record created up to `covers_until` is."""

    __tablename__ = "consent_rollup_marks"

    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"), primary_key=True)
    last_id: Mapped[int] = mapped_column(sa.BigInteger)
    covers_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rolled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
