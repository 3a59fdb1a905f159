"""The audiences page (``/admin/audiences``, admins): named groups of people assets may be restricted to, and
their local members (directory members follow KB_LDAP_AUDIENCE_GROUPS and are shown, not edited, here)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from kb import audiences
from kb.errors import DomainError, NotFound
from kb.models import Role
from kb.web.access import requires
from kb.web.context import db_session, get_db
from kb.web.i18n import translate_error

bp = Blueprint("audiences", __name__, url_prefix="/admin/audiences")


def _page(status: int = 200, error: str | None = None, where: str = "", typed: dict[str, str] | None = None) -> Any:
    """The page; after a refused change, the message stands beside the form it concerns (``where``)."""
    session = db_session()
    found = audiences.summaries(session)
    return (
        render_template(
            "admin/audiences.html",
            audiences=found,
            members={a.id: audiences.members(session, a.id) for a in found},
            error=error,
            where=where,
            typed=typed or {},
        ),
        status,
    )


def _refused(error: DomainError, where: str, typed: dict[str, str] | None = None) -> Any:
    if isinstance(error, NotFound):
        raise error
    return _page(error.status, translate_error(error), where, typed)


@bp.get("")
@requires(Role.ADMIN)
def index() -> Any:
    return _page()


@bp.post("")
@requires(Role.ADMIN)
def create() -> Any:
    name = request.form.get("name", "")
    description = request.form.get("description", "")
    try:
        audience_id = audiences.create_audience(get_db(), name, description)
    except DomainError as exc:
        return _refused(exc, "create", {"name": name[:200], "description": description[:1000]})
    flash(_("The audience %(name)s is created. Add its members below.", name=" ".join(name.split())), "success")
    return redirect(url_for("audiences.index", _anchor=f"audience-{audience_id}"))


@bp.post("/<int:audience_id>/members")
@requires(Role.ADMIN)
def add_member(audience_id: int) -> Any:
    email = request.form.get("email", "")
    try:
        user = audiences.add_member(get_db(), audience_id, email)
    except DomainError as exc:
        return _refused(exc, f"audience-{audience_id}", {"email": email[:254]})
    flash(_("%(email)s is now a member.", email=user.email), "success")
    return redirect(url_for("audiences.index", _anchor=f"audience-{audience_id}"))


@bp.post("/<int:audience_id>/members/<int:user_id>/remove")
@requires(Role.ADMIN)
def remove_member(audience_id: int, user_id: int) -> Any:
    if audiences.remove_member(get_db(), audience_id, user_id):
        flash(_("The member is removed."), "success")
    else:
        flash(_("That person was not a local member; a directory membership follows the directory."), "warning")
    return redirect(url_for("audiences.index", _anchor=f"audience-{audience_id}"))


@bp.post("/<int:audience_id>/delete")
@requires(Role.ADMIN)
def delete(audience_id: int) -> Any:
    changed = audiences.delete_audience(get_db(), audience_id)
    flash(
        ngettext(
            "The audience is deleted; %(num)d asset is no longer restricted to it.",
            "The audience is deleted; %(num)d assets are no longer restricted to it.",
            len(changed),
        ),
        "success",
    )
    return redirect(url_for("audiences.index"))
