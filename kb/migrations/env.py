"""Alembic environment for kb: runs migrations on the engine kb hands over (see kb.migrate).

On SQLite, a migration that changes a table copies it (Alembic's batch mode) and drops the original, which
foreign keys from other tables would forbid: they are switched off while migrations run (SQLite's own
recipe), and every reference is checked before they are switched on again.
"""

from __future__ import annotations

from alembic import context

from kb.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:  # outside any transaction, where SQLite honours it
        connection.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            connection.rollback()
            if broken:
                raise RuntimeError(f"the migration left rows pointing at missing rows: {broken[:5]}")
    finally:
        if sqlite:
            connection.rollback()
            connection.connection.driver_connection.execute("PRAGMA foreign_keys = ON")
