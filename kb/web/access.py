"""Who may reach which route, decided in one place before any view runs.

Every view needs a signed-in user unless it is marked ``@public``; ``@requires(Role.MARKETING)`` or
``@requires(Role.ADMIN)`` raise the bar. Because the rule is applied to every request here rather than by
decorators that wrap each view, a new route is closed to anonymous users by default. Unsafe methods (POST, PUT,
PATCH, DELETE) also need a CSRF token, except API calls authenticated by a bearer token, which no browser sends
on its own. A person signed in with a temporary password reaches only the page where they choose their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect

from kb.models import Role
from kb.web.templating import role_label

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC = "public"
ACCESS_ATTRIBUTE = "kb_access"
csrf = CSRFProtect()
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def public(view: F) -> F:
    """Marks a view as open to anonymous users (sign-in page, health check)."""
    setattr(view, ACCESS_ATTRIBUTE, PUBLIC)
    return view


def requires(role: Role) -> Callable[[F], F]:
    """Marks a view as needing at least ``role`` (admin includes marketing, marketing includes sales)."""

    def mark(view: F) -> F:
        setattr(view, ACCESS_ATTRIBUTE, role)
        return view

    return mark


def access_of(view: Callable[..., Any] | None) -> str | Role:
    """The access a view declares: PUBLIC, or the least role it needs (sales when it says nothing)."""
    return getattr(view, ACCESS_ATTRIBUTE, Role.SALES)


def _enforce() -> Any:
    from kb.web.auth import use_bearer_token  # here, not at the top: kb.web.auth imports this module

    use_bearer_token()
    if request.endpoint is None:  # 404 and 405 answer on their own
        return None
    if request.endpoint == "static":
        return None
    access = access_of(current_app.view_functions.get(request.endpoint))
    if access != PUBLIC:
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
        if not current_user.can(access):
            abort(
                403,
                description=_(
                    "This needs the %(needed)s role; your account has the %(have)s role. "
                    "Ask an administrator if you need more access.",
                    needed=role_label(access),
                    have=role_label(current_user.role),
                ),
            )
    if request.method in UNSAFE_METHODS and not (current_user.is_authenticated and current_user.via_token):
        csrf.protect()
    if access != PUBLIC and _must_change_password():
        return _to_password_change()
    return None


#: What a person with a temporary password may still open: the page to choose their own, and signing out.
_WHILE_PASSWORD_IS_TEMPORARY = frozenset({"profile.show", "profile.change_password", "auth.logout"})


def _must_change_password() -> bool:
    return bool(
        current_user.is_authenticated
        and not current_user.via_token
        and current_user.must_change_password
        and request.endpoint not in _WHILE_PASSWORD_IS_TEMPORARY
    )


def _to_password_change() -> Any:
    message = _("Your password was set by an administrator. Choose your own password to continue.")
    if request.path.startswith("/api/"):
        abort(403, description=message)
    flash(message, "warning")
    return redirect(url_for("profile.show", _anchor="password"), code=303)


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.before_request(_enforce)
