"""proof_packs, proof_files, proof_requests: what each published policy version showed, sealed

Revision ID: 0015_proof_packs
Revises: 0014_consent_rollups
Create Date: 2026-12-01

A pack (app/services/proof/) is written once and sealed in the site's `proof` chain; its files
(PNG screenshots, resolved configurations, the site document) are stored as bytes beside it. A
publish records a request that `flask worker` or `flask proof build` turns into a pack. Versions
published before this revision have no pack until `flask proof build` makes one.
"""
import sqlalchemy as sa
from alembic import op

revision = "0015_proof_packs"
down_revision = "0014_consent_rollups"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "proof_packs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("policy_version_id", sa.Integer(), sa.ForeignKey("policy_versions.id"), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("screenshots", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_proof_packs_site_id_id", "proof_packs", ["site_id", "id"])
    op.create_table(
        "proof_files",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pack_id", sa.Integer(), sa.ForeignKey("proof_packs.id"), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint("pack_id", "name", name="uq_proof_file"),
    )
    op.create_table(
        "proof_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
        sa.Column("policy_version_id", sa.Integer(), sa.ForeignKey("policy_versions.id", ondelete="CASCADE"),
                  nullable=False, unique=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(300), nullable=True),
    )


def downgrade():
    op.drop_table("proof_requests")
    op.drop_table("proof_files")
    op.drop_index("ix_proof_packs_site_id_id", table_name="proof_packs")
    op.drop_table("proof_packs")
