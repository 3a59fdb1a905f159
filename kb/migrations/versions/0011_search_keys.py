"""usage_events.search_key instead of search_id: search events are written in batches, after their links

A search's event is written a few seconds after its results page went out (``kb.search_log``), so its
database id is not known when its result links are made. A random key is: a search event carries its own,
and a view or download opened from its results carries the same key. Existing rows keep their links (the
key of an old search is its id as text).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_events") as batch:
        batch.add_column(sa.Column("search_key", sa.String(length=32), nullable=True))
    op.execute("UPDATE usage_events SET search_key = CAST(id AS VARCHAR(32)) WHERE kind = 'search'")
    op.execute(
        "UPDATE usage_events SET search_key = CAST(search_id AS VARCHAR(32))"
        " WHERE search_id IS NOT NULL AND kind <> 'search'"
    )
    with op.batch_alter_table("usage_events") as batch:
        batch.drop_constraint("fk_usage_events_search_id_usage_events", type_="foreignkey")
        batch.drop_index("ix_usage_events_search_id")
        batch.drop_column("search_id")
        batch.create_index("ix_usage_events_search_key", ["search_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("usage_events") as batch:
        batch.add_column(sa.Column("search_id", sa.Integer(), nullable=True))
    # A view links to the search of the same person with its key; keys of new searches were never ids.
    op.execute(
        "UPDATE usage_events SET search_id = (SELECT s.id FROM usage_events s WHERE s.kind = 'search'"
        " AND s.search_key = usage_events.search_key AND s.user_id = usage_events.user_id)"
        " WHERE kind <> 'search' AND search_key IS NOT NULL"
    )
    with op.batch_alter_table("usage_events") as batch:
        batch.drop_index("ix_usage_events_search_key")
        batch.drop_column("search_key")
        batch.create_index("ix_usage_events_search_id", ["search_id"], unique=False)
        batch.create_foreign_key(
            "fk_usage_events_search_id_usage_events", "usage_events", ["search_id"], ["id"], ondelete="SET NULL"
        )
