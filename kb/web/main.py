"""The home page, the health check and the language switch."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import text

from kb import accounts, assets
from kb.errors import N_, ValidationError
from kb.models import LANGUAGES
from kb.web.access import public
from kb.web.auth import safe_next
from kb.web.context import db_session, get_db
from kb.web.i18n import SESSION_KEY

bp = Blueprint("main", __name__)


@bp.get("/")
def home() -> Any:
    role = current_user.role
    return render_template(
        "home.html",
        recent=assets.recent_assets(db_session(), role),
        counts=assets.status_counts(db_session(), role),
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
