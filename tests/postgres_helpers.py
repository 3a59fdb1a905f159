"""A throwaway PostgreSQL database per test, on the server ``KB_TEST_POSTGRES_URL`` names (``.ci/run`` starts one).

Outside CI the PostgreSQL tests are skipped when it is unset; in CI it must be set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine

POSTGRES_URL = os.environ.get("KB_TEST_POSTGRES_URL")

needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL and not os.environ.get("CI"), reason="set KB_TEST_POSTGRES_URL to test PostgreSQL"
)


@contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database, dropped afterwards (with whatever still connects to it)."""
    assert POSTGRES_URL, "CI must provide KB_TEST_POSTGRES_URL (see .ci/run)"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"kb_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


_template: str | None = None


def _drop(name: str) -> None:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")  # type: ignore[arg-type]
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@contextmanager
def migrated_database() -> Iterator[str]:
    """The URL of a new database with every migration applied (a copy of one migrated once per test process,
    which is many times faster than migrating each), dropped afterwards."""
    global _template
    assert POSTGRES_URL, "CI must provide KB_TEST_POSTGRES_URL (see .ci/run)"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    if _template is None:
        import atexit

        from kb import migrate
        from kb.db import Database

        name = f"kb_test_template_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        atexit.register(_drop, name)
        db = Database(admin.url.set(database=name).render_as_string(hide_password=False))
        migrate.upgrade(db)
        db.dispose()
        _template = name
    name = f"kb_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{_template}"')
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        from kb.search import reset_backend

        reset_backend()  # its connections to the database end with it
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
