"""The ledger survives lawful deletion and resists database-only tampering

Revision ID: 0007_ledger_integrity
Revises: 0006_consent_visitor_secret
Create Date: 2026-12-08

consent_records gains the personal salt and digest (new records' hashes commit to their personal
fields through the digest, so erasure can drop them) and erased_at; seals gain a MAC under a key
derived from OPSIQ_MASTER_KEY (NULL on older seals until `flask ledger rekey`); erasures and
purge checkpoints get tables of their own (app/ledger/). Records and seals already stored keep
their form and still verify.
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_ledger_integrity"
down_revision = "0006_consent_visitor_secret"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("consent_records") as batch:
        batch.add_column(sa.Column("personal_salt", sa.String(32), nullable=True))
        batch.add_column(sa.Column("personal_digest", sa.String(64), nullable=True))
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("ledger_seals") as batch:
        batch.add_column(sa.Column("mac", sa.String(64), nullable=True))
    op.create_table(
        "ledger_erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ledger_erasures_site_id", "ledger_erasures", ["site_id"])
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.BigInteger(), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("setting", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ledger_checkpoints_site_id", "ledger_checkpoints", ["site_id"])


def downgrade():
    op.drop_index("ix_ledger_checkpoints_site_id", table_name="ledger_checkpoints")
    op.drop_table("ledger_checkpoints")
    op.drop_index("ix_ledger_erasures_site_id", table_name="ledger_erasures")
    op.drop_table("ledger_erasures")
    with op.batch_alter_table("ledger_seals") as batch:
        batch.drop_column("mac")
    with op.batch_alter_table("consent_records") as batch:
        batch.drop_column("erased_at")
        batch.drop_column("personal_digest")
        batch.drop_column("personal_salt")
