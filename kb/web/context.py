"""Per-process database and per-request read session for the web layer."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from kb.db import Database


def init_app(app: Flask) -> None:
    app.extensions["kb_db"] = Database(app.config["KB_SETTINGS"].database_url)
    app.teardown_appcontext(_close_session)


def get_db() -> Database:
    return current_app.extensions["kb_db"]


def db_session() -> Session:
    """The request's read session, opened on first use and closed when the request ends."""
    if "kb_session" not in g:
        g.kb_session = get_db().session()
    return g.kb_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("kb_session", None)
    if session is not None:
        session.close()
