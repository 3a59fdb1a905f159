"""Security on every request: writes only from kb's own pages (Fetch Metadata and Origin, a second wall behind
the CSRF token and SameSite cookies), and headers on every answer: no MIME sniffing, no framing by other sites,
a strict content policy."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, request
from flask_babel import gettext as _

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: What a browser says of a request's origin (``Sec-Fetch-Site``) that may write: kb's own pages, or the person
#: typing an address or using a bookmark.
ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)


def _headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response


def _cross_site(headers: Any, host: str) -> bool:
    """Whether a browser says this request came from another site: ``Sec-Fetch-Site`` when it sends one, else
    ``Origin`` naming another host (the scheme may differ behind a TLS-terminating proxy)."""
    site = headers.get("Sec-Fetch-Site")
    if site is not None:
        return site.strip().lower() not in ALLOWED_FETCH_SITES
    origin = headers.get("Origin")
    if origin is None:
        return False  # not a browser, or an old one: the CSRF token still stands
    return origin.strip().lower() == "null" or urlsplit(origin.strip()).netloc.lower() != host.lower()


def _refuse_cross_site_writes() -> Any:
    if request.method not in UNSAFE_METHODS:
        return None
    if request.path.startswith("/api/") and request.headers.get("Authorization"):
        return None  # a program with a token: no cookies ride along, nothing to forge
    if not _cross_site(request.headers, request.host):
        return None
    from kb.web.errors import error_response

    return error_response(
        403, _("This request came from another site and was refused. Open kb itself and try again."), code="cross_site"
    )


def init_app(app: Flask) -> None:
    app.before_request(_refuse_cross_site_writes)
    app.after_request(_headers)
