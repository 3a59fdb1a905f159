"""audiences, audience_members, asset_audiences: assets restricted to named groups of people

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audiences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audiences")),
        sa.UniqueConstraint("name", name=op.f("uq_audiences_name")),
    )
    op.create_table(
        "audience_members",
        sa.Column("audience_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("source IN ('local', 'directory')", name=op.f("ck_audience_members_source")),
        sa.ForeignKeyConstraint(
            ["audience_id"],
            ["audiences.id"],
            name=op.f("fk_audience_members_audience_id_audiences"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_audience_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("audience_id", "user_id", "source", name=op.f("pk_audience_members")),
    )
    op.create_index(op.f("ix_audience_members_user_id"), "audience_members", ["user_id"])
    op.create_table(
        "asset_audiences",
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("audience_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_asset_audiences_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["audience_id"], ["audiences.id"], name=op.f("fk_asset_audiences_audience_id_audiences"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("asset_id", "audience_id", name=op.f("pk_asset_audiences")),
    )
    op.create_index(op.f("ix_asset_audiences_audience_id"), "asset_audiences", ["audience_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_asset_audiences_audience_id"), table_name="asset_audiences")
    op.drop_table("asset_audiences")
    op.drop_index(op.f("ix_audience_members_user_id"), table_name="audience_members")
    op.drop_table("audience_members")
    op.drop_table("audiences")
