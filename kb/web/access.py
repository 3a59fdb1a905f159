"""Who may reach which route, decided in one place before any view runs.

Every view needs a signed-in user unless it is marked ``@public``; ``@requires(Role.MARKETING)`` or
``@requires(Role.ADMIN)`` raise the bar. Because the rule is applied to every request here rather than by
decorators that wrap each view, a new route is closed to anonymous users by default. Unsafe methods (POST, PUT,
PATCH, DELETE) also need a CSRF token, except API calls authenticated by a bearer token, which no browser sends
on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, request
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
    return None


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.before_request(_enforce)
