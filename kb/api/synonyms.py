"""``/api/v1/synonyms``: the synonym groups search applies (read by anyone signed in, kept by marketing)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_login import current_user

from kb import synonyms
from kb.api import bp
from kb.errors import N_, ValidationError
from kb.models import Role
from kb.web.access import requires
from kb.web.context import db_session, get_db
from kb.web.downloads import csv_delimiter, csv_response


def _group_json(group: synonyms.Group) -> dict[str, Any]:
    return {"id": group.id, "terms": group.entries, "note": group.note}


def _entries() -> tuple[list[str], str]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("terms"), list):
        raise ValidationError(N_("Send JSON with terms: a list of equivalent words or phrases."), field="terms")
    note = body.get("note") or ""
    return [str(t) for t in body["terms"] if isinstance(t, str | int)], str(note)


@bp.get("/synonyms")
def list_synonyms() -> Any:
    return jsonify({"groups": [_group_json(g) for g in synonyms.groups(db_session())]})


@bp.post("/synonyms")
@requires(Role.MARKETING)
def add_synonyms() -> Any:
    entries, note = _entries()
    group_id = synonyms.add(get_db(), current_user.id, entries, note)
    group = next(g for g in synonyms.groups(db_session()) if g.id == group_id)
    return jsonify(_group_json(group)), 201


@bp.put("/synonyms/<int:group_id>")
@requires(Role.MARKETING)
def update_synonyms(group_id: int) -> Any:
    entries, note = _entries()
    synonyms.update(get_db(), current_user.id, group_id, entries, note)
    group = next(g for g in synonyms.groups(db_session()) if g.id == group_id)
    return jsonify(_group_json(group))


@bp.delete("/synonyms/<int:group_id>")
@requires(Role.MARKETING)
def delete_synonyms(group_id: int) -> Any:
    synonyms.delete(get_db(), current_user.id, group_id)
    return jsonify({"id": group_id, "deleted": True})


@bp.get("/synonyms.csv")
def export_synonyms() -> Any:
    return csv_response(synonyms.export_csv(db_session(), csv_delimiter(request.args, ",")), synonyms.EXPORT_NAME)


@bp.post("/synonyms/import")
@requires(Role.MARKETING)
def import_synonyms() -> Any:
    rows = synonyms.parse_csv(request.get_data(cache=False)[: synonyms.MAX_IMPORT_BYTES + 1])
    added = synonyms.import_groups(get_db(), current_user.id, rows, replace=request.args.get("replace") == "1")
    return jsonify({"added": added, "groups": len(synonyms.groups(db_session()))})
