"""chain_seals and chain_deletions: email consent records and audit entries sealed like consent records

Revision ID: 0010_side_chains
Revises: 0009_controller_subject_requests
Create Date: 2026-12-01

Rows written before this revision are sealed by the first `flask ledger seal` (or worker pass)
after it; from then on a change to them is caught like a change to a consent record.

On SQLite the three sealed tables are rebuilt with AUTOINCREMENT: without it SQLite hands the id
of a deleted newest row (a purge, an erasure) to the next row, which a seal already lists.
PostgreSQL's identities never reuse an id.
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_side_chains"
down_revision = "0009_controller_subject_requests"
branch_labels = None
depends_on = None


SEALED_TABLES = ("consent_records", "email_consent_records", "audit_entries")


def upgrade():
    op.create_table(
        "chain_seals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chain", sa.String(16), nullable=False),
        sa.Column("scope", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.BigInteger(), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("covers_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("seal_hash", sa.String(64), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("chain", "scope", "seq", name="uq_chain_seal"),
    )
    op.create_table(
        "chain_deletions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chain", sa.String(16), nullable=False),
        sa.Column("scope", sa.Integer(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("ranges", sa.JSON(), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
    )
    op.create_index("ix_chain_deletions_chain_scope", "chain_deletions", ["chain", "scope"])
    # the sealer reads a site's email records in id order
    op.create_index("ix_email_records_site_id_id", "email_consent_records", ["site_id", "id"])
    if op.get_bind().dialect.name == "sqlite":
        for table in SEALED_TABLES:
            with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
                pass


def downgrade():
    op.drop_index("ix_email_records_site_id_id", table_name="email_consent_records")
    op.drop_index("ix_chain_deletions_chain_scope", table_name="chain_deletions")
    op.drop_table("chain_deletions")
    op.drop_table("chain_seals")
