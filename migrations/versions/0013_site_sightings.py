"""site_sightings: when the tag was first seen working on each of a site's origins

Revision ID: 0013_site_sightings
Revises: 0012_site_drafts
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_site_sightings"
down_revision = "0012_site_drafts"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "site_sightings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
        sa.Column("origin", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("site_id", "origin", "kind", name="uq_site_sighting"),
    )


def downgrade():
    op.drop_table("site_sightings")
