"""sites.email_double_opt_in: the email double-opt-in default belongs to the site

Revision ID: 0005_site_email_double_opt_in
Revises: 0004_client_record_key_order
Create Date: 2026-12-01

It was a column of site_keyrings, the table of wrapped key material. Each site's current setting
is copied over (on where a site has no keyring yet, as before), then the old column is dropped.
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_site_email_double_opt_in"
down_revision = "0004_client_record_key_order"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("email_double_opt_in", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.execute("UPDATE sites SET email_double_opt_in = (SELECT k.double_opt_in FROM site_keyrings k"
               " WHERE k.site_id = sites.id) WHERE id IN (SELECT site_id FROM site_keyrings)")
    with op.batch_alter_table("site_keyrings") as batch:
        batch.drop_column("double_opt_in")


def downgrade():
    with op.batch_alter_table("site_keyrings") as batch:
        batch.add_column(sa.Column("double_opt_in", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.execute("UPDATE site_keyrings SET double_opt_in = (SELECT s.email_double_opt_in FROM sites s"
               " WHERE s.id = site_keyrings.site_id)")
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("email_double_opt_in")
