"""Serving the app with gunicorn, the production WSGI server, from the ``kb serve`` command."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class _Server(BaseApplication):
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def warm_up(app: Flask) -> None:
    """Does once, before the server processes are forked, what each would otherwise do on its first requests.

    Compiling the templates, reading the translation catalogs and the calendar data of each language cost a
    fresh process 0.1-0.3 s on the first request of each page; the forked processes inherit all of it."""
    from datetime import date, datetime

    from flask_babel import force_locale, format_date, format_datetime, gettext
    from sqlalchemy.orm import configure_mappers

    from kb.models import LANGUAGES, utcnow

    configure_mappers()  # SQLAlchemy's first query in each process would do it
    for name in app.jinja_env.list_templates():
        if name.endswith(".html"):
            app.jinja_env.get_template(name)
    with app.test_request_context("/"):
        for language in LANGUAGES:
            with force_locale(language):
                gettext("Sign in")
                format_date(date.today())
                format_datetime(datetime.now(tz=utcnow().tzinfo))


def _post_fork(_server: Any, worker: Any) -> None:
    # Connections must not cross a fork: each worker starts with an empty pool.
    app = worker.app.application
    app.extensions["kb_db"].engine.dispose(close=False)
    warm_search(app)


def _worker_exit(_server: Any, worker: Any) -> None:
    # The search events this process gathered are written before it goes (kb.search_log).
    worker.app.application.extensions["kb_search_log"].close()


def warm_search(app: Flask) -> None:
    """Opens the search index in this server process and runs one search before it answers anyone: the first
    search of a fresh process took 2.4 s at 10,000 assets. A missing or broken index only logs: search says so
    when asked."""
    from kb import search

    try:
        with app.app_context(), app.extensions["kb_db"].session() as session:
            search.warm(search.backend_of(app.config["KB_SETTINGS"]), session)
    except Exception:
        app.logger.warning("could not read the search index ahead of the first search", exc_info=True)


def run(app: Flask, *, host: str, port: int, workers: int) -> None:
    warm_up(app)
    _Server(
        app,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "sync",
            "timeout": 120,
            "graceful_timeout": 20,
            "accesslog": "-",
            "errorlog": "-",
            "post_fork": _post_fork,
            "worker_exit": _worker_exit,
            "limit_request_line": 16384,
        },
    ).run()
