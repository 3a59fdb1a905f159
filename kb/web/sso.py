"""Single sign-on through the reverse proxy: the person named in ``KB_SSO_HEADER`` is signed in, but only when the
request comes straight from one of ``KB_SSO_PROXIES``.

The proxy is recognized by the address of the connection itself, never by ``X-Forwarded-For`` (which anyone can
write); from any other address the header is ignored. The person is looked up once per browser session: while the
header names the person this browser was signed in for, nothing is asked again.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from flask import Flask, current_app, g, request, session
from flask_login import current_user, login_user

from kb import directory_accounts
from kb.errors import DirectoryUnavailable, DomainError
from kb.web.context import get_db, get_directory
from kb.web.i18n import translate_error

#: The browser session remembers which header value it was signed in for.
SESSION_KEY = "sso_user"


def peer_address() -> str:
    """The address of the connection to kb: the proxy's, even when ProxyFix has put the client's in
    ``remote_addr``."""
    original = request.environ.get("werkzeug.proxy_fix.orig") or {}
    return original.get("REMOTE_ADDR") or request.environ.get("REMOTE_ADDR") or ""


def from_trusted_proxy(proxies: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer_address())
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network) for network in proxies)


def _single_sign_on() -> Any:
    settings = current_app.config["KB_SETTINGS"].sso
    if settings is None or request.endpoint == "static":
        return None
    if request.path.startswith("/api/") and request.headers.get("Authorization"):
        return None  # a program with a token is that token's user
    value = (request.headers.get(settings.header) or "").strip()
    if not value or not from_trusted_proxy(settings.proxies):
        return None
    if current_user.is_authenticated and session.get(SESSION_KEY) == value:
        return None
    from kb.web.auth import Principal, _fresh_browser_session

    try:
        result = directory_accounts.sso_sign_in(
            get_db(),
            get_directory(),
            value,
            ip_address=request.remote_addr or "unknown",
            user_agent=request.user_agent.string,
            session_hours=current_app.config["KB_SETTINGS"].session_hours,
        )
    except DirectoryUnavailable as exc:
        if not current_user.is_authenticated:  # someone already signed in carries on; others see why not
            g.kb_sso_error, g.kb_sso_status = translate_error(exc), exc.status
        return None
    except DomainError as exc:
        g.kb_sso_error, g.kb_sso_status = translate_error(exc), 403
        return None
    _fresh_browser_session()
    login_user(Principal(result.user, result.session_token))
    session[SESSION_KEY] = value
    return None


def init_app(app: Flask) -> None:
    """Registers the hook; it must run before the access rules (``kb.web.access``) look at who is signed in."""
    app.before_request(_single_sign_on)
