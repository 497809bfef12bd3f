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
        # row ids are never reused on SQLite either (a seal lists them): migration 0010
        {"sqlite_autoincrement": True},
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
    # SHA-256 of the widget (static/widget.js) that collected the decision: one the server served
    # (WidgetBuild); NULL for decisions sent by other clients, and on records written before builds were named
    widget_build: Mapped[str | None] = mapped_column(sa.String(64))
    # rules.personal_digest: the hash commits to the personal fields through it, so erasure can drop them
    # (the salt goes with them, leaving the digest unlinkable). NULL on records of the older forms.
    personal_salt: Mapped[str | None] = mapped_column(sa.String(32))
    personal_digest: Mapped[str | None] = mapped_column(sa.String(64))
    record_hash: Mapped[str] = mapped_column(sa.String(64))
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # set by app/ledger/erasure.py


class WidgetBuild(db.Model):
    """A build of the widget this installation has served (app/services/widget_builds.py): the
    builds a consent record may name."""

    __tablename__ = "widget_builds"

    sha256: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    first_served_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


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
    # HMAC of the seal hash under a key derived from OPSIQ_MASTER_KEY (app/ledger/macs.py); NULL on
    # seals made before keyed seals, until `flask ledger rekey` keys them
    mac: Mapped[str | None] = mapped_column(sa.String(64))


class LedgerErasure(db.Model):
    """A lawful erasure of records' personal fields: which rows, when, why. Names no one; MAC'd,
    so that verify accepts a record as erased only when the ledger's key vouches for it."""

    __tablename__ = "ledger_erasures"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"), index=True)
    erased_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(sa.String(200))  # e.g. the subject request's id; never personal data
    record_count: Mapped[int] = mapped_column()
    # [[row id, record id, residual hash or null], ...]: the residual stands in for the personal
    # fields of records hashed in the older forms (app/ledger/erasure.py)
    entries: Mapped[list] = mapped_column(sa.JSON)
    mac: Mapped[str] = mapped_column(sa.String(64))


class LedgerCheckpoint(db.Model):
    """A purge of a sealed row-id range: verify accepts sealed records missing from the range, up
    to `record_count` of them. MAC'd like the seals."""

    __tablename__ = "ledger_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"), index=True)
    first_id: Mapped[int] = mapped_column(sa.BigInteger)
    last_id: Mapped[int] = mapped_column(sa.BigInteger)
    record_count: Mapped[int] = mapped_column()  # records the purge deletes from the range
    setting: Mapped[str] = mapped_column(sa.String(200))  # what caused it, e.g. "retention_days=395"
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    mac: Mapped[str] = mapped_column(sa.String(64))


class ChainSeal(db.Model):
    """A sealed batch of one side chain (app/ledger/chains.py): a site's email consent records, or
    the audit entries of a site or of the installation (scope 0). Chained and MAC'd like LedgerSeal,
    but the row hashes it lists are computed at sealing from the rows' content."""

    __tablename__ = "chain_seals"
    __table_args__ = (sa.UniqueConstraint("chain", "scope", "seq", name="uq_chain_seal"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[str] = mapped_column(sa.String(16))  # email | audit
    scope: Mapped[int] = mapped_column()  # the site's id; 0: the installation's own audit entries
    seq: Mapped[int] = mapped_column()
    first_id: Mapped[int] = mapped_column(sa.BigInteger)
    last_id: Mapped[int] = mapped_column(sa.BigInteger)
    record_count: Mapped[int] = mapped_column()
    entries: Mapped[list] = mapped_column(sa.JSON)  # [[row id, row hash], ...] in id order
    covers_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    seal_hash: Mapped[str] = mapped_column(sa.String(64))
    mac: Mapped[str] = mapped_column(sa.String(64))
    sealed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChainDeletion(db.Model):
    """A lawful deletion of sealed rows of a side chain (an erasure of a person's email records, an
    audit retention purge): verify accepts up to `record_count` sealed rows missing from `ranges`.
    Names no one; MAC'd, written before the rows go."""

    __tablename__ = "chain_deletions"
    __table_args__ = (sa.Index("ix_chain_deletions_chain_scope", "chain", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[str] = mapped_column(sa.String(16))
    scope: Mapped[int] = mapped_column()
    deleted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(sa.String(200))  # a request id or a setting; never personal data
    ranges: Mapped[list] = mapped_column(sa.JSON)  # [[first row id, last row id], ...]
    record_count: Mapped[int] = mapped_column()
    mac: Mapped[str] = mapped_column(sa.String(64))
