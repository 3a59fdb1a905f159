"""password_reset_requests: "forgot password" requests, throttled per e-mail and address, and their links

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kb.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "password_reset_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("requested_at", kb.models.UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("password_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("expires_at", kb.models.UTCDateTime(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("emailed_at", kb.models.UTCDateTime(), nullable=True),
        sa.Column("used_at", kb.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_password_reset_requests_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_requests")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_reset_requests_token_hash")),
    )
    with op.batch_alter_table("password_reset_requests", schema=None) as batch_op:
        batch_op.create_index("ix_password_reset_requests_email_at", ["email", "requested_at"], unique=False)
        batch_op.create_index("ix_password_reset_requests_ip_at", ["ip_address", "requested_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_password_reset_requests_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("password_reset_requests")
