"""Proof packs (app/services/proof/): what each published policy version showed, rendered by the
real widget in headless Chromium, with the hashes that tie it to the widget build and the texts.

A pack is written once and never changed: it is sealed in the site's `proof` chain
(app/ledger/chains.py), over its columns and the SHA-256 of each of its files, so editing a file,
the manifest or the digest afterwards is caught by `flask ledger verify`. Completing a pack built
without screenshots writes a new pack for the same version (the newest is the version's pack).
A publish only records a pending request; `flask worker` (the `proof` duty) or `flask proof build`
builds it.
"""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


class ProofPack(db.Model):
    __tablename__ = "proof_packs"
    __table_args__ = (sa.Index("ix_proof_packs_site_id_id", "site_id", "id"),
                      {"sqlite_autoincrement": True})  # ids never reused: seals list them

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"))
    policy_version_id: Mapped[int] = mapped_column(sa.ForeignKey("policy_versions.id"))
    version: Mapped[str] = mapped_column(sa.String(64))
    manifest: Mapped[dict] = mapped_column(sa.JSON)
    digest: Mapped[str] = mapped_column(sa.String(64))  # SHA-256 of the manifest's canonical JSON
    screenshots: Mapped[bool] = mapped_column(sa.Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProofFile(db.Model):
    """One file of a pack (a screenshot, a configuration, the site document), stored as bytes."""

    __tablename__ = "proof_files"
    __table_args__ = (sa.UniqueConstraint("pack_id", "name", name="uq_proof_file"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pack_id: Mapped[int] = mapped_column(sa.ForeignKey("proof_packs.id"))
    name: Mapped[str] = mapped_column(sa.String(128))
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)


class ProofRequest(db.Model):
    """A pack to build: written by a publish (with the site document as published), taken by the
    `proof` duty or `flask proof build`."""

    __tablename__ = "proof_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    policy_version_id: Mapped[int] = mapped_column(sa.ForeignKey("policy_versions.id", ondelete="CASCADE"),
                                                   unique=True)
    document: Mapped[dict] = mapped_column(sa.JSON)
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)  # builds that failed (app/services/proof/packs.py)
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
