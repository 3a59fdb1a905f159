"""The database: engine, sessions, and the write transaction that domain modules use.

Reads go through a plain session. Writes go through ``Database.transaction()``, which on SQLite starts with
``BEGIN IMMEDIATE`` (a deferred ``BEGIN`` in WAL mode fails with "database is locked" when two writers upgrade
at once, busy timeout or not) and commits or rolls back as a whole. SQLite runs with foreign keys on, the WAL
journal and a busy timeout so that several server processes can share one file. Nothing here is SQLite-only:
on PostgreSQL the same calls use ordinary transactions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 15_000
_WRITE_OPTION = "kb_write"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start, instead of pysqlite's own guessing.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_db_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    """One per process: the engine plus factories for read sessions and write transactions."""

    def __init__(self, url: str, *, email_enabled: bool = False) -> None:
        self.url = url
        self.engine = create_db_engine(url)
        # Deployment facts domain code needs inside a transaction (``session.info``), e.g. whether to e-mail.
        info = {"email_enabled": email_enabled}
        self._read = sessionmaker(self.engine, expire_on_commit=False, info=info)
        self._write = sessionmaker(
            self.engine.execution_options(**{_WRITE_OPTION: True}), expire_on_commit=False, info=info
        )
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Registers ``callback`` to run after every committed write transaction (e.g. to end a stale read)."""
        self._after_commit.append(callback)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self) -> Session:
        """A session for reading; its caller closes it."""
        return self._read()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work: commits when the block ends, rolls everything back if it raises."""
        session = self._write()
        try:
            with session.begin():
                yield session
        finally:
            session.close()
        for callback in self._after_commit:
            callback()

    def dispose(self) -> None:
        self.engine.dispose()
