"""WSGI entry point for any WSGI server: ``gunicorn wsgi:app``. A bad setting stops start-up with one line."""

import sys

from kb import create_app
from kb.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    sys.exit(f"kb: {exc}")
