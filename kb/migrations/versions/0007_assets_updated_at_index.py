"""index assets.updated_at: search checks the latest change to any asset on every query

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_assets_updated_at"), "assets", ["updated_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_assets_updated_at"), table_name="assets")
