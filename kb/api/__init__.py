"""The JSON API, version 1: the same domain calls as the pages, answered as JSON.

Authentication is the browser session (with a CSRF token for writes, in the ``X-CSRFToken`` header) or a
personal token in ``Authorization: Bearer ...``. Errors come as ``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from kb.api import assets, audiences, audit, feedback, me, openapi, reports, synonyms, vocabularies  # noqa: E402,F401  (modules register routes on bp)
