"""vocabularies and vocabulary_terms: the product and region lists admins keep; existing values moved in

Every distinct product and region the assets carry becomes a term. Spellings that differ only in case, runs
of spaces or ё against е are one term, spelt as most assets spell it (on a tie, the alphabetically first);
the assets spelt otherwise are rewritten to it and queued for re-indexing, so search facets merge too.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import kb.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

VOCABULARIES = ("product", "region")
INDEX_JOB = "index_asset"


def _key(value: str) -> str:
    """kb.vocabularies.term_key as it was when this revision was written (a migration must not change later)."""
    folded = unicodedata.normalize("NFC", value).casefold().replace("ё", "е")
    return " ".join(folded.split())[:120]


def _spelling(value: str) -> str:
    return " ".join(value.replace("\x00", "").split())


def upgrade() -> None:
    op.create_table(
        "vocabularies",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("closed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_vocabularies")),
    )
    op.create_table(
        "vocabulary_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vocabulary", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=120), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("created_at", kb.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vocabulary"],
            ["vocabularies.name"],
            name=op.f("fk_vocabulary_terms_vocabulary_vocabularies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vocabulary_terms")),
        sa.UniqueConstraint("vocabulary", "key", name="uq_vocabulary_terms_vocabulary_key"),
    )
    _move_values_in()


def _move_values_in() -> None:
    connection = op.get_bind()
    now = datetime.now(UTC)
    vocabularies = sa.table("vocabularies", sa.column("name", sa.String), sa.column("closed", sa.Boolean))
    terms = sa.table(
        "vocabulary_terms",
        sa.column("vocabulary", sa.String),
        sa.column("value", sa.String),
        sa.column("key", sa.String),
        sa.column("created_at", kb.models.UTCDateTime()),
    )
    assets = sa.table(
        "assets",
        sa.column("id", sa.Integer),
        sa.column("product", sa.String),
        sa.column("region", sa.String),
        sa.column("updated_at", kb.models.UTCDateTime()),
    )
    jobs = sa.table(
        "jobs",
        sa.column("kind", sa.String),
        sa.column("payload", sa.JSON),
        sa.column("status", sa.String),
        sa.column("attempts", sa.Integer),
        sa.column("max_attempts", sa.Integer),
        sa.column("run_after", kb.models.UTCDateTime()),
        sa.column("created_at", kb.models.UTCDateTime()),
    )
    rewritten: set[int] = set()
    for name in VOCABULARIES:
        connection.execute(sa.insert(vocabularies).values(name=name, closed=False))
        column = assets.c[name]
        used = connection.execute(sa.select(column, sa.func.count()).where(column != "").group_by(column)).all()
        groups: dict[str, Counter[str]] = {}
        for value, count in used:
            spelling = _spelling(value)
            if spelling:
                groups.setdefault(_key(spelling), Counter())[spelling] += count
        # The most used spelling of each key; on a tie, the alphabetically first.
        chosen = {key: min(spellings, key=lambda s: (-spellings[s], s)) for key, spellings in groups.items()}
        for key, term in sorted(chosen.items()):
            connection.execute(sa.insert(terms).values(vocabulary=name, value=term, key=key, created_at=now))
        for value, _count in used:
            spelling = _spelling(value)
            term = chosen[_key(spelling)] if spelling else ""
            if value == term:
                continue
            ids = connection.scalars(sa.select(assets.c.id).where(column == value)).all()
            connection.execute(sa.update(assets).where(column == value).values({name: term, "updated_at": now}))
            rewritten.update(ids)
    for asset_id in sorted(rewritten):
        connection.execute(
            sa.insert(jobs).values(
                kind=INDEX_JOB,
                payload={"asset_id": asset_id},
                status="queued",
                attempts=0,
                max_attempts=5,
                run_after=now,
                created_at=now,
            )
        )


def downgrade() -> None:
    # The assets keep the spellings they were given; only the lists go.
    op.drop_table("vocabulary_terms")
    op.drop_table("vocabularies")
