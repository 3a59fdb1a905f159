"""``/api/v1/me``: who is calling."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask_login import current_user

from kb.api import bp
from kb.api.serialize import user_json


@bp.get("/me")
def me() -> Any:
    """The signed-in user, and how they signed in."""
    return jsonify({**user_json(current_user.user), "auth": "token" if current_user.via_token else "session"})
