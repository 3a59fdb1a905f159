"""``/api/v1/audiences``: the audiences an asset may be restricted to, for scripts that publish (marketing)."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from kb import audiences
from kb.api import bp
from kb.models import Role
from kb.web.access import requires
from kb.web.context import db_session


@bp.get("/audiences")
@requires(Role.MARKETING)
def list_audiences() -> Any:
    """Every audience with its id (what an asset's ``audiences`` field takes) and name."""
    found = audiences.all_audiences(db_session())
    return jsonify({"audiences": [{"id": a.id, "name": a.name, "description": a.description} for a in found]})
