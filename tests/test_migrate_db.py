"""``kb migrate-db``: the demo library with feedback and search analytics, copied from SQLite into PostgreSQL row for
row, ids kept and sequences continuing, and the app running on the copy; bad targets refused in one line."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import create_engine, func, select, text

from conftest import SECRET_KEY, Auth, app_config
from kb import accounts, analytics, create_app, migrate, notifications, reviews, usage
from kb.cli import DEMO_PASSWORD_DEFAULT, main
from kb.db import Database
from kb.dbcopy import tables
from kb.feedback import resolve_flag
from kb.models import Asset, AssetVersion, Rating, StaleFlag, UsageEvent, UsageKind, User
from kb.search import backend_of, indexing
from kb.search_log import SearchLog
from postgres_helpers import fresh_database, needs_postgres
from publishing_helpers import fields, publisher_for, text_upload, worker_for


def kb(instance: Path, *args: str) -> Any:
    env = {
        "KB_INSTANCE_DIR": str(instance),
        "KB_SECRET_KEY": SECRET_KEY,
        "KB_DATABASE_URL": f"sqlite:///{instance / 'kb.sqlite3'}",
        "KB_BLOB_DIR": None,
        "KB_INDEX_DIR": None,
        "KB_SEARCH_BACKEND": "whoosh",
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def _all_rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    with db.engine.connect() as connection:
        return {
            table.name: [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key.columns))]
            for table in tables()
        }


def _library_with_feedback_and_analytics(app: Flask, instance: Path) -> None:
    """The demo library (its ratings and flags included), extracted and indexed, plus the rest of what people do:
    searches and the clicks on their results, a gap marked, a review, a follow, an archived asset replaced by
    another, a resolved flag, a token and a sign-in."""
    for command in (("demo", "users"), ("demo", "load"), ("synonyms", "starter", "--as", "marketing@demo.kb")):
        result = kb(instance, *command)
        assert result.exit_code == 0, result.output
    worker_for(app).run_until_idle()
    db: Database = app.extensions["kb_db"]
    with db.session() as session:
        sales = accounts.find_user(session, "sales@demo.kb")
        marketing = accounts.find_user(session, "marketing@demo.kb")
        first, second = session.scalars(select(Asset.id).order_by(Asset.id).limit(2)).all()
        version = session.scalars(select(AssetVersion.id).where(AssetVersion.asset_id == first)).first()
        flag = session.scalars(select(StaleFlag.id).order_by(StaleFlag.id)).first()
    assert sales and marketing and flag
    searches = SearchLog(db, seconds=0)
    for query, found in (("насосы", 3), ("ТКП 44-ФЗ", 0), ("чертежи насосов", 0)):
        key = searches.record(user_id=sales.id, query=query, filters=None, result_count=found)
        if found:
            usage.record(db, UsageKind.VIEW, user_id=sales.id, asset_id=first, version_id=version, search_key=key)
    usage.record(db, UsageKind.DOWNLOAD, user_id=sales.id, asset_id=first, version_id=version)
    analytics.mark_gap(db, marketing.id, "чертежи насосов", "planned", note="к маю")
    reviews.confirm_current(db, marketing.id, second)
    notifications.follow(db, sales.id, first)
    resolve_flag(db, marketing.id, flag, "обновили")
    publisher_for(app).set_status(marketing.id, second, "archived", replaced_by=first)
    accounts.create_token(db, sales.id, "crm")
    worker_for(app).run_until_idle()  # the archived asset re-indexed: the index agrees with the database
    assert Auth(app.test_client()).login("sales@demo.kb", DEMO_PASSWORD_DEFAULT).status_code == 302


@pytest.mark.slow
@needs_postgres
def test_the_demo_library_moves_to_postgresql_with_ids_and_sequences_kept(app: Flask, instance_dir: Path) -> None:
    _library_with_feedback_and_analytics(app, instance_dir)
    source: Database = app.extensions["kb_db"]
    expected = _all_rows(source)
    for name in (
        "users", "assets", "asset_versions", "extracted_pages", "ratings", "stale_flags", "reviews", "follows",
        "notifications", "usage_events", "search_gaps", "synonym_groups", "api_tokens", "vocabulary_terms", "jobs",
    ):  # fmt: skip
        assert expected[name], f"the source has no {name}: the test would prove nothing about them"
    with source.session() as session:
        assert session.scalar(select(func.count()).where(Asset.replaced_by_id.is_not(None))) == 1
        clicks = select(func.count()).where(UsageEvent.search_key.is_not(None), UsageEvent.kind != UsageKind.SEARCH)
        assert session.scalar(clicks) == 1

    with fresh_database() as url:
        copied = kb(instance_dir, "migrate-db", "--to", url)
        assert copied.exit_code == 0, copied.output
        assert "row counts verified in every table" in copied.output
        assert f"KB_DATABASE_URL={url}" in copied.output  # no password in this URL to hide
        assert f"KB_BLOB_DIR={instance_dir / 'blobs'}" in copied.output
        target = Database(url)
        try:
            assert migrate.is_up_to_date(target)
            assert _all_rows(target) == expected  # every row of every table, ids and timestamps included

            # The sequences continue after the largest id: new rows get fresh ids.
            with source.session() as session:
                last_user = session.scalar(select(func.max(User.id)))
                last_event = session.scalar(select(func.max(UsageEvent.id)))
                last_rating = session.scalar(select(func.max(Rating.id)))
                last_asset = session.scalar(select(func.max(Asset.id)))
            user = accounts.create_user(target, "new@example.com", "correct horse battery", "marketing")
            assert user.id == last_user + 1
            SearchLog(target, seconds=0).record(user_id=user.id, query="x", filters=None, result_count=0)
            with target.session() as session:
                assert session.scalar(select(func.max(UsageEvent.id))) == last_event + 1
            with target.session() as session:
                assert session.scalar(select(func.max(Rating.id))) == last_rating

            again = kb(instance_dir, "migrate-db", "--to", url)
            assert again.exit_code == 1 and "the target database is not empty" in again.output
        finally:
            target.dispose()

        # The app runs on PostgreSQL with the same files and the same index.
        moved = create_app(app_config(instance_dir, KB_DATABASE_URL=url))
        db: Database = moved.extensions["kb_db"]
        try:
            assert indexing.check(db, backend_of(moved.config["KB_SETTINGS"])).ok
            with db.session() as session:
                marketing = accounts.find_user(session, "marketing@demo.kb")
            headers = {"Authorization": f"Bearer {accounts.create_token(db, marketing.id, 'check').secret}"}
            client = moved.test_client()
            listed = client.get("/api/v1/assets", query_string={"per_page": 100}, headers=headers)
            assert listed.status_code == 200
            with source.session() as session:
                titles = set(session.scalars(select(Asset.title)))
                first_version = session.scalars(select(AssetVersion).order_by(AssetVersion.id)).first()
            assert listed.json["total"] == len(titles) and {a["title"] for a in listed.json["items"]} <= titles
            download = client.get(f"/api/v1/assets/{first_version.asset_id}/versions/1/download", headers=headers)
            assert download.status_code == 200
            assert hashlib.sha256(download.get_data()).hexdigest() == first_version.sha256
            download.close()
            found = client.get("/api/v1/search", query_string={"q": "насосы"}, headers=headers)
            assert found.status_code == 200 and found.json["total"] > 0
            created = publisher_for(moved).create_asset(marketing.id, fields(marketing), text_upload("новый прайс"))
            assert created.asset_id == last_asset + 1
        finally:
            db.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a database URL: 'not a url'"),
        ("mysql://kb@localhost/kb", "--to must be a postgresql+psycopg:// URL, got 'mysql'"),
        (
            "postgresql+psycopg://kb:secret@127.0.0.1:1/kb",
            "cannot connect to postgresql+psycopg://kb:***@127.0.0.1:1/kb",
        ),
        ("postgresql+psycopg://kb@127.0.0.1:1", "the URL names no database"),
    ],
)
def test_migrate_db_refuses_a_target_it_cannot_use(instance_dir: Path, url: str, message: str) -> None:
    result = kb(instance_dir, "migrate-db", "--to", url)
    assert result.exit_code == 1 and message in result.output, result.output
    assert "secret" not in result.output


def test_migrate_db_wants_an_up_to_date_sqlite_source(tmp_path: Path) -> None:
    instance = tmp_path / "old"
    instance.mkdir()
    old = Database(f"sqlite:///{instance / 'kb.sqlite3'}")
    migrate.upgrade(old, "0008")
    old.dispose()
    result = kb(instance, "migrate-db", "--to", "postgresql+psycopg://kb@127.0.0.1:1/kb")
    assert result.exit_code == 1 and "run: kb db upgrade (then migrate-db)" in result.output

    empty = tmp_path / "empty"
    empty.mkdir()
    result = kb(empty, "migrate-db", "--to", "postgresql+psycopg://kb@127.0.0.1:1/kb")
    assert result.exit_code == 1 and "has no kb schema" in result.output


@pytest.mark.slow
@needs_postgres
def test_migrate_db_refuses_a_database_with_other_tables(instance_dir: Path) -> None:
    with fresh_database() as url:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE invoices (id integer primary key)"))
        engine.dispose()
        result = kb(instance_dir, "migrate-db", "--to", url)
        assert result.exit_code == 1 and "has tables that are not kb's (invoices)" in result.output


@pytest.mark.slow
@needs_postgres
def test_a_copy_that_fails_leaves_the_target_empty_and_can_run_again(app: Flask, instance_dir: Path, make_user) -> None:
    """SQLite does not enforce a column's length and PostgreSQL does: the copy stops naming the table, writes
    nothing (one transaction), and once the row is fixed a second run into the same database succeeds."""
    owner = make_user("marketing")
    asset_id = publisher_for(app).create_asset(owner.id, fields(owner), text_upload("прайс")).asset_id
    db: Database = app.extensions["kb_db"]
    with db.transaction() as session:
        session.execute(text("UPDATE assets SET title = :t WHERE id = :id"), {"t": "Я" * 400, "id": asset_id})
    with fresh_database() as url:
        failed = kb(instance_dir, "migrate-db", "--to", url)
        assert failed.exit_code == 1 and "copying table assets failed" in failed.output, failed.output
        target = Database(url)
        try:
            with target.engine.connect() as connection:
                assert connection.execute(text("SELECT COUNT(*) FROM users")).scalar() == 0
            with db.transaction() as session:
                session.execute(text("UPDATE assets SET title = 'Прайс' WHERE id = :id"), {"id": asset_id})
            again = kb(instance_dir, "migrate-db", "--to", url)
            assert again.exit_code == 0, again.output
            assert _all_rows(target) == _all_rows(db)
        finally:
            target.dispose()
