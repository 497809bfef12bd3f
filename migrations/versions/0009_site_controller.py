"""sites.controller: who the controller is, and how to reach it and its data-protection officer

Revision ID: 0009_site_controller
Revises: 0006_consent_visitor_secret
Create Date: 2026-12-01

A JSON mapping (app/services/subjects/controller.py), null until the site document gives one:
subject exports and Kantara receipts name it, and say what is missing where it is not given.
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_site_controller"
down_revision = "0006_consent_visitor_secret"  # 0007 and 0008 are being written beside this one
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("controller", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("controller")
