"""The vocabularies page (``/admin/vocabularies``, admins): the product and region lists publishing offers."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from kb import vocabularies
from kb.errors import N_, DomainError, NotFound, ValidationError
from kb.models import SEGMENTS, Role
from kb.web.access import requires
from kb.web.context import db_session, get_db
from kb.web.i18n import translate_error

bp = Blueprint("vocabularies", __name__, url_prefix="/admin/vocabularies")


def vocabulary_label(name: str) -> str:
    return {"product": _("Products"), "region": _("Regions")}.get(name, name)


def _page(status: int = 200, error: str | None = None, where: str = "", typed: str = "") -> Any:
    """The page; after a refused change, the message stands beside the form it concerns (``where``), with what
    was typed kept."""
    body = render_template(
        "admin/vocabularies.html",
        lists=vocabularies.lists(db_session(), with_counts=True),
        vocabulary_label=vocabulary_label,
        segments=SEGMENTS,
        error=error,
        where=where,
        typed=typed,
    )
    return body, status


def _back(name: str) -> Any:
    return redirect(url_for("vocabularies.index", _anchor=name))


def _refused(error: DomainError, name: str, where: str, typed: str = "") -> Any:
    if name not in vocabularies.NAMES:
        raise error  # no such page: the error page says so
    if isinstance(error, NotFound):  # the term went meanwhile: say it at the top of its list
        where = f"list-{name}"
    return _page(error.status, translate_error(error), where, typed)


def _term_id(field: str) -> int:
    value = request.form.get(field, "")
    if not value.isdigit() or len(value) > 18:
        raise ValidationError(N_("Choose a term from the list."), field=field)
    return int(value)


@bp.get("")
@requires(Role.ADMIN)
def index() -> Any:
    return _page()


@bp.post("/<name>")
@requires(Role.ADMIN)
def add(name: str) -> Any:
    value = request.form.get("value", "")
    try:
        term = vocabularies.add(get_db(), name, value)
    except DomainError as error:
        return _refused(error, name, f"add-{name}", value)
    flash(_("“%(value)s” is added to the list.", value=term.value), "success")
    return _back(name)


@bp.post("/<name>/closed")
@requires(Role.ADMIN)
def set_closed(name: str) -> Any:
    closed = request.form.get("closed") == "1"
    try:
        vocabularies.set_closed(get_db(), name, closed)
    except DomainError as error:
        return _refused(error, name, f"closed-{name}")
    if closed:
        flash(_("Saved: publishing now accepts only values from this list."), "success")
    else:
        flash(_("Saved: marketing may add new values when publishing."), "success")
    return _back(name)


@bp.post("/<name>/<int:term_id>/rename")
@requires(Role.ADMIN)
def rename(name: str, term_id: int) -> Any:
    value = request.form.get("value", "")
    try:
        change = vocabularies.rename(get_db(), name, term_id, value)
    except DomainError as error:
        return _refused(error, name, f"term-{term_id}", value)
    flash(
        ngettext(
            "Renamed to “%(value)s”; %(num)d asset changed with it.",
            "Renamed to “%(value)s”; %(num)d assets changed with it.",
            change.assets,
            value=change.value,
        ),
        "success",
    )
    return _back(name)


@bp.post("/<name>/merge")
@requires(Role.ADMIN)
def merge(name: str) -> Any:
    try:
        change = vocabularies.merge(get_db(), name, _term_id("source_id"), _term_id("target_id"))
    except DomainError as error:
        return _refused(error, name, f"merge-{name}")
    flash(
        ngettext(
            "Merged into “%(value)s”; %(num)d asset moved to it.",
            "Merged into “%(value)s”; %(num)d assets moved to it.",
            change.assets,
            value=change.value,
        ),
        "success",
    )
    return _back(name)


@bp.post("/<name>/<int:term_id>/delete")
@requires(Role.ADMIN)
def delete(name: str, term_id: int) -> Any:
    try:
        value = vocabularies.delete(get_db(), name, term_id)
    except DomainError as error:
        return _refused(error, name, f"term-{term_id}")
    flash(_("“%(value)s” is deleted from the list.", value=value), "success")
    return _back(name)
