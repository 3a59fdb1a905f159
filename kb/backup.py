"""``kb backup`` and ``kb restore``: a consistent copy of the database and of the files its versions use,
with a manifest of checksums, and putting such a copy back into an empty install.

A backup is a directory::

    manifest.json       what is in it: kb's version, schema revision, database kind, rows per table, every file
                        with its size and SHA-256, when it was made (written last: no manifest, no backup)
    SHA256SUMS          the same checksums for ``sha256sum -c``, to check a copy without kb
    database.sqlite3    SQLite: a snapshot made with SQLite's online backup API
    database.dump       PostgreSQL: ``pg_dump`` in its custom format
    files/ab/cd/<sha>   the stored files, laid out as in the blob store

Consistency: the database snapshot is taken first, and the backup holds exactly the files that snapshot's
versions refer to. A file stored later belongs to a version the snapshot does not have, and a restore with it
would only carry an orphan, so it is left out; files are never changed once stored, and the one thing that deletes
them (``kb check --remove-orphans``) spares files a version uses, so every file the snapshot needs is still there
when it is copied. On PostgreSQL the digests are read in the very snapshot ``pg_dump`` exports.

The search index is not backed up: it is derived from the database, and restore rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from glob import glob
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from kb import dbcopy, migrate
from kb.blobs import CHUNK, BlobStore
from kb.config import PROJECT_ROOT
from kb.db import Database

FORMAT = "kb-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
FILES = "files"
DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.dump"}
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class BackupError(Exception):
    """A backup or restore cannot go on; the message is one line for the admin."""


@dataclass
class BackupReport:
    dest: Path
    database_kind: str
    revision: str
    counts: dict[str, int]
    files: int
    bytes: int


@dataclass
class RestoreReport:
    database_kind: str
    revision: str
    counts: dict[str, int]
    files_copied: int = 0
    files_present: int = 0  # already in the store from an interrupted restore of this backup
    upgraded_to: str | None = None
    problems: list[str] = field(default_factory=list)  # kb check's lines when it found problems
    check_lines: list[str] = field(default_factory=list)
    indexed_pages: int | None = None  # None: the index was not rebuilt


# --- backup ------------------------------------------------------------------------------------------------


def backup(db: Database, blobs: BlobStore, dest: Path, progress: Callable[[str], None] | None = None) -> BackupReport:
    """Writes a backup of the database of ``db`` and the files its versions use into the new or empty ``dest``."""
    say = progress or (lambda _line: None)
    kind = _kind(db)
    revision = migrate.current_revision(db)
    if revision is None:
        raise BackupError("the database has no kb schema: there is nothing to back up")
    created = _prepare_dest(dest)
    try:
        database_file = dest / DATABASE_FILES[kind]
        say(f"database snapshot ({kind}) ...")
        if kind == "sqlite":
            counts, digests = _sqlite_snapshot(db, database_file)
        else:
            counts, digests = _postgres_snapshot(db, database_file)
        say(f"{len(digests)} file(s) ...")
        files = _copy_files(blobs, digests, dest)
        database_entry = {"path": database_file.name, **_measure(database_file)}
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "kb": _kb_version(),
            "alembic_revision": revision,
            "database": {"kind": kind, **database_entry},
            "tables": counts,
            "files": files,
            "search_index": "not included: kb restore rebuilds it",
        }
        sums = [database_entry] + files
        _write_atomically(dest / CHECKSUMS, "".join(f"{e['sha256']}  {e['path']}\n" for e in sums))
        _write_atomically(dest / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
    except BaseException:
        _undo_dest(dest, created)
        raise
    return BackupReport(
        dest=dest,
        database_kind=kind,
        revision=revision,
        counts=counts,
        files=len(files),
        bytes=sum(e["size"] for e in files),
    )


def _kind(db: Database) -> str:
    name = db.engine.dialect.name
    if name not in DATABASE_FILES:
        raise BackupError(f"kb backs up SQLite and PostgreSQL databases, not {name}")
    return name


def _prepare_dest(dest: Path) -> bool:
    """Checks ``dest`` is a new or empty directory (making it); True when it was made here."""
    if dest.exists() or dest.is_symlink():
        if not dest.is_dir():
            raise BackupError(f"{dest} exists and is not a directory; give a new or empty directory")
        if any(dest.iterdir()):
            raise BackupError(f"{dest} is not empty; give a new or empty directory (a backup never overwrites)")
        return False
    if not dest.parent.is_dir():
        raise BackupError(f"{dest.parent} does not exist; create it first (kb backup makes only the last directory)")
    try:
        dest.mkdir()
    except OSError as exc:
        raise BackupError(f"cannot create {dest}: {exc.strerror}") from None
    return True


def _undo_dest(dest: Path, created: bool) -> None:
    """Removes what a failed backup wrote, so that no half backup is left behind."""
    if created:
        shutil.rmtree(dest, ignore_errors=True)
        return
    for child in dest.iterdir() if dest.is_dir() else ():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _sqlite_path(db: Database) -> Path:
    database = make_url(db.url).database
    if not database or database == ":memory:":
        raise BackupError("the database is in memory: there is no file to back up or restore into")
    return Path(database).expanduser().resolve()


def _sqlite_snapshot(db: Database, target: Path) -> tuple[dict[str, int], list[str]]:
    """Copies the live database with SQLite's online backup API (one step: one consistent read snapshot)."""
    source_path = _sqlite_path(db)
    source = sqlite3.connect(source_path, timeout=15)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            copy.close()
    except sqlite3.Error as exc:
        raise BackupError(f"the SQLite backup failed: {exc}") from None
    finally:
        source.close()
    snapshot = Database(f"sqlite:///{target}")
    try:
        with snapshot.engine.connect() as connection:
            return dbcopy.row_counts(connection), _digests(connection)
    finally:
        snapshot.dispose()


def _digests(connection: Any) -> list[str]:
    return list(connection.execute(text("SELECT DISTINCT sha256 FROM asset_versions ORDER BY sha256")).scalars())


def postgres_tool(name: str) -> str:
    """The path of a PostgreSQL client program (``pg_dump``, ``pg_restore``): on PATH, else Debian's newest."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version_key)
    if candidates:
        return candidates[-1]
    raise BackupError(f"{name} is not installed; install the PostgreSQL client (Debian: apt install postgresql-client)")


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path))


def _libpq(db: Database) -> tuple[str, dict[str, str]]:
    """A libpq URI for the client programs, and an environment with the password (kept off the command line)."""
    url = make_url(db.url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _run_tool(command: list[str], env: dict[str, str], what: str) -> None:
    try:
        finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BackupError(f"{what} could not run: {exc.strerror}") from None
    if finished.returncode != 0:
        lines = [line for line in finished.stderr.splitlines() if line.strip()]
        raise BackupError(f"{what} failed: {lines[-1] if lines else f'exit status {finished.returncode}'}")


#: Tables of the PostgreSQL search backend whose rows a backup leaves out (``kb_search.state`` is kept).
SEARCH_INDEX_TABLES = ("pages", "postings", "words", "changes")


def _postgres_snapshot(db: Database, target: Path) -> tuple[dict[str, int], list[str]]:
    """``pg_dump`` of a snapshot exported from a transaction that also reads the counts and the file digests."""
    pg_dump = postgres_tool("pg_dump")
    uri, env = _libpq(db)
    with db.engine.connect() as connection:
        reading = connection.execution_options(isolation_level="REPEATABLE READ")
        with reading.begin():
            reading.execute(text("SET TRANSACTION READ ONLY"))
            snapshot = reading.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            counts, digests = dbcopy.row_counts(reading), _digests(reading)
            _run_tool(
                [
                    pg_dump,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    # the search index's rows (KB_SEARCH_BACKEND=postgres) are rebuilt on restore, not kept
                    *(f"--exclude-table-data=kb_search.{table}" for table in SEARCH_INDEX_TABLES),
                    f"--file={target}",
                    f"--dbname={uri}",
                ],
                env,
                "pg_dump",
            )
    return counts, digests


def _copy_files(blobs: BlobStore, digests: list[str], dest: Path) -> list[dict[str, Any]]:
    """Copies each file, hashing it on the way; a file missing from the store or damaged stops the backup."""
    entries: list[dict[str, Any]] = []
    bad: list[str] = []
    for digest in digests:
        relative = _file_path(digest)
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        size = 0
        try:
            with blobs.open(digest) as source, target.open("wb") as out:
                while chunk := source.read(CHUNK):
                    hasher.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
        except FileNotFoundError:
            bad.append(f"{digest[:12]}… missing")
            continue
        if hasher.hexdigest() != digest:
            bad.append(f"{digest[:12]}… does not match its SHA-256")
            continue
        entries.append({"path": relative, "size": size, "sha256": digest})
    if bad:
        raise BackupError(
            f"{len(bad)} stored file(s) the database uses are damaged ({'; '.join(bad[:3])}); run: kb check"
        )
    return entries


def _file_path(digest: str) -> str:
    return f"{FILES}/{digest[:2]}/{digest[2:4]}/{digest}"


def _measure(path: Path) -> dict[str, Any]:
    hasher = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return {"size": size, "sha256": hasher.hexdigest()}


def _write_atomically(path: Path, content: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _kb_version() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("kb")
    except PackageNotFoundError:
        package = None
    commit = None
    if (PROJECT_ROOT / ".git").exists():
        try:
            finished = subprocess.run(
                ["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
            )
            commit = (finished.stdout.strip() or None) if finished.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            commit = None
    return {"version": package, "git": commit}


# --- restore -----------------------------------------------------------------------------------------------


def read_manifest(src: Path) -> dict[str, Any]:
    """The manifest of the backup in ``src``, checked for shape (not yet for checksums)."""
    if not src.is_dir():
        raise BackupError(f"{src} is not a directory; give the directory kb backup wrote")
    path = src / MANIFEST
    if not path.is_file():
        raise BackupError(f"{src} has no {MANIFEST}: not a kb backup, or one that did not finish")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path} is not valid JSON ({exc}); the backup is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a kb backup manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"the backup's format {manifest.get('format_version')!r} is not one this kb reads")
    database = manifest.get("database")
    if not isinstance(database, dict) or database.get("kind") not in DATABASE_FILES:
        raise BackupError(f"{path} names no database kind kb knows")
    if database.get("path") != DATABASE_FILES[database["kind"]]:
        raise BackupError(f"{path} names an unexpected database file {database.get('path')!r}")
    files = manifest.get("files")
    if not isinstance(files, list) or not isinstance(manifest.get("tables"), dict):
        raise BackupError(f"{path} lists no files or tables; the backup is damaged")
    for entry in files:
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        if not isinstance(digest, str) or not _DIGEST.match(digest) or entry.get("path") != _file_path(digest):
            raise BackupError(f"{path} has a file entry kb does not understand: {entry!r}")
    return manifest


def verify(src: Path, manifest: dict[str, Any]) -> None:
    """Checks every file of the backup against the manifest's size and SHA-256; names the first bad one."""
    for entry in _entries(manifest):
        path = src / entry["path"]
        if not path.is_file():
            raise BackupError(f"the backup is incomplete: {entry['path']} is missing")
        measured = _measure(path)
        if measured["size"] != entry.get("size") or measured["sha256"] != entry["sha256"]:
            raise BackupError(f"the backup is damaged: {entry['path']} does not match its checksum in {MANIFEST}")


def _entries(manifest: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield manifest["database"]
    yield from manifest["files"]


def restore(
    db: Database,
    blobs: BlobStore,
    src: Path,
    *,
    rebuild_index: Callable[[], int] | None = None,
    check: Callable[[], Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> RestoreReport:
    """Restores the backup in ``src`` into the empty install of ``db`` and ``blobs``.

    Nothing is touched until the whole backup has been checked against its manifest and the install found empty.
    The files go first and the database last (in one step), so a restore that stops part way can be run again.
    Then schema migrations newer than the backup are applied, ``check`` (kb check) runs, and ``rebuild_index``.
    """
    say = progress or (lambda _line: None)
    manifest = read_manifest(src)
    kind = manifest["database"]["kind"]
    target_kind = _kind(db)
    if kind != target_kind:
        if kind == "sqlite":
            raise BackupError(
                "this is a SQLite backup and KB_DATABASE_URL is PostgreSQL: restore it into a SQLite install, "
                "then move it with kb migrate-db"
            )
        raise BackupError("this is a PostgreSQL backup: it restores only into a PostgreSQL database")
    revision = manifest.get("alembic_revision")
    if not isinstance(revision, str) or not migrate.is_known_revision(revision):
        raise BackupError(f"the backup's schema revision {revision!r} is unknown here: restore it with a newer kb")
    say("checking the backup's checksums ...")
    verify(src, manifest)
    _require_empty_database(db)
    wanted = {entry["sha256"] for entry in manifest["files"]}
    _require_empty_store(blobs, wanted)
    report = RestoreReport(database_kind=kind, revision=revision, counts=dict(manifest["tables"]))
    say(f"{len(wanted)} file(s) ...")
    for entry in manifest["files"]:
        if _restore_file(blobs, src / entry["path"], entry["sha256"]):
            report.files_copied += 1
        else:
            report.files_present += 1
    say("database ...")
    database_file = src / manifest["database"]["path"]
    if kind == "sqlite":
        _restore_sqlite(db, database_file)
    else:
        _restore_postgres(db, database_file)
    db.dispose()
    with db.engine.connect() as connection:
        found = dbcopy.row_counts(connection)
    wrong = [name for name, n in report.counts.items() if found.get(name) != n]
    if wrong:
        raise BackupError(f"row counts after the restore differ from the manifest in: {', '.join(wrong)}")
    if revision != migrate.head_revision():
        migrate.upgrade(db)
        report.upgraded_to = migrate.head_revision()
    if check is not None:
        say("kb check ...")
        result = check()
        report.check_lines = result.lines()
        if result.problems:
            report.problems = report.check_lines
    if rebuild_index is not None:
        say("search index ...")
        report.indexed_pages = rebuild_index()
    return report


def _require_empty_database(db: Database) -> None:
    try:
        others = dbcopy.foreign_tables(db.engine)
        busy = dbcopy.data_tables(db.engine)
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot read the target database: {dbcopy.first_line(exc)}") from None
    if others:
        raise BackupError(f"the target database has tables that are not kb's ({', '.join(others[:5])})")
    if busy:
        listed = ", ".join(f"{name} ({n})" for name, n in list(busy.items())[:5])
        raise BackupError(
            f"the target database is not empty: {listed}; restore goes only into a new install "
            "(point KB_DATABASE_URL at a new database)"
        )


def _require_empty_store(blobs: BlobStore, wanted: set[str]) -> None:
    """The file store may hold only files of this backup (those of an earlier, interrupted restore of it)."""
    others = [digest for digest in blobs.all_digests() if digest not in wanted]
    if others:
        raise BackupError(
            f"the file store {blobs.root} is not empty ({len(others)} file(s) not in this backup); "
            "restore goes only into a new install (point KB_BLOB_DIR at an empty directory)"
        )


def _restore_file(blobs: BlobStore, path: Path, digest: str) -> bool:
    """Puts one file into the store; False when it was there already, whole."""
    existing = blobs.verify(digest)
    if existing is None:
        return False
    if existing != "missing":
        blobs.path_for(digest).unlink()
    with path.open("rb") as handle:
        staged = blobs.stage(handle)
    if staged.sha256 != digest:
        blobs.discard(staged)
        raise BackupError(f"the backup changed while restoring: {path} no longer matches its checksum")
    blobs.commit(staged)
    return True


def _restore_sqlite(db: Database, database_file: Path) -> None:
    """Writes the backup into the target database file through SQLite's backup API (one step, all or nothing)."""
    target_path = _sqlite_path(db)
    db.dispose()
    source = sqlite3.connect(f"{database_file.resolve().as_uri()}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(target_path, timeout=15)
        try:
            source.backup(target)
        finally:
            target.close()
    except sqlite3.Error as exc:
        raise BackupError(f"restoring the SQLite database failed: {exc}") from None
    finally:
        source.close()


def _restore_postgres(db: Database, dump: Path) -> None:
    """``pg_restore`` into the target database, after dropping kb's empty tables there (a fresh ``kb db upgrade``)."""
    pg_restore = postgres_tool("pg_restore")
    if inspect(db.engine).get_table_names():
        from kb.models import Base

        with db.engine.begin() as connection:
            Base.metadata.drop_all(connection)
            connection.execute(text(f"DROP TABLE IF EXISTS {dbcopy.ALEMBIC_TABLE}"))
            connection.execute(text("DROP SCHEMA IF EXISTS kb_search CASCADE"))  # the dump makes it again
    db.dispose()
    uri, env = _libpq(db)
    _run_tool(
        [
            pg_restore,
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={uri}",
            str(dump),
        ],
        env,
        "pg_restore",
    )
