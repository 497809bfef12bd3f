"""consent_records.widget_build: the SHA-256 of the widget the decision was collected with; widget_builds: every build served

Revision ID: 0018_widget_builds
Revises: 0017_policy_reconsent
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0018_widget_builds"
down_revision = "0017_policy_reconsent"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("consent_records") as batch:
        batch.add_column(sa.Column("widget_build", sa.String(64), nullable=True))
    op.create_table(
        "widget_builds",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("first_served_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("widget_builds")
    with op.batch_alter_table("consent_records") as batch:
        batch.drop_column("widget_build")
