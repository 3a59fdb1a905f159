"""The JSON API, version 1: the same domain calls as the pages, answered as JSON.

Authentication is the browser session (with a CSRF token for writes, in the ``X-CSRFToken`` header) or a
personal token in ``Authorization: Bearer ...``. Errors come as ``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask_login import current_user

from kb.models import User

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "role": str(user.role),
        "preferred_language": user.preferred_language,
        "active": user.active,
    }


@bp.get("/me")
def me() -> Any:
    """The signed-in user, and how they signed in."""
    return jsonify({**user_json(current_user.user), "auth": "token" if current_user.via_token else "session"})
