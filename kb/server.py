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


def _post_fork(_server: Any, worker: Any) -> None:
    # Connections must not cross a fork: each worker starts with an empty pool.
    worker.app.application.extensions["kb_db"].engine.dispose(close=False)


def run(app: Flask, *, host: str, port: int, workers: int) -> None:
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
            "limit_request_line": 16384,
        },
    ).run()
