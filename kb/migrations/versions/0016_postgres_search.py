"""kb_search schema: the PostgreSQL search backend's pages, postings, spelling words and change log (PostgreSQL only)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-10

These tables are the search index of ``KB_SEARCH_BACKEND=postgres`` (``kb.search.postgres_store`` says what each
holds). They live in a schema of their own, ``kb_search``, outside kb's models: the index is rebuilt from the
database (``kb index rebuild``), never copied or compared with it. On SQLite this revision creates nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_TABLES = """
CREATE SCHEMA IF NOT EXISTS kb_search;
CREATE TABLE kb_search.state (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    generation bigint NOT NULL DEFAULT 0,
    rebuilt bigint NOT NULL DEFAULT 0,
    format integer NOT NULL DEFAULT 1
);
INSERT INTO kb_search.state DEFAULT VALUES;
CREATE TABLE kb_search.pages (
    id bigint PRIMARY KEY,
    doc_id text NOT NULL UNIQUE,
    asset_id integer NOT NULL,
    version_id integer NOT NULL,
    version integer NOT NULL,
    current boolean NOT NULL,
    status text NOT NULL,
    page integer NOT NULL,
    page_title text NOT NULL,
    title text NOT NULL,
    description text NOT NULL,
    body text NOT NULL,
    tags text[] NOT NULL,
    kind text NOT NULL,
    product text NOT NULL,
    region text NOT NULL,
    language text NOT NULL,
    segments text[] NOT NULL,
    owner_id integer NOT NULL,
    owner_name text NOT NULL,
    audiences text[] NOT NULL,
    updated timestamptz NOT NULL,
    stamp text NOT NULL,
    lengths integer[] NOT NULL,
    words text[]
);
CREATE SEQUENCE kb_search.page_ids OWNED BY kb_search.pages.id;
CREATE INDEX pages_asset ON kb_search.pages (asset_id);
CREATE TABLE kb_search.postings (
    term text COLLATE "C" NOT NULL,
    page_id bigint NOT NULL,
    asset_id integer NOT NULL,
    counts bytea NOT NULL,
    positions bytea NOT NULL,
    PRIMARY KEY (term, page_id) INCLUDE (counts)
);
CREATE INDEX postings_asset ON kb_search.postings (asset_id);
CREATE TABLE kb_search.words (
    word text COLLATE "C" PRIMARY KEY,
    assets integer NOT NULL
);
CREATE TABLE kb_search.changes (
    generation bigint NOT NULL,
    asset_id integer NOT NULL
);
CREATE INDEX changes_generation ON kb_search.changes (generation);
"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for statement in _TABLES.split(";"):
        if statement.strip():
            op.execute(statement)
    # Edit distances for "did you mean" are computed in the database when fuzzystrmatch (PostgreSQL's contrib) may
    # be installed here; without it, kb computes them itself, more slowly.
    available = bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'fuzzystrmatch'")).first()
    if available is not None:
        savepoint = bind.begin_nested()
        try:
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS fuzzystrmatch SCHEMA kb_search")
            savepoint.commit()
        except sa.exc.DBAPIError:
            savepoint.rollback()


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP SCHEMA IF EXISTS kb_search CASCADE")
