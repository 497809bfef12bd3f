"""sites.controller, and subject_requests: who the controller is, and the register of data-subject requests

Revision ID: 0009_controller_subject_requests
Revises: 0008_audit_entries
Create Date: 2026-12-01

sites.controller is a JSON mapping (app/services/subjects/controller.py), null until the site
document gives one. subject_requests holds each request with its due date; its selector only
encrypted and as a keyed hash (app/models/subjects.py).
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_controller_subject_requests"
down_revision = "0008_audit_entries"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("controller", sa.JSON(), nullable=True))
    op.create_table(
        "subject_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.String(36), nullable=False, unique=True),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("selector", sa.String(16), nullable=False),
        sa.Column("selector_hash", sa.String(64), nullable=False),
        sa.Column("selector_enc", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("fulfilled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_subject_requests_site_status_due", "subject_requests", ["site_id", "status", "due_at"])


def downgrade():
    op.drop_index("ix_subject_requests_site_status_due", table_name="subject_requests")
    op.drop_table("subject_requests")
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("controller")
