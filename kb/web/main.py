"""The home page, the health check and the language switch."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import text

from kb import accounts, assets
from kb import home as home_pages
from kb.errors import N_, ValidationError
from kb.models import LANGUAGES, Role, utcnow
from kb.web.access import public
from kb.web.auth import safe_next
from kb.web.context import db_session, get_db
from kb.web.i18n import SESSION_KEY

bp = Blueprint("main", __name__)


@bp.get("/")
def home() -> Any:
    """Everyone's home: their own work first (by role), then what changed in the library lately."""
    session = db_session()
    user = current_user.user
    today = date.today()
    marketing = current_user.can(Role.MARKETING)
    return render_template(
        "home.html",
        recent=assets.recent_assets(session, user),
        counts=assets.status_counts(session, user),
        work=home_pages.marketing_home(session, user, today) if marketing else None,
        mine=None if marketing else home_pages.sales_home(session, user, today, utcnow()),
    )


@bp.get("/healthz")
@public
def health() -> Any:
    """For load balancers and monitoring: 200 when the database answers, 503 when it does not."""
    try:
        db_session().execute(text("SELECT 1"))
    except Exception:
        return jsonify({"status": "error", "database": "unavailable"}), 503
    return jsonify({"status": "ok", "database": "ok"})


@bp.post("/language")
@public
def set_language() -> Any:
    language = request.form.get("language", "")
    if language not in LANGUAGES:
        raise ValidationError(N_("Unknown language %(language)s."), field="language", language=language[:20])
    session[SESSION_KEY] = language
    if current_user.is_authenticated:
        accounts.update_profile(get_db(), current_user.id, language=language)
    return redirect(safe_next(request.form.get("next")) or url_for("main.home"))
