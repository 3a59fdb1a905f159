"""asset_versions.preview_status, preview_error, preview_pages; extracted_pages.ocr: page images and text from scans

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("asset_versions", sa.Column("preview_status", sa.String(length=16), nullable=True))
    op.add_column("asset_versions", sa.Column("preview_error", sa.Text(), nullable=True))
    op.add_column("asset_versions", sa.Column("preview_pages", sa.Integer(), nullable=True))
    op.add_column("extracted_pages", sa.Column("ocr", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("extracted_pages") as batch:
        batch.drop_column("ocr")
    with op.batch_alter_table("asset_versions") as batch:
        batch.drop_column("preview_pages")
        batch.drop_column("preview_error")
        batch.drop_column("preview_status")
