"""audit_entries: who did what to which thing, written with each change

Revision ID: 0008_audit_entries
Revises: 0007_ledger_integrity
Create Date: 2026-12-02

One row per audited action (app/services/audit.py). No personal data: people only as keyed
hashes, the client address truncated.
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_audit_entries"
down_revision = "0007_ledger_integrity"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_kind", sa.String(32), nullable=False),
        sa.Column("target_id", sa.String(200), nullable=True),
        sa.Column("client_ip", sa.String(45), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_entries") as batch:
        batch.create_index("ix_audit_entries_site_id_id", ["site_id", "id"], unique=False)
        batch.create_index("ix_audit_entries_created_at", ["created_at"], unique=False)


def downgrade():
    op.drop_table("audit_entries")
