"""users.auth_source, directory_dn, department, directory_disabled_at: accounts that sign in with the company directory

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs, also on SQLite: a batch copy of ``users`` would have to drop the table others point at.
    op.add_column("users", sa.Column("auth_source", sa.String(length=16), nullable=False, server_default="local"))
    op.add_column("users", sa.Column("directory_dn", sa.String(length=1024), nullable=True))
    op.add_column("users", sa.Column("department", sa.String(length=200), nullable=True))
    op.add_column("users", sa.Column("directory_disabled_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("directory_disabled_at")
        batch.drop_column("department")
        batch.drop_column("directory_dn")
        batch.drop_column("auth_source")
