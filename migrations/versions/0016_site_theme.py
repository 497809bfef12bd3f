"""sites.theme: the widget's colours, checked for contrast (app/services/theme.py); null keeps its defaults

Revision ID: 0016_site_theme
Revises: 0015_proof_packs
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_site_theme"
down_revision = "0015_proof_packs"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("theme", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("theme")
