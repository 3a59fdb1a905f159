"""Per-process database and blob store, and the per-request read session, for the web layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, current_app, g, has_app_context
from sqlalchemy.orm import Session

from kb.blobs import BlobStore
from kb.db import Database
from kb.publishing import Publisher
from kb.search_log import SearchLog

if TYPE_CHECKING:
    from kb.directory import Directory


def init_app(app: Flask) -> None:
    settings = app.config["KB_SETTINGS"]
    db = Database(settings.database_url, email_enabled=settings.smtp is not None)
    db.after_commit(_end_read_transaction)
    app.extensions["kb_db"] = db
    app.extensions["kb_search_log"] = SearchLog(db, settings.usage_batch_seconds)
    app.extensions["kb_blobs"] = BlobStore(settings.blob_dir)
    app.extensions["kb_directory"] = None
    if settings.directory is not None:
        from kb.directory import Directory

        app.extensions["kb_directory"] = Directory(settings.directory)
    app.teardown_appcontext(_close_session)


def get_blobs() -> BlobStore:
    return current_app.extensions["kb_blobs"]


def get_publisher() -> Publisher:
    return Publisher(get_db(), get_blobs(), current_app.config["MAX_CONTENT_LENGTH"])


def get_search_log() -> SearchLog:
    return current_app.extensions["kb_search_log"]


def get_directory() -> Directory | None:
    """The company directory people sign in with, or None when kb has local accounts only."""
    return current_app.extensions["kb_directory"]


def get_db() -> Database:
    return current_app.extensions["kb_db"]


def db_session() -> Session:
    """The request's read session, opened on first use and closed when the request ends."""
    if "kb_session" not in g:
        g.kb_session = get_db().session()
    return g.kb_session


def _end_read_transaction() -> None:
    """After a write, the request's next read starts a new snapshot and sees it (SQLite WAL reads are snapshots)."""
    if has_app_context() and "kb_session" in g:
        g.kb_session.rollback()


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("kb_session", None)
    if session is not None:
        session.close()
