"""assets.archived_at and assets.replaced_by_id: when an asset was archived and what replaced it

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kb.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("archived_at", kb.models.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("replaced_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_assets_replaced_by_id_assets"), "assets", ["replaced_by_id"], ["id"], ondelete="SET NULL"
        )
    # Assets archived before this revision: their last change is the best date there is.
    op.execute("UPDATE assets SET archived_at = updated_at WHERE status = 'archived'")


def downgrade() -> None:
    with op.batch_alter_table("assets") as batch:
        batch.drop_constraint(op.f("fk_assets_replaced_by_id_assets"), type_="foreignkey")
        batch.drop_column("replaced_by_id")
        batch.drop_column("archived_at")
