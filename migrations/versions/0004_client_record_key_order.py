"""consent_records: client_record_id leads its unique key

Revision ID: 0004_client_record_key_order
Revises: 0003_identities_email_webhooks
Create Date: 2026-11-27

The write path looks a repeated client_record_id up with a prepared statement. With the old key
(site_id, client_record_id), PostgreSQL's generic plan could pick the (site_id, visitor_id, id)
index instead and filter every record of the site: 0.7 ms at 2,000 records, growing with the
ledger. With client_record_id first, only the unique index fits the lookup.
"""
from alembic import op

revision = "0004_client_record_key_order"
down_revision = "0003_identities_email_webhooks"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("consent_records") as batch:
        batch.drop_constraint("uq_consent_client_record", type_="unique")
        batch.create_unique_constraint("uq_consent_client_record", ["client_record_id", "site_id"])


def downgrade():
    with op.batch_alter_table("consent_records") as batch:
        batch.drop_constraint("uq_consent_client_record", type_="unique")
        batch.create_unique_constraint("uq_consent_client_record", ["site_id", "client_record_id"])
