"""search analytics

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kb.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", kb.models.UTCDateTime(), nullable=False),
        sa.CheckConstraint("status IN ('planned', 'covered')", name=op.f("ck_search_gaps_status")),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_search_gaps_asset_id_assets"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_search_gaps_updated_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_gaps")),
        sa.UniqueConstraint("query", name=op.f("uq_search_gaps_query")),
    )
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_usage_events_search_id"), ["search_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_usage_events_search_id_usage_events"),
            "usage_events",
            ["search_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_usage_events_search_id_usage_events"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_usage_events_search_id"))
        batch_op.drop_column("search_id")

    op.drop_table("search_gaps")
