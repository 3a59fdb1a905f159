"""Signing in and out: Flask-Login over server-side sessions, bearer tokens for the API, the login page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from kb import accounts
from kb.errors import AuthenticationFailed, Throttled
from kb.models import Role, User
from kb.web.access import public
from kb.web.context import db_session, get_db
from kb.web.errors import json_error, wants_json
from kb.web.i18n import translate_error

bp = Blueprint("auth", __name__)
login_manager = LoginManager()


class Principal(UserMixin):
    """The signed-in person for this request: their user row, and how they signed in (session or token)."""

    def __init__(self, user: User, session_token: str | None) -> None:
        self.user = user
        self.session_token = session_token

    def __getattr__(self, name: str) -> Any:
        return getattr(self.user, name)

    def get_id(self) -> str | None:
        # Flask-Login keeps this in the cookie; it names a server-side session, not the user.
        return self.session_token

    @property
    def is_active(self) -> bool:
        return bool(self.user.active)

    @property
    def via_token(self) -> bool:
        return self.session_token is None

    def can(self, role: Role | str) -> bool:
        return Role(self.user.role).includes(Role(role))


@login_manager.user_loader
def _load_from_session(token: str) -> Principal | None:
    settings = current_app.config["KB_SETTINGS"]
    user = accounts.session_user(get_db(), db_session(), token, session_hours=settings.session_hours)
    return Principal(user, token) if user else None


def use_bearer_token() -> None:
    """An API call that sends ``Authorization`` is that token's user, whatever session cookie comes along.

    Runs before Flask-Login would look at the session; a bad token makes the call anonymous (401), never
    falls back to the cookie (a token call needs no CSRF token, so it must not borrow a session's rights).
    """
    if request.path.startswith("/api/") and request.headers.get("Authorization"):
        principal = _load_from_bearer(request)
        # Flask-Login keeps the request's user in g._login_user; setting it first skips the session lookup.
        g._login_user = principal if principal is not None else login_manager.anonymous_user()


def _load_from_bearer(req: Any) -> Principal | None:
    header = req.headers.get("Authorization", "")
    scheme, _sep, secret = header.partition(" ")
    user = None
    if scheme.lower() == "bearer":
        user = accounts.token_user(get_db(), db_session(), secret.strip())
    if user is None:
        g.kb_auth_error = _("The API token is invalid, revoked or belongs to a deactivated user.")
        return None
    return Principal(user, None)


@login_manager.unauthorized_handler
def _unauthorized() -> Any:
    if wants_json():
        message = g.get("kb_auth_error") or _("Sign in or send an API token (Authorization: Bearer ...).")
        response = json_error(401, "unauthorized", message)
        response.headers["WWW-Authenticate"] = 'Bearer realm="kb"'
        return response
    flash(_("Please sign in to continue."), "info")
    target = request.full_path if request.method == "GET" else request.path
    return redirect(url_for("auth.login", next=target.rstrip("?")))


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None: ``next=`` never leads to another origin."""
    if not target or len(target) > 2000 or any(c in target for c in "\\\r\n\t\x00"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=accounts.PASSWORD_MAX_LENGTH)])


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("main.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        settings = current_app.config["KB_SETTINGS"]
        try:
            result = accounts.sign_in(
                get_db(),
                form.email.data or "",
                form.password.data or "",
                ip_address=request.remote_addr or "unknown",
                user_agent=request.user_agent.string,
                session_hours=settings.session_hours,
            )
        except (AuthenticationFailed, Throttled) as exc:
            form.form_errors.append(translate_error(exc))
            status = exc.status
        else:
            language = session.get("lang")
            session.clear()  # a fresh session at sign-in: nothing from before carries over but the language
            if language:
                session["lang"] = language
            login_user(Principal(result.user, result.session_token))
            return redirect(next_url or url_for("main.home"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form, next_url=next_url), status


@bp.post("/logout")
def logout() -> Any:
    token = current_user.session_token
    logout_user()
    accounts.sign_out(get_db(), token)
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
