"""consent_records.secret_hash: a write must prove it comes from the visitor's own browser

Revision ID: 0006_consent_visitor_secret
Revises: 0005_site_email_double_opt_in
Create Date: 2026-12-01

The hash of the secret the widget keeps beside its visitor id (app/ledger/rules.py
check_visitor_secret). Records written before have none: their visitor's next write binds one.
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_consent_visitor_secret"
down_revision = "0005_site_email_double_opt_in"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("consent_records") as batch:
        batch.add_column(sa.Column("secret_hash", sa.String(64), nullable=True))


def downgrade():
    with op.batch_alter_table("consent_records") as batch:
        batch.drop_column("secret_hash")
