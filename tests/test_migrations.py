"""Migrations: they build exactly the models' schema, on SQLite and (when available) PostgreSQL, both ways."""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from kb import migrate
from kb.db import Database
from kb.models import Base

POSTGRES_URL = os.environ.get("KB_TEST_POSTGRES_URL")


def _schema_diff(db: Database) -> list[object]:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_migrations_apply_to_an_empty_sqlite_database_and_match_the_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    assert migrate.current_revision(db) is None
    migrate.upgrade(db)
    assert migrate.is_up_to_date(db)
    assert _schema_diff(db) == []
    tables = set(inspect(db.engine).get_table_names())
    for expected in ("users", "assets", "asset_versions", "ratings", "stale_flags", "usage_events", "jobs"):
        assert expected in tables
    db.dispose()


def test_migrations_downgrade_to_empty_and_upgrade_again(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'roundtrip.sqlite3'}")
    migrate.upgrade(db)
    from alembic import command

    command.downgrade(migrate.alembic_config(db), "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(db)
    assert _schema_diff(db) == []
    db.dispose()


def test_sqlite_runs_with_foreign_keys_wal_and_busy_timeout(db: Database) -> None:
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_foreign_keys_are_enforced(db: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        with db.transaction() as session:
            session.execute(
                text(
                    "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at) "
                    "VALUES (999, 'x', 'h', 'p', '2026-01-01 00:00:00')"
                )
            )


def test_concurrent_write_transactions_wait_instead_of_failing(db: Database, make_user) -> None:
    """BEGIN IMMEDIATE: writers that read first and then write queue up instead of failing with 'locked'."""
    user = make_user("sales")
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(10):
                with db.transaction() as session:
                    name = session.execute(text("SELECT display_name FROM users WHERE id = :id"), {"id": user.id})
                    current = name.scalar_one()
                    session.execute(
                        text("UPDATE users SET display_name = :n WHERE id = :id"), {"n": current + "!", "id": user.id}
                    )
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.session() as session:
        final = session.execute(text("SELECT display_name FROM users WHERE id = :id"), {"id": user.id}).scalar_one()
    assert final.count("!") == 40  # no lost updates


#: Products and regions of assets before revision 0009, and what each becomes: the most used spelling of a
#: value (case, runs of spaces and ё aside), the alphabetically first on a tie.
_FREE_TEXT = [
    ("Насосы НВ", "Урал", "Насосы НВ", "Урал"),
    ("Насосы НВ", "урал", "Насосы НВ", "Урал"),
    ("насосы  НВ", "Россия", "Насосы НВ", "Россия"),
    ("Компрессоры KX", "Россия", "Компрессоры KX", "Россия"),
    ("Ёмкости", "", "Ёмкости", ""),
    ("емкости", "", "Ёмкости", ""),
    ("ёмкости", "", "Ёмкости", ""),
]


def _free_text_values_move_into_vocabularies(db: Database) -> None:
    """Revision 0009 on a database with assets: one term per value, the assets respelt and queued for indexing."""
    from alembic import command

    migrate.upgrade(db, "0008")
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, email, display_name, role, password_hash, active, must_change_password, "
                "created_at) VALUES (1, 'm@example.com', 'M', 'marketing', 'x', true, false, '2026-01-01 00:00:00')"
            )
        )
        for number, (product, region, _p, _r) in enumerate(_FREE_TEXT, start=1):
            connection.execute(
                text(
                    "INSERT INTO assets (id, title, description, kind, product, region, language, owner_id, "
                    "review_interval_days, next_review_on, status, created_by_id, created_at, updated_at) VALUES "
                    "(:id, :title, '', 'catalog', :product, :region, 'ru', 1, 90, '2026-04-01', 'published', 1, "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                ),
                {"id": number, "title": f"Asset {number}", "product": product, "region": region},
            )
    migrate.upgrade(db)
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, product, region, updated_at FROM assets ORDER BY id")).all()
        terms = connection.execute(
            text("SELECT vocabulary, value, key FROM vocabulary_terms ORDER BY vocabulary, key")
        ).all()
        closed = connection.execute(text("SELECT name, closed FROM vocabularies ORDER BY name")).all()
        jobs = connection.execute(text("SELECT kind, payload, status FROM jobs")).all()
    assert [(product, region) for _id, product, region, _at in rows] == [(p, r) for *_old, p, r in _FREE_TEXT]
    assert [tuple(term) for term in terms] == [
        ("product", "Ёмкости", "емкости"),
        ("product", "Компрессоры KX", "компрессоры kx"),
        ("product", "Насосы НВ", "насосы нв"),
        ("region", "Россия", "россия"),
        ("region", "Урал", "урал"),
    ]
    assert [(name, bool(is_closed)) for name, is_closed in closed] == [("product", False), ("region", False)]
    rewritten = {2, 3, 6, 7}  # every asset whose product or region changed, and only those
    assert {_id for _id, *_rest, at in rows if str(at) != "2026-01-01 00:00:00"} == rewritten
    payloads = [json.loads(p) if isinstance(p, str) else p for _kind, p, _status in jobs]
    assert sorted(p["asset_id"] for p in payloads) == sorted(rewritten)
    assert {(kind, status) for kind, _p, status in jobs} == {("index_asset", "queued")}
    command.downgrade(migrate.alembic_config(db), "0008")
    assert "vocabulary_terms" not in inspect(db.engine).get_table_names()
    migrate.upgrade(db)
    assert _schema_diff(db) == []


def _search_links_keep_their_searches(db: Database) -> None:
    """Revision 0011 on a database with searches and clicks: each click still leads to its search, both ways."""
    from alembic import command

    migrate.upgrade(db, "0010")
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, email, display_name, role, password_hash, active, must_change_password, "
                "created_at) VALUES (1, 's@example.com', 'S', 'sales', 'x', true, false, '2026-01-01 00:00:00')"
            )
        )
        for row in (
            "(1, 'search', 1, 'насосы', NULL, '2026-01-01 10:00:00')",
            "(2, 'view', 1, NULL, 1, '2026-01-01 10:01:00')",
            "(3, 'search', 1, 'турбины', NULL, '2026-01-01 10:02:00')",
            "(4, 'download', 1, NULL, NULL, '2026-01-01 10:03:00')",
        ):
            connection.execute(
                text(f"INSERT INTO usage_events (id, kind, user_id, query, search_id, occurred_at) VALUES {row}")
            )
    migrate.upgrade(db)
    with db.engine.connect() as connection:
        keys = connection.execute(text("SELECT id, search_key FROM usage_events ORDER BY id")).all()
    assert [tuple(k) for k in keys] == [(1, "1"), (2, "1"), (3, "3"), (4, None)]
    command.downgrade(migrate.alembic_config(db), "0010")
    with db.engine.connect() as connection:
        links = connection.execute(text("SELECT id, search_id FROM usage_events ORDER BY id")).all()
    assert [tuple(link) for link in links] == [(1, None), (2, 1), (3, None), (4, None)]
    migrate.upgrade(db)
    assert _schema_diff(db) == []


def test_search_links_keep_their_searches(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'links.sqlite3'}")
    _search_links_keep_their_searches(db)
    db.dispose()


def test_free_text_products_and_regions_move_into_vocabularies(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'values.sqlite3'}")
    _free_text_values_move_into_vocabularies(db)
    db.dispose()


@pytest.mark.skipif(not POSTGRES_URL and not os.environ.get("CI"), reason="set KB_TEST_POSTGRES_URL to test PostgreSQL")
def test_migrations_apply_on_postgresql_and_match_the_models() -> None:
    assert POSTGRES_URL, "CI must provide KB_TEST_POSTGRES_URL (see .ci/run)"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"kb_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        db = Database(url)
        migrate.upgrade(db)
        assert _schema_diff(db) == []
        from alembic import command

        command.downgrade(migrate.alembic_config(db), "base")
        _free_text_values_move_into_vocabularies(db)
        command.downgrade(migrate.alembic_config(db), "base")
        _search_links_keep_their_searches(db)
        assert migrate.is_up_to_date(db)
        db.dispose()
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
