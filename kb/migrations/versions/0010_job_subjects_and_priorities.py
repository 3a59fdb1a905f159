"""jobs.subject and jobs.priority: one pending index job per asset, and extraction before re-indexing

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="5"))
    op.create_index("ix_jobs_kind_subject_status", "jobs", ["kind", "subject", "status"])
    op.create_index("ix_jobs_status_priority", "jobs", ["status", "priority", "id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_status_priority", table_name="jobs")
    op.drop_index("ix_jobs_kind_subject_status", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("priority")
        batch.drop_column("subject")
