"""Migrations: they build exactly the models' schema, on SQLite and (when available) PostgreSQL, both ways."""

from __future__ import annotations

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
        migrate.upgrade(db)
        assert migrate.is_up_to_date(db)
        db.dispose()
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
