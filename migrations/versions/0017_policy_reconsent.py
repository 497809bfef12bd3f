"""policy_versions.reconsent: whether a version asks every visitor again (every version before it did)

Revision ID: 0017_policy_reconsent
Revises: 0016_site_theme
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_policy_reconsent"
down_revision = "0016_site_theme"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("policy_versions") as batch:
        batch.add_column(sa.Column("reconsent", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade():
    with op.batch_alter_table("policy_versions") as batch:
        batch.drop_column("reconsent")
