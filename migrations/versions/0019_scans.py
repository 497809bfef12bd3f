"""scans: compliance scans queued by the API and the dashboard, run by the worker's `scan` duty

Revision ID: 0019_scans
Revises: 0018_widget_builds
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0019_scans"
down_revision = "0018_widget_builds"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "scans",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scan_id", sa.String(40), nullable=False, unique=True),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim", sa.String(32), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("findings", sa.Integer(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(300), nullable=True),
    )
    op.create_index("ix_scans_site_id_id", "scans", ["site_id", "id"])
    op.create_index("ix_scans_status_id", "scans", ["status", "id"])


def downgrade():
    op.drop_index("ix_scans_status_id", table_name="scans")
    op.drop_index("ix_scans_site_id_id", table_name="scans")
    op.drop_table("scans")
