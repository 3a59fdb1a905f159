"""``/api/v1/vocabularies``: the product and region lists a value is checked against when publishing."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from kb import vocabularies
from kb.api import bp
from kb.web.context import db_session


@bp.get("/vocabularies")
def list_vocabularies() -> Any:
    """Each vocabulary's terms, as assets spell them, and whether it is closed to new values."""
    found = vocabularies.lists(db_session())
    return jsonify(
        {
            "vocabularies": [
                {"name": name, "closed": vocabulary.closed, "terms": vocabulary.values}
                for name, vocabulary in found.items()
            ]
        }
    )
