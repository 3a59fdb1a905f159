"""kb: the sales-enablement knowledge base. ``create_app`` builds the Flask application; nothing else lives here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The application: settings (environment, then ``config`` on top), database, i18n, auth, blueprints.

    Raises ``kb.config.ConfigError`` with a one-line message when a setting is bad.
    """
    # Imported here, not at the top: ``kb.extraction``'s child processes import the kb package and should
    # not pay for Flask.
    from flask import Flask

    from kb.config import PROJECT_ROOT, load_settings

    settings = load_settings(config)
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(settings.instance_dir),
    )
    app.config.update(
        KB_SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        TESTING=settings.testing,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        # Form fields that are not files (Markdown written in the browser: up to 2 M characters of UTF-8).
        MAX_FORM_MEMORY_SIZE=8 * 1024 * 1024,
        SESSION_COOKIE_NAME="kb_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in kb.web.access, after authentication, for every unsafe method
        WTF_CSRF_TIME_LIMIT=None,  # tokens live as long as the session, which the server ends at sign-out
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Cyrillic stays readable in API answers
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if config:
        app.config.update({k: v for k, v in config.items() if not k.startswith("KB_")})

    from kb.web import init_app as init_web

    init_web(app)
    return app
