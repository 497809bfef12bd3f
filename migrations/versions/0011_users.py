"""users, user_sites, installation_settings: the dashboard's accounts, their sites, installation settings

Revision ID: 0011_users
Revises: 0010_side_chains
Create Date: 2026-12-03

A user is an operator who signs in to /admin (app/models/users.py): email in clear (never logged),
an argon2id hash, a role, `all_sites` for an installation owner, else the sites in user_sites; a
TOTP secret sealed under the master key; a session version that ends older sessions when raised.
installation_settings holds installation-wide settings by name (whether a second factor is required).
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_users"
down_revision = "0010_side_chains"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("all_sites", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("totp_secret", sa.Text(), nullable=True),
        sa.Column("totp_pending", sa.Text(), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("session_version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "user_sites",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_user_sites_site_id", "user_sites", ["site_id"])
    op.create_table(
        "installation_settings",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("installation_settings")
    op.drop_index("ix_user_sites_site_id", table_name="user_sites")
    op.drop_table("user_sites")
    op.drop_table("users")
