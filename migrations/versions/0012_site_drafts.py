"""site_drafts: a site's unpublished edits (the dashboard's banner editor), one per site

Revision ID: 0012_site_drafts
Revises: 0011_users
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_site_drafts"
down_revision = "0011_users"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "site_drafts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("base_hash", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )


def downgrade():
    op.drop_table("site_drafts")
