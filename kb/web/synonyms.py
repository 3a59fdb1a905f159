"""The synonyms page (``/synonyms``): marketing keeps the groups of words search treats as one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from kb import synonyms
from kb.errors import DomainError
from kb.models import Role
from kb.web.access import requires
from kb.web.context import db_session, get_db
from kb.web.downloads import csv_delimiter, csv_response, excel_delimiter
from kb.web.i18n import translate_error

bp = Blueprint("synonyms", __name__, url_prefix="/synonyms")


def _page(error: str | None = None, status: int = 200, **form: Any) -> Any:
    """The page; after a refused change, with the message beside the form and what was typed kept."""
    body = render_template(
        "synonyms.html",
        groups=synonyms.groups(db_session()),
        error=error,
        form=form,
        new_terms=form.get("terms", request.args.get("add", "")),
        editing=form.get("group_id"),
    )
    return body, status


def _entries(text: str) -> list[str]:
    return [line for line in (text or "").replace(",", "\n").replace(";", "\n").splitlines()]


@bp.get("")
@requires(Role.MARKETING)
def index() -> Any:
    return _page()


@bp.post("")
@requires(Role.MARKETING)
def add() -> Any:
    terms, note = request.form.get("terms", ""), request.form.get("note", "")
    try:
        synonyms.add(get_db(), current_user.id, _entries(terms), note)
    except DomainError as error:
        return _page(translate_error(error), error.status, terms=terms, note=note)
    flash(_("Saved. The next search uses it."), "success")
    return redirect(url_for("synonyms.index"))


@bp.post("/<int:group_id>")
@requires(Role.MARKETING)
def update(group_id: int) -> Any:
    terms, note = request.form.get("terms", ""), request.form.get("note", "")
    try:
        if request.form.get("delete"):
            synonyms.delete(get_db(), current_user.id, group_id)
        else:
            synonyms.update(get_db(), current_user.id, group_id, _entries(terms), note)
    except DomainError as error:
        return _page(translate_error(error), error.status, group_id=group_id, terms=terms, note=note)
    flash(_("Saved. The next search uses it."), "success")
    return redirect(url_for("synonyms.index"))


@bp.post("/import")
@requires(Role.MARKETING)
def import_csv() -> Any:
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise synonyms.ValidationError(synonyms.N_("Choose a CSV file."), field="file")
        rows = synonyms.parse_csv(upload.read(synonyms.MAX_IMPORT_BYTES + 1))
        added = synonyms.import_groups(get_db(), current_user.id, rows, replace=request.form.get("replace") == "1")
    except DomainError as error:
        return _page(translate_error(error), error.status)
    flash(ngettext("Imported %(num)d new group.", "Imported %(num)d new groups.", added), "success")
    return redirect(url_for("synonyms.index"))


@bp.get("/export.csv")
@requires(Role.MARKETING)
def export_csv() -> Any:
    delimiter = csv_delimiter(request.args, excel_delimiter())  # opens in columns with a double click
    return csv_response(synonyms.export_csv(db_session(), delimiter), synonyms.EXPORT_NAME)
