"""``kb backup`` and ``kb restore``: a backup taken while files are being published restores into a new install with
nothing missing; a damaged backup, a non-empty install and bad directories are refused with one-line messages."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from conftest import SECRET_KEY, app_config
from kb import accounts, backup, create_app, integrity, migrate
from kb.cli import main
from kb.db import Database
from kb.models import AssetVersion, User
from postgres_helpers import fresh_database, needs_postgres
from publishing_helpers import fields, publisher_for, text_upload, worker_for


def kb(instance: Path, *args: str, database_url: str | None = None) -> Any:
    """Runs ``kb ARGS`` against the install in ``instance`` (a traceback would fail the test: none is caught)."""
    env = {
        "KB_INSTANCE_DIR": str(instance),
        "KB_SECRET_KEY": SECRET_KEY,
        "KB_DATABASE_URL": database_url or f"sqlite:///{instance / 'kb.sqlite3'}",
        "KB_SEARCH_BACKEND": "whoosh",
        "KB_BLOB_DIR": str(instance / "blobs"),
        "KB_INDEX_DIR": str(instance / "index"),
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def word(number: int) -> str:
    """A word that is in one asset only and that the analyzer keeps whole: letters for digits (qzbcd for 123)."""
    return "qz" + "".join(chr(ord("a") + int(digit)) for digit in f"{number:03d}")


def publish(app: Flask, owner: User, number: int, label: str) -> int:
    text = f"Памятка {word(number)}: как продавать насосы, выпуск {number}."
    published = publisher_for(app).create_asset(
        owner.id, fields(owner, title=f"{label} {word(number)}", tags=[]), text_upload(text, f"{word(number)}.md")
    )
    return published.asset_id


def new_instance(tmp_path: Path, template: Path, name: str) -> Path:
    """A new install as ``kb db upgrade`` leaves it: the schema, no data, no files."""
    instance = tmp_path / name
    instance.mkdir()
    shutil.copy(template, instance / "kb.sqlite3")
    return instance


def snapshot_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(sql).fetchall()


def search_ids(app: Flask, headers: dict[str, str], query: str) -> set[int]:
    answer = app.test_client().get("/api/v1/search", query_string={"q": query}, headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return {hit["asset_id"] for hit in answer.json["results"]}


@pytest.mark.slow
def test_a_backup_taken_while_files_are_published_restores_with_nothing_missing(
    app: Flask, tmp_path: Path, make_user, migrated_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db: Database = app.extensions["kb_db"]
    owner = make_user("marketing")
    before = [publish(app, owner, n, "До") for n in range(4)]
    worker_for(app).run_until_idle()

    published: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def upload() -> None:
        number = 100
        try:
            while not stop.is_set() and number < 400:
                published.append(publish(app, owner, number, "Во время"))
                number += 1
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 60
        while len(published) < count and not errors:
            assert time.monotonic() < deadline, "the upload thread stalled"
            time.sleep(0.005)

    # Between the database snapshot and the copying of the files, more files arrive: the interleaving that matters.
    copy_files = backup._copy_files
    after_snapshot: list[int] = []

    def copy_files_later(*args: Any, **kwargs: Any) -> Any:
        after_snapshot.append(len(published))
        wait_for(after_snapshot[0] + 3)
        return copy_files(*args, **kwargs)

    monkeypatch.setattr(backup, "_copy_files", copy_files_later)
    thread = threading.Thread(target=upload)
    thread.start()
    try:
        wait_for(3)
        committed_before = len(published)
        report = backup.backup(db, app.extensions["kb_blobs"], tmp_path / "backup")
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    in_store = set(app.extensions["kb_blobs"].all_digests())

    # The backup holds exactly the files its database snapshot refers to: the ones stored later are left out.
    dest = tmp_path / "backup"
    manifest = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
    snapshot_digests = {d for (d,) in snapshot_rows(dest / "database.sqlite3", "SELECT sha256 FROM asset_versions")}
    assert {entry["sha256"] for entry in manifest["files"]} == snapshot_digests
    assert report.files == len(snapshot_digests) and in_store - snapshot_digests, "files arrived after the snapshot"
    backed_up = {asset_id for (asset_id,) in snapshot_rows(dest / "database.sqlite3", "SELECT id FROM assets")}
    assert set(before) | set(published[:committed_before]) <= backed_up
    assert not backed_up & set(published[after_snapshot[0] :])
    assert manifest["tables"]["assets"] == len(backed_up)
    assert manifest["alembic_revision"] == migrate.head_revision() and manifest["database"]["kind"] == "sqlite"
    sums = (dest / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    assert len(sums) == len(snapshot_digests) + 1 and sums[0].endswith("  database.sqlite3")

    # Restored into a new install: every file there and whole, kb check clean, the index rebuilt.
    target = new_instance(tmp_path, migrated_template, "restored")
    restored = kb(target, "restore", str(dest))
    assert restored.exit_code == 0, restored.output
    assert "kb check: OK" in restored.output and "search index rebuilt" in restored.output
    assert f"{len(snapshot_digests)} file(s) copied" in restored.output
    restored_app = create_app(app_config(target))
    try:
        restored_db: Database = restored_app.extensions["kb_db"]
        blobs = restored_app.extensions["kb_blobs"]
        assert set(blobs.all_digests()) == snapshot_digests
        assert all(blobs.verify(digest) is None for digest in snapshot_digests)
        check = integrity.check_blobs(restored_db, blobs)
        assert not check.problems and not check.orphans and check.checked == manifest["tables"]["asset_versions"]
        headers = {"Authorization": f"Bearer {accounts.create_token(restored_db, owner.id, 'check').secret}"}
        numbers = {asset_id: n for n, asset_id in enumerate(before)}
        numbers.update({asset_id: 100 + n for n, asset_id in enumerate(published)})
        for asset_id in sorted(backed_up):
            assert asset_id in search_ids(restored_app, headers, word(numbers[asset_id])), asset_id
        # The text of the files extracted before the backup is found too (extracted pages came with the database).
        assert set(before) <= search_ids(restored_app, headers, "продавать насосы")
    finally:
        restored_db.dispose()


@pytest.fixture
def small_backup(app: Flask, make_user, instance_dir: Path, tmp_path: Path) -> Path:
    """A backup, written by ``kb backup``, of an install with two published assets."""
    owner = make_user("marketing")
    for number in range(2):
        publish(app, owner, number, "Каталог")
    result = kb(instance_dir, "backup", str(tmp_path / "backup"))
    assert result.exit_code == 0, result.output
    assert "backup written to" in result.output and "2 file(s)" in result.output
    return tmp_path / "backup"


def _first_file(backup_dir: Path) -> str:
    manifest = json.loads((backup_dir / "manifest.json").read_text(encoding="utf-8"))
    return manifest["files"][0]["path"]


def _flip_a_byte(backup_dir: Path) -> str:
    name = _first_file(backup_dir)
    path = backup_dir / name
    data = bytearray(path.read_bytes())
    data[5] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    return f"{name} does not match its checksum"


def _delete_a_file(backup_dir: Path) -> str:
    name = _first_file(backup_dir)
    (backup_dir / name).unlink()
    return f"{name} is missing"


def _grow_the_database(backup_dir: Path) -> str:
    with (backup_dir / "database.sqlite3").open("ab") as handle:
        handle.write(b"\0")
    return "database.sqlite3 does not match its checksum"


def _break_the_manifest(backup_dir: Path) -> str:
    (backup_dir / "manifest.json").write_text('{"format": "kb-backup", ', encoding="utf-8")
    return "is not valid JSON"


def _remove_the_manifest(backup_dir: Path) -> str:
    (backup_dir / "manifest.json").unlink()
    return "has no manifest.json: not a kb backup, or one that did not finish"


def _point_outside(backup_dir: Path) -> str:
    path = backup_dir / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["files"][0]["path"] = "../../etc/passwd"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return "has a file entry kb does not understand"


@pytest.mark.parametrize(
    "tamper",
    [_flip_a_byte, _delete_a_file, _grow_the_database, _break_the_manifest, _remove_the_manifest, _point_outside],
)
def test_a_damaged_backup_is_refused_before_anything_is_touched(
    small_backup: Path, tmp_path: Path, migrated_template: Path, tamper
) -> None:
    expected = tamper(small_backup)
    target = new_instance(tmp_path, migrated_template, "target")
    result = kb(target, "restore", str(small_backup))
    assert result.exit_code == 1 and expected in result.output, result.output
    assert not (target / "blobs").exists() or not any((target / "blobs").rglob("*"))
    assert snapshot_rows(target / "kb.sqlite3", "SELECT COUNT(*) FROM users") == [(0,)]


def test_restore_refuses_an_install_that_has_data_or_other_files(
    small_backup: Path, instance_dir: Path, tmp_path: Path, migrated_template: Path
) -> None:
    into_itself = kb(instance_dir, "restore", str(small_backup))
    assert into_itself.exit_code == 1
    assert "the target database is not empty: " in into_itself.output
    assert "users (1), assets (2)" in into_itself.output
    assert "restore goes only into a new install" in into_itself.output

    target = new_instance(tmp_path, migrated_template, "target")
    stranger = target / "blobs" / "ab" / "cd" / ("abcd" + "0" * 60)
    stranger.parent.mkdir(parents=True)
    stranger.write_bytes(b"not from this backup")
    other_files = kb(target, "restore", str(small_backup))
    assert other_files.exit_code == 1 and "is not empty (1 file(s) not in this backup)" in other_files.output
    assert snapshot_rows(target / "kb.sqlite3", "SELECT COUNT(*) FROM users") == [(0,)]


def test_restore_runs_again_after_it_stopped_part_way(
    small_backup: Path, tmp_path: Path, migrated_template: Path
) -> None:
    """Files go first and the database last: a restore stopped after some files can simply be run again."""
    target = new_instance(tmp_path, migrated_template, "target")
    name = _first_file(small_backup)
    copied = target / "blobs" / name.removeprefix("files/")
    copied.parent.mkdir(parents=True)
    shutil.copy(small_backup / name, copied)
    result = kb(target, "restore", "--no-index", str(small_backup))
    assert result.exit_code == 0, result.output
    assert "1 file(s) copied, 1 already in place" in result.output
    assert "search index not rebuilt: run kb index rebuild" in result.output
    assert kb(target, "check").exit_code == 0


def test_backup_refuses_a_directory_it_cannot_use(instance_dir: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"
    full.mkdir()
    (full / "old.txt").write_text("keep me", encoding="utf-8")
    a_file = tmp_path / "file.txt"
    a_file.write_text("", encoding="utf-8")
    cases = {
        full: "is not empty; give a new or empty directory",
        tmp_path / "no" / "such" / "dir": "does not exist; create it first",
        a_file: "is a file",  # click says so before kb is asked
    }
    for dest, message in cases.items():
        result = kb(instance_dir, "backup", str(dest))
        assert result.exit_code != 0 and message in result.output, (dest, result.output)
    assert (full / "old.txt").read_text(encoding="utf-8") == "keep me"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert kb(instance_dir, "backup", str(empty)).exit_code == 0
    assert (empty / "manifest.json").is_file()


def test_restore_refuses_what_is_not_a_backup(instance_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for src, message in ((empty, "has no manifest.json"), (tmp_path / "missing", "is not a directory")):
        result = kb(instance_dir, "restore", str(src))
        assert result.exit_code == 1 and message in result.output, result.output


def test_a_failed_backup_leaves_nothing_behind(instance_dir: Path, tmp_path: Path, make_user, app: Flask) -> None:
    owner = make_user("marketing")
    asset_id = publish(app, owner, 1, "Каталог")
    with app.extensions["kb_db"].session() as session:
        digest = session.scalars(select(AssetVersion.sha256).where(AssetVersion.asset_id == asset_id)).one()
    app.extensions["kb_blobs"].path_for(digest).unlink()
    result = kb(instance_dir, "backup", str(tmp_path / "backup"))
    assert result.exit_code == 1 and "1 stored file(s) the database uses are damaged" in result.output
    assert "run: kb check" in result.output
    assert not (tmp_path / "backup").exists()


@pytest.mark.slow
@needs_postgres
def test_postgresql_backup_and_restore(tmp_path: Path, small_backup: Path, migrated_template: Path) -> None:
    """pg_dump of a PostgreSQL install, restored into another (a fresh ``kb db upgrade`` one); a SQLite backup is
    not restored into PostgreSQL, nor the other way round."""
    with fresh_database() as source_url, fresh_database() as target_url:
        source = tmp_path / "pg-source"
        source.mkdir()
        application = create_app(app_config(source, KB_DATABASE_URL=source_url))
        db: Database = application.extensions["kb_db"]
        try:
            migrate.upgrade(db)
            owner = accounts.create_user(db, "m@example.com", "correct horse battery", "marketing")
            ids = [publish(application, owner, n, "Буклет") for n in range(3)]
            worker_for(application).run_until_idle()
        finally:
            db.dispose()
        made = kb(source, "backup", str(tmp_path / "pg-backup"), database_url=source_url)
        assert made.exit_code == 0, made.output
        manifest = json.loads((tmp_path / "pg-backup" / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["database"]["kind"] == "postgresql" and manifest["tables"]["assets"] == 3

        target = tmp_path / "pg-target"
        target.mkdir()
        assert kb(target, "db", "upgrade", database_url=target_url).exit_code == 0
        sqlite_into_postgres = kb(target, "restore", str(small_backup), database_url=target_url)
        assert sqlite_into_postgres.exit_code == 1 and "then move it with kb migrate-db" in sqlite_into_postgres.output
        restored = kb(target, "restore", str(tmp_path / "pg-backup"), database_url=target_url)
        assert restored.exit_code == 0, restored.output
        assert "kb check: OK" in restored.output and "3 file(s) copied" in restored.output

        restored_app = create_app(app_config(target, KB_DATABASE_URL=target_url))
        restored_db: Database = restored_app.extensions["kb_db"]
        try:
            assert migrate.is_up_to_date(restored_db)
            fresh = accounts.create_user(restored_db, "new@example.com", "correct horse battery", "sales")
            assert fresh.id == owner.id + 1  # the sequences came with the dump
            headers = {"Authorization": f"Bearer {accounts.create_token(restored_db, owner.id, 't').secret}"}
            for number, asset_id in enumerate(ids):
                assert asset_id in search_ids(restored_app, headers, word(number))
        finally:
            restored_db.dispose()

        sqlite_target = new_instance(tmp_path, migrated_template, "sqlite-target")
        postgres_into_sqlite = kb(sqlite_target, "restore", str(tmp_path / "pg-backup"))
        assert postgres_into_sqlite.exit_code == 1
        assert "it restores only into a PostgreSQL database" in postgres_into_sqlite.output


def test_a_backup_from_an_older_kb_is_brought_up_to_date(tmp_path: Path, migrated_template: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    database = Database(f"sqlite:///{old / 'kb.sqlite3'}")
    migrate.upgrade(database, "0008")
    with database.engine.begin() as connection:  # as kb at 0008 wrote it: today's models have more columns
        connection.exec_driver_sql(
            "INSERT INTO users (id, email, display_name, role, password_hash, active, must_change_password, "
            "created_at) VALUES (1, 'm@example.com', 'M', 'marketing', 'x', 1, 0, '2026-01-01 00:00:00')"
        )
    database.dispose()
    made = kb(old, "backup", str(tmp_path / "backup"))
    assert made.exit_code == 0, made.output
    assert json.loads((tmp_path / "backup" / "manifest.json").read_text(encoding="utf-8"))["alembic_revision"] == "0008"

    target = new_instance(tmp_path, migrated_template, "target")
    restored = kb(target, "restore", str(tmp_path / "backup"))
    assert restored.exit_code == 0, restored.output
    assert f"(revision 0008, upgraded to {migrate.head_revision()})" in restored.output
    assert "up to date" in kb(target, "db", "current").output
    assert snapshot_rows(target / "kb.sqlite3", "SELECT email FROM users") == [("m@example.com",)]
