"""``kb migrate-db``: copying a SQLite install's database into an empty PostgreSQL database, ids kept.

The target's schema comes from the migrations (``alembic upgrade head``), never from the models, so it is the
schema ``kb db upgrade`` would have built. Every table is copied in dependency order in batches, all in one
target transaction (a failure leaves no half copy), read from one source transaction (a consistent snapshot).
A foreign key that points forwards (an asset's current version, a replacement asset) is
written as NULL first and filled in once every table is there. Then each id sequence is moved past the largest
id, and the row counts of source and target are compared table by table.

Also home to what restore and backup ask of a database: which tables hold data, and how many rows each has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, Table, bindparam, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from kb import migrate
from kb.db import Database
from kb.models import Base

#: Rows read and written at a time: memory stays flat whatever the size of a table.
BATCH = 1000
#: Tables the migrations fill on an empty database (the names of the vocabularies): rows there are not data.
SEEDED = frozenset({"vocabularies"})
ALEMBIC_TABLE = "alembic_version"


class CopyError(Exception):
    """The copy cannot start or did not finish; the message is one line for the admin."""


@dataclass
class CopyReport:
    target: str  # the target URL without its password
    counts: dict[str, int] = field(default_factory=dict)  # rows per table, equal in source and target
    sequences: int = 0


def tables() -> list[Table]:
    """kb's tables, each after the tables it refers to."""
    return list(Base.metadata.sorted_tables)


def row_counts(connection: Connection) -> dict[str, int]:
    """Rows in each of kb's tables that exist in the database of ``connection``."""
    present = set(inspect(connection).get_table_names())
    return {
        table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
        for table in tables()
        if table.name in present
    }


def data_tables(engine: Engine) -> dict[str, int]:
    """Tables of ``engine``'s database that hold data (not rows the migrations write), with their row counts."""
    with engine.connect() as connection:
        return {name: n for name, n in row_counts(connection).items() if n and name not in SEEDED}


def foreign_tables(engine: Engine) -> list[str]:
    """Tables in the database that are not kb's."""
    known = {table.name for table in tables()} | {ALEMBIC_TABLE}
    return sorted(set(inspect(engine).get_table_names()) - known)


def safe_url(url: str) -> str:
    """``url`` with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a URL)"


def first_line(exc: BaseException) -> str:
    """The first line of a database error, without SQLAlchemy's background links."""
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0] if lines else type(original).__name__


def postgres_database(url: str) -> Database:
    """The target database of ``url``, connected once so that a wrong address is told at once."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise CopyError(f"not a database URL: {url!r} (expected postgresql+psycopg://user:password@host/db)") from None
    if parsed.get_backend_name() != "postgresql":
        raise CopyError(f"--to must be a postgresql+psycopg:// URL, got {parsed.get_backend_name()!r}")
    if not parsed.database:
        raise CopyError(f"the URL names no database: {safe_url(url)}")
    try:
        database = Database(url)
    except (SQLAlchemyError, ImportError) as exc:
        raise CopyError(f"cannot use {safe_url(url)}: {first_line(exc)}") from None
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (DBAPIError, SQLAlchemyError) as exc:
        database.dispose()
        raise CopyError(f"cannot connect to {safe_url(url)}: {first_line(exc)}") from None
    return database


def _require_empty(target: Database) -> bool:
    """Refuses a target with data or with tables that are not kb's; True when it already has kb's schema."""
    others = foreign_tables(target.engine)
    if others:
        raise CopyError(f"the target database has tables that are not kb's ({', '.join(others[:5])}); use an empty one")
    present = set(inspect(target.engine).get_table_names())
    if not present:
        return False
    busy = data_tables(target.engine)
    if busy:
        listed = ", ".join(f"{name} ({n})" for name, n in list(busy.items())[:5])
        raise CopyError(f"the target database is not empty: {listed}; migrate-db copies only into an empty database")
    if migrate.current_revision(target) != migrate.head_revision():
        raise CopyError("the target database has an older kb schema; drop its tables or use a new empty database")
    return True


def _forward_columns(table: Table, written: set[str]) -> list[str]:
    """Columns of ``table`` whose foreign key points at a table not written yet (itself included)."""
    return sorted({fk.parent.name for fk in table.foreign_keys if fk.column.table.name not in written})


def _copy_table(source: Connection, target: Connection, table: Table, nulled: list[str]) -> int:
    order = list(table.primary_key.columns)
    rows = source.execution_options(yield_per=BATCH).execute(select(table).order_by(*order))
    copied = 0
    for batch in rows.partitions(BATCH):
        values = [dict(row._mapping) for row in batch]
        for value in values:
            for name in nulled:
                value[name] = None
        target.execute(table.insert(), values)
        copied += len(values)
    return copied


def _fill_forward(source: Connection, target: Connection, table: Table, column: str) -> None:
    (key,) = table.primary_key.columns
    pairs = source.execution_options(yield_per=BATCH).execute(
        select(key.label("k"), table.c[column].label("v")).where(table.c[column].is_not(None)).order_by(key)
    )
    # Columns with an "on update" default (updated_at) keep their value: this write is no change to the row.
    kept = {c.name: c for c in table.columns if c.onupdate is not None}
    statement = table.update().where(key == bindparam("k")).values({**kept, column: bindparam("v")})
    for batch in pairs.partitions(BATCH):
        target.execute(statement, [{"k": k, "v": v} for k, v in batch])


def _reset_sequences(target: Connection) -> int:
    """Moves every id sequence past its table's largest id, so the next row gets a fresh id."""
    reset = 0
    for table in tables():
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not keys[0].autoincrement or keys[0].type.python_type is not int:
            continue
        column = keys[0].name
        sequence = target.execute(
            text("SELECT pg_get_serial_sequence(:table, :column)"), {"table": table.name, "column": column}
        ).scalar()
        if sequence is None:
            continue
        target.execute(
            text(f'SELECT setval(:sequence, COALESCE((SELECT MAX("{column}") FROM "{table.name}"), 0) + 1, false)'),
            {"sequence": sequence},
        )
        reset += 1
    return reset


def copy_to_postgres(
    source: Database, target_url: str, progress: Callable[[str, int], None] | None = None
) -> CopyReport:
    """Copies every table of the SQLite database ``source`` into the empty PostgreSQL database at ``target_url``."""
    if not source.is_sqlite:
        raise CopyError("migrate-db copies a SQLite install; KB_DATABASE_URL is already a PostgreSQL database")
    if migrate.current_revision(source) is None:
        raise CopyError("the SQLite database has no kb schema: there is nothing to copy")
    if not migrate.is_up_to_date(source):
        raise CopyError("the SQLite database's schema is not up to date; run: kb db upgrade (then migrate-db)")
    target = postgres_database(target_url)
    report = CopyReport(target=safe_url(target_url))
    try:
        if not _require_empty(target):
            migrate.upgrade(target)
        with source.engine.connect() as reading, reading.begin(), target.engine.connect() as writing:
            with writing.begin():
                for table in reversed(tables()):
                    writing.execute(table.delete())  # rows the migrations wrote: the source has them too
                written: set[str] = set()
                forward: list[tuple[Table, str]] = []
                for table in tables():
                    nulled = _forward_columns(table, written)
                    try:
                        report.counts[table.name] = _copy_table(reading, writing, table, nulled)
                    except DBAPIError as exc:
                        raise CopyError(f"copying table {table.name} failed: {first_line(exc)}") from None
                    forward += [(table, column) for column in nulled]
                    written.add(table.name)
                    if progress:
                        progress(table.name, report.counts[table.name])
                for table, column in forward:
                    _fill_forward(reading, writing, table, column)
                report.sequences = _reset_sequences(writing)
            expected = row_counts(reading)
        with target.engine.connect() as checking:
            found = row_counts(checking)
        wrong = [
            f"{name}: {expected[name]} in SQLite, {found.get(name)} copied"
            for name in expected
            if found.get(name) != expected[name]
        ]
        if wrong:
            raise CopyError("row counts differ after the copy: " + "; ".join(wrong))
    except SQLAlchemyError as exc:
        raise CopyError(f"the copy failed: {first_line(exc)}") from None
    finally:
        target.dispose()
    return report


def describe(counts: dict[str, int]) -> Iterable[str]:
    """One line per table: its name and rows."""
    width = max((len(name) for name in counts), default=0)
    for name, n in counts.items():
        yield f"  {name:<{width}}  {n}"
