"""Signing in and out: Flask-Login over server-side sessions, bearer tokens for the API, the login page, and the
"forgot password" pages (asking for a link by e-mail, and the link's page that sets a new password)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeTimedSerializer
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from kb import accounts, directory_accounts, password_reset
from kb.errors import (
    AuthenticationFailed,
    Conflict,
    DirectoryUnavailable,
    DomainError,
    Forbidden,
    Gone,
    NotFound,
    Throttled,
)
from kb.models import Role, User
from kb.web.access import public
from kb.web.context import db_session, get_db, get_directory
from kb.web.errors import json_error, wants_json
from kb.web.forms import attach_error
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
    # A text field, not an e-mail one: with a company directory, people may sign in with their user name.
    email = StringField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=accounts.PASSWORD_MAX_LENGTH)])


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("main.home"))
    form = LoginForm()
    directory = get_directory()
    if directory is not None:
        form.email.label.text = _("E-mail or user name")
    status = 200
    if g.get("kb_sso_error"):  # the proxy named someone kb does not let in; the form is still there for others
        form.form_errors.append(g.kb_sso_error)
        status = g.get("kb_sso_status", 403)
    if form.validate_on_submit():
        settings = current_app.config["KB_SETTINGS"]
        login_name = form.email.data or ""
        known = trusted_emails()
        arguments = {
            "ip_address": request.remote_addr or "unknown",
            "user_agent": request.user_agent.string,
            "session_hours": settings.session_hours,
            "trusted_device": accounts.normalize_email(login_name) in known,
        }
        try:
            # A local account (the break-glass admin) signs in with its kb password, directory or not; anyone
            # else with the directory when there is one.
            if directory is not None and not accounts.is_local_account(db_session(), login_name):
                result = directory_accounts.sign_in(
                    get_db(), directory, login_name, form.password.data or "", **arguments
                )
            else:
                result = accounts.sign_in(get_db(), login_name, form.password.data or "", **arguments)
        except (AuthenticationFailed, Throttled, Forbidden, Conflict, DirectoryUnavailable) as exc:
            form.form_errors = [translate_error(exc)]
            status = exc.status
        else:
            _fresh_browser_session()  # nothing from before the sign-in carries over but the language
            login_user(Principal(result.user, result.session_token))
            response = redirect(next_url or url_for("main.home"))
            remember_device(response, accounts.normalize_email(login_name), known)
            return response
    elif request.method == "POST":
        status = 400
    return (
        render_template(
            "auth/login.html", form=form, next_url=next_url, directory=directory is not None, **_reset_context()
        ),
        status,
    )


#: A browser that has signed in keeps a signed list of the e-mails it signed in with: sign-ins for them from it are
#: not held back by the throttle on its address (OWASP's "device cookies"), so one guesser behind an office's
#: shared address does not lock the office out.
DEVICE_COOKIE = "kb_device"
DEVICE_DAYS = 365
DEVICE_EMAILS = 5


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="kb-trusted-device")


def trusted_emails() -> list[str]:
    """The e-mails this browser signed in with (a valid, unexpired device cookie), most recent first."""
    value = request.cookies.get(DEVICE_COOKIE)
    if not value:
        return []
    try:
        emails = _device_serializer().loads(value, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return []
    return [e for e in emails if isinstance(e, str)][:DEVICE_EMAILS] if isinstance(emails, list) else []


def remember_device(response: Response, email: str, known: list[str]) -> None:
    emails = [email, *(e for e in known if e != email)][:DEVICE_EMAILS]
    response.set_cookie(
        DEVICE_COOKIE,
        _device_serializer().dumps(emails),
        max_age=DEVICE_DAYS * 86400,
        httponly=True,
        samesite="Lax",
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
    )


def _fresh_browser_session() -> None:
    """Empties the browser's session cookie but for the chosen language."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language


def _sign_out_here() -> None:
    """Ends this browser's sign-in, on the server too, if it has one."""
    token = current_user.session_token if current_user.is_authenticated else None
    logout_user()
    if token:
        accounts.sign_out(get_db(), token)
    _fresh_browser_session()


@bp.post("/logout")
def logout() -> Any:
    _sign_out_here()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


# --- forgotten passwords ---------------------------------------------------------------------------------------


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=accounts.PASSWORD_MIN_LENGTH, max=accounts.PASSWORD_MAX_LENGTH)],
    )
    confirm = PasswordField(
        _l("New password again"), validators=[DataRequired(), EqualTo("new_password", _l("The passwords differ."))]
    )


def _reset_context() -> dict[str, Any]:
    """Whether people can reset their own password here (only when kb can send e-mail), and for how long a link
    works."""
    settings = current_app.config["KB_SETTINGS"]
    return {"reset_by_email": settings.smtp is not None, "reset_hours": settings.password_reset_hours}


def _private(page: Any, status: int) -> Any:
    """A page that shows or follows a reset link: never cached, and the link never sent on as a Referer."""
    response = current_app.make_response((page, status))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
def forgot_password() -> Any:
    context = _reset_context()
    if not context["reset_by_email"]:
        # No e-mail, no link: the page says whom to ask instead (404: there is no self-service reset here).
        return render_template("auth/forgot_password.html", form=None, **context), 404
    form = ForgotPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            password_reset.request_link(
                get_db(),
                form.email.data or "",
                ip_address=request.remote_addr or "unknown",
                hours=context["reset_hours"],
                language=str(get_locale()),
            )
        except DomainError as exc:  # a malformed address, or too many requests: the same for any account
            attach_error(form, exc)
            status = exc.status
        else:
            # The same answer whether the e-mail names an account or not.
            return redirect(url_for("auth.reset_link_sent"), code=303)
    elif request.method == "POST":
        status = 400
    return render_template("auth/forgot_password.html", form=form, **context), status


@bp.get("/password/forgot/sent")
@public
def reset_link_sent() -> Any:
    context = _reset_context()
    if not context["reset_by_email"]:
        return render_template("auth/forgot_password.html", form=None, **context), 404
    return render_template("auth/reset_link_sent.html", **context)


@bp.route("/password/reset/<path:token>", methods=["GET", "POST"])
@public
def reset_password(token: str) -> Any:
    """The link's page: a form for the new password (opening it uses nothing up: mail scanners open links).

    Anything under the path is taken as a token, so that a link mangled in the mail still gets this page."""
    try:
        link = password_reset.check_link(db_session(), token)
    except (NotFound, Gone) as exc:
        return _dead_link(exc)
    form = ResetPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            password_reset.reset_password(get_db(), token, form.new_password.data or "")
        except (NotFound, Gone) as exc:  # used or ended a moment ago, in another tab
            return _dead_link(exc)
        except DomainError as exc:
            attach_error(form, exc)
            status = exc.status
        else:
            # Whoever was signed in in this browser is not any more: the new password is for the link's person.
            _sign_out_here()
            flash(_("Your new password is set and you have been signed out everywhere. Sign in with it."), "success")
            return redirect(url_for("auth.login"), code=303)
    elif request.method == "POST":
        status = 400
    return _private(render_template("auth/reset_password.html", form=form, link=link, **_reset_context()), status)


def _dead_link(error: DomainError) -> Any:
    page = render_template("auth/reset_link_dead.html", message=translate_error(error), **_reset_context())
    return _private(page, error.status)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
