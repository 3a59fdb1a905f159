"""The notifications page: what the signed-in person should hear of, newest first; marking them read."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from kb import notifications
from kb.web.context import db_session, get_db

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
PER_PAGE = 50


@bp.get("")
def index() -> Any:
    """The notifications, newest first; those shown count as read from now on (the header's count clears),
    and are marked "new" on this page only."""
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 10_000))
    items = notifications.list_for(db_session(), current_user.id, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE)
    shown = items[:PER_PAGE]
    unread = [n.id for n in shown if not n.read]
    if unread and not current_user.via_token:
        notifications.mark_read(get_db(), current_user.id, unread)
    return render_template("notifications.html", items=shown, page=page, has_more=len(items) > PER_PAGE)


@bp.post("/read")
def mark_read() -> Any:
    raw = request.form.getlist("id")
    ids = [int(v) for v in raw if v.isdigit() and len(v) < 19] if raw else None
    notifications.mark_read(get_db(), current_user.id, ids)
    return redirect(url_for("notifications.index"))
