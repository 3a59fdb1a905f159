"""The import page (``/assets/import``): many files, a ZIP or a folder at once, published by ``kb.bulk_import``, and
its result: what was imported, skipped and refused, and why."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from kb import assets, audiences, bulk_import, vocabularies
from kb.bulk_import import ImportReport, Reason
from kb.errors import DomainError, ValidationError
from kb.extraction import ACCEPTED
from kb.models import Asset, Role
from kb.publishing import FileUpload
from kb.search.indexing import still_indexing
from kb.web.access import requires
from kb.web.asset_forms import ImportForm
from kb.web.context import db_session, get_publisher
from kb.web.forms import attach_error

bp = Blueprint("imports", __name__, url_prefix="/assets/import")


def reason_text(reason: Reason) -> str:
    """A reason in the reader's language, with the manifest line's own problem inside it."""
    params = dict(reason.params)
    if reason.cause is not None:
        params["problem"] = reason_text(reason.cause)
    return _(reason.message, **params)


def _form(*, sent: bool) -> ImportForm:
    """The form, empty with the signed-in person as owner, or filled from the request's fields and files."""
    session = db_session()
    choices = {
        "owners": assets.publishers(session),
        "vocabularies": vocabularies.lists(session),
        "audiences": audiences.all_audiences(session),
    }
    if sent:
        return ImportForm(**choices)
    form = ImportForm(formdata=None, **choices)
    form.owner_id.data = current_user.id
    return form


def _render_form(form: ImportForm, status: int = 200) -> Any:
    settings = current_app.config["KB_SETTINGS"]
    return (
        render_template(
            "assets/import.html",
            form=form,
            accepted=", ".join(t.label for t in ACCEPTED),
            limit_mb=settings.max_upload_mb,
            max_files=current_app.config.get("MAX_FORM_PARTS") or 1000,
        ),
        status,
    )


@bp.get("")
@requires(Role.MARKETING)
def new() -> Any:
    return _render_form(_form(sent=False))


@bp.post("")
@requires(Role.MARKETING)
def create() -> Any:
    form = _form(sent=True)
    uploads = [FileUpload(f.stream, f.filename) for f in request.files.getlist("files") if f and f.filename]
    valid = form.validate()
    if not uploads:
        form.files.errors = [*form.files.errors, _("Choose files, a ZIP or a folder to import.")]
    manifest = None
    sent_manifest = request.files.get("manifest")
    if sent_manifest is not None and sent_manifest.filename:
        try:
            manifest = bulk_import.parse_manifest(sent_manifest.read())
        except ValidationError as exc:
            attach_error(form, exc)
    if not valid or not uploads or form.manifest.errors:
        return _render_form(form, 400)
    publisher = get_publisher()
    with bulk_import.read_uploads(uploads, max_file_bytes=publisher.max_upload_bytes) as batch:
        try:
            report = bulk_import.run_import(publisher, current_user.id, batch, form.defaults(), manifest=manifest)
        except DomainError as exc:  # a default is wrong: nothing was read
            attach_error(form, exc)
            return _render_form(form, exc.status)
    return render_template(
        "assets/imported.html",
        report=report,
        titles=_titles(report),
        reason_text=reason_text,
        indexing=still_indexing(db_session()),
    )


def _titles(report: ImportReport) -> dict[int, str]:
    ids = [asset_id for _path, asset_id in report.imported if asset_id is not None]
    if not ids:
        return {}
    return {
        asset_id: title
        for asset_id, title in db_session().execute(select(Asset.id, Asset.title).where(Asset.id.in_(ids)))
    }
