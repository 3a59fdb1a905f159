"""Error answers: pages in the site's layout for people, ``{"error": {"code", "message"}}`` for the API.

A domain error becomes its own status and message; any other failure becomes a plain 500 that shows no
internals (the traceback goes to the log).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from kb.errors import Archived, DomainError
from kb.web.i18n import translate_error

API_PREFIX = "/api/"


def wants_json() -> bool:
    return request.path.startswith(API_PREFIX)


def json_error(status: int, code: str, message: str, **extra: Any) -> Response:
    response = jsonify({"error": {"code": code, "message": message, **extra}})
    response.status_code = status
    return response


def _titles() -> dict[int, str]:
    return {
        400: _("Bad request"),
        401: _("Sign-in required"),
        403: _("Not allowed"),
        404: _("Not found"),
        405: _("Method not allowed"),
        409: _("Cannot be done"),
        413: _("File too large"),
        429: _("Too many requests"),
        500: _("Something went wrong"),
        503: _("Busy for a moment"),
    }


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood."),
        403: _("You do not have permission to do this."),
        404: _("There is nothing at this address. Check the link, or search for what you need."),
        405: _("This address does not accept that kind of request."),
        413: _("The upload is larger than the limit of %(mb)s MB.", mb=_upload_limit_mb()),
        429: _("Too many requests. Wait a little and try again."),
        500: _("An unexpected error happened on our side. It has been logged; please try again later."),
        503: _(
            "kb is busy right now and could not save or read this. Nothing was changed: try again in a few seconds."
        ),
    }


def _upload_limit_mb() -> int:
    from flask import current_app

    return current_app.config["KB_SETTINGS"].max_upload_mb


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    429: "too_many_requests",
    500: "internal_error",
    503: "busy",
}
#: Seconds a client is asked to wait after a 503 (``Retry-After``).
RETRY_AFTER_S = 5
#: PostgreSQL errors that mean "busy now, fine later": lock not available, serialization failure, deadlock,
#: statement cancelled (a timeout), too many connections, cannot connect now.
_BUSY_PGCODES = {"55P03", "40001", "40P01", "57014", "53300", "57P03"}


def error_response(status: int, message: str | None = None, code: str | None = None, field: str | None = None) -> Any:
    code = code or _CODES.get(status, "error")
    default = _messages().get(status) or _titles().get(status, "")
    if wants_json():
        return json_error(status, code, message or default, **({"field": field} if field else {}))
    title = _titles().get(status, str(status))
    return render_template("error.html", status=status, title=title, message=message or default), status


def _own_description(exc: HTTPException) -> str | None:
    """The description a view gave to ``abort``, not Werkzeug's generic English text."""
    default = type(exc).description
    return exc.description if exc.description and exc.description != default else None


def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    response = error_response(status, _own_description(exc))
    if exc.code == 405 and exc.valid_methods:
        if isinstance(response, tuple):
            response = (response[0], status, {"Allow": ", ".join(exc.valid_methods)})
        else:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _csrf_error(_exc: CSRFError) -> Any:
    return error_response(
        400,
        _("The form was missing its security token or it had expired. Reload the page and try again."),
        code="csrf_failed",
    )


def _domain_error(exc: DomainError) -> Any:
    if isinstance(exc, Archived):
        return _archived(exc)
    return error_response(exc.status, translate_error(exc), code=exc.code, field=exc.field)


def _archived(exc: Archived) -> Any:
    """410 for an archived asset: when it was archived and, when marketing named one, what replaced it."""
    replacement = None
    if exc.replaced_by is not None:
        number, title = exc.replaced_by
        replacement = {"id": number, "title": title, "url": url_for("assets.show", asset_id=number)}
    if wants_json():
        return json_error(
            exc.status, exc.code, translate_error(exc), archived_on=exc.archived_on.isoformat(), replaced_by=replacement
        )
    return render_template(
        "assets/archived.html", title=exc.title, archived_on=exc.archived_on, replacement=replacement
    ), exc.status


def is_busy(exc: OperationalError) -> bool:
    """Whether a database error means "busy or briefly unavailable" rather than a bug: SQLite's lock held past
    the busy timeout, PostgreSQL's lock and serialization failures, a database that does not answer."""
    if exc.connection_invalidated:
        return True
    original = exc.orig
    pgcode = getattr(original, "pgcode", None) or getattr(original, "sqlstate", None)
    if pgcode in _BUSY_PGCODES:
        return True
    text = str(original).lower()
    return any(word in text for word in ("database is locked", "database is busy", "could not connect", "timeout"))


def _database_error(exc: OperationalError) -> Any:
    """503 with Retry-After when the database is busy (the transaction was rolled back: nothing half-written);
    any other database error is a bug, a 500."""
    if not is_busy(exc):
        current_app.logger.exception("database error", exc_info=exc)
        return _internal_error(exc)
    current_app.logger.warning("database busy: %s", exc.orig)
    try:
        response = error_response(503)
    except Exception:  # the layout could not read the database either: answer without it
        response = Response(
            "503 Service Unavailable: kb is busy, try again in a few seconds.", 503, mimetype="text/plain"
        )
    if isinstance(response, tuple):
        return response[0], 503, {"Retry-After": str(RETRY_AFTER_S)}
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _internal_error(_exc: Exception) -> Any:
    # Flask has already logged the traceback; the person gets a page that shows none of it.
    try:
        return error_response(500)
    except Exception:  # the layout itself failed (say, the database is down): answer without it
        return Response("500 Internal Server Error: please try again later.", 500, mimetype="text/plain")


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _internal_error)
    app.register_error_handler(OperationalError, _database_error)
