"""consent_rollups, consent_purpose_rollups, consent_rollup_marks: decisions counted per day and month

Revision ID: 0014_consent_rollups
Revises: 0013_site_sightings
Create Date: 2026-12-01

Anonymous counts of the ledger's decisions, rolled up by `flask worker` (app/services/stats/):
per site, span (a UTC day or a calendar month), country, region, policy version, regime, method
and GPC signal, and per purpose for the same key; and each site's mark (the last record counted).
Empty fields are stored as "" so that every key column can be in the primary key. The tables
start empty: the first rollup counts the whole ledger.
"""
import sqlalchemy as sa
from alembic import op

revision = "0014_consent_rollups"
down_revision = "0013_site_sightings"
branch_labels = None
depends_on = None

KEY = ("site_id", "span", "day", "country", "region", "policy_version", "regime", "method", "gpc")


def key_columns():
    return [
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("span", sa.String(5), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("region", sa.String(8), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("regime", sa.String(16), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("gpc", sa.Boolean(), nullable=False),
    ]


def upgrade():
    op.create_table(
        "consent_rollups",
        *key_columns(),
        sa.Column("decisions", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY, name="pk_consent_rollups"),
    )
    op.create_table(
        "consent_purpose_rollups",
        *key_columns(),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("decided", sa.BigInteger(), nullable=False),
        sa.Column("granted", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY, "purpose", name="pk_consent_purpose_rollups"),
    )
    op.create_table(
        "consent_rollup_marks",
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id"), primary_key=True),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("covers_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rolled_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("consent_rollup_marks")
    op.drop_table("consent_purpose_rollups")
    op.drop_table("consent_rollups")
