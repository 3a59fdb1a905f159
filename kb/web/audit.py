"""The audit log in the web layer: who acts and from where in each request (bound for ``kb.audit``), and the admin
page ``/admin/audit`` with its filters, pages and CSV export."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, render_template, request, stream_with_context
from flask_babel import gettext as _

from kb import audit
from kb.errors import N_, ValidationError
from kb.models import Role
from kb.web.access import requires
from kb.web.context import db_session, get_db
from kb.web.downloads import csv_delimiter, excel_delimiter
from kb.web.i18n import translate_error

bp = Blueprint("audit", __name__, url_prefix="/admin")

# --- who and from where ----------------------------------------------------------------------------------------


def _signed_in() -> audit.ActorRef:
    """The person this request is signed in as, if the request has been authenticated already (never a database
    read: an event may be recorded inside a write transaction)."""
    principal = g.get("_login_user")  # where Flask-Login keeps the request's user once loaded
    if principal is None or not principal.is_authenticated:
        return None
    return principal.id, principal.email


def _bind_origin() -> None:
    channel = audit.Channel.API if request.path.startswith("/api/") else audit.Channel.WEB
    origin = audit.Origin(
        channel=channel,
        # Behind KB_TRUSTED_PROXIES, ProxyFix has put the client's address here.
        ip_address=request.remote_addr or "unknown",
        user_agent=request.user_agent.string[: audit.USER_AGENT_LENGTH],
        actor=_signed_in,
    )
    g.kb_audit_origin = audit.bind(origin)


def _unbind_origin(_exc: BaseException | None) -> None:
    token = g.pop("kb_audit_origin", None)
    if token is not None:
        audit.unbind(token)


def init_app(app: Flask) -> None:
    """Binds each request's origin; registered before sign-in hooks (single sign-on) so that they are covered."""
    app.before_request(_bind_origin)
    app.teardown_request(_unbind_origin)


# --- labels ----------------------------------------------------------------------------------------------------

_ACTION_LABELS = {
    audit.Action.SIGN_IN: N_("Signed in"),
    audit.Action.SIGN_IN_FAILED: N_("Sign-in failed"),
    audit.Action.DOWNLOAD: N_("Downloaded"),
    audit.Action.ASSET_CREATED: N_("Asset created"),
    audit.Action.VERSION_PUBLISHED: N_("New version published"),
    audit.Action.ASSET_PUBLISHED: N_("Asset published"),
    audit.Action.ASSET_ARCHIVED: N_("Asset archived"),
    audit.Action.AUDIENCE_CHANGED: N_("Audience changed"),
    audit.Action.USER_CREATED: N_("User created"),
    audit.Action.ROLE_CHANGED: N_("Role changed"),
    audit.Action.USER_ACTIVATED: N_("User activated"),
    audit.Action.USER_DEACTIVATED: N_("User deactivated"),
    audit.Action.PASSWORD_CHANGED: N_("Password changed"),
    audit.Action.TEMPORARY_PASSWORD_SET: N_("Temporary password set"),
    audit.Action.PASSWORD_RESET: N_("Password reset by e-mail link"),
    audit.Action.TOKEN_CREATED: N_("API token created"),
    audit.Action.TOKEN_REVOKED: N_("API token revoked"),
}
_REASON_LABELS = {
    audit.SignInFailure.WRONG_PASSWORD: N_("wrong password"),
    audit.SignInFailure.UNKNOWN_ACCOUNT: N_("unknown account"),
    audit.SignInFailure.THROTTLED: N_("too many attempts"),
    audit.SignInFailure.DEACTIVATED: N_("account deactivated"),
    audit.SignInFailure.DIRECTORY_DOWN: N_("directory unreachable"),
    audit.SignInFailure.DIRECTORY_REFUSED: N_("refused by the directory"),
    audit.SignInFailure.ACCOUNT_CONFLICT: N_("e-mail used by another account"),
}
_METHOD_LABELS = {
    audit.SignInMethod.LOCAL: N_("kb password"),
    audit.SignInMethod.DIRECTORY: N_("company directory"),
    audit.SignInMethod.SSO: N_("single sign-on"),
}
_CHANNEL_LABELS = {
    audit.Channel.WEB: N_("web"),
    audit.Channel.API: N_("API"),
    audit.Channel.CLI: N_("command line"),
    audit.Channel.SYSTEM: N_("kb itself"),
}


def action_label(action: str) -> str:
    return _(_ACTION_LABELS[action]) if action in _ACTION_LABELS else action  # type: ignore[index]


def channel_label(channel: str) -> str:
    return _(_CHANNEL_LABELS[channel]) if channel in _CHANNEL_LABELS else channel  # type: ignore[index]


def details_text(details: dict[str, Any] | None) -> str:
    """An event's details for people: how and why a sign-in went, then the rest as "name: value"."""
    if not details:
        return ""
    parts = []
    method, reason = details.get("method"), details.get("reason")
    if method in _METHOD_LABELS:
        parts.append(_(_METHOD_LABELS[method]))
    if reason in _REASON_LABELS:
        parts.append(_(_REASON_LABELS[reason]))
    parts += [f"{name}: {value}" for name, value in details.items() if name not in ("method", "reason")]
    return "; ".join(parts)


def _csv_labels() -> audit.Labels:
    headers = {
        "occurred_at": _("Time (UTC)"),
        "action": _("Action"),
        "actor_email": _("Who"),
        "actor_id": _("User id"),
        "channel": _("Channel"),
        "subject": _("Subject"),
        "asset_id": _("Asset"),
        "version_id": _("Version id"),
        "user_id": _("Subject user id"),
        "token_id": _("Token id"),
        "ip_address": _("IP address"),
        "user_agent": _("Browser or program"),
        "details": _("Details"),
    }
    return audit.Labels(headers=headers, action=action_label)


# --- the page ----------------------------------------------------------------------------------------------------


def request_filters() -> audit.Filters:
    """The filters of the query string, dates as days in the time zone pages show times in; a bad one is a 400."""
    return audit.parse_filters(request.args, current_app.config["KB_SETTINGS"].timezone)


def _before() -> int | None:
    value = (request.args.get("before") or "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        raise ValidationError(N_("The page link is damaged: open the first page again."), field="before")
    return int(value)


@bp.get("/audit")
@requires(Role.ADMIN)
def index() -> Any:
    session = db_session()
    status, error = 200, None
    try:
        filters = request_filters()
        found = audit.page(session, filters, _before())
        total = audit.count(session, filters)
    except ValidationError as exc:
        status, error = exc.status, exc
        filters, found, total = audit.Filters(), audit.Page(events=[], next_before=None), 0
    return (
        render_template(
            "admin/audit.html",
            filters=filters,
            args={name: request.args.get(name, "") for name in audit.FILTER_NAMES},
            error=translate_error(error) if error else None,
            error_field=error.field if error else None,
            page=found,
            total=total,
            cap=audit.COUNT_CAP,
            first_page=request.args.get("before") is None,
            actions=[(action.value, action_label(action)) for action in audit.Action],
            action_label=action_label,
            channel_label=channel_label,
            details_text=details_text,
        ),
        status,
    )


@bp.get("/audit.csv")
@requires(Role.ADMIN)
def export() -> Any:
    """The filtered events for a spreadsheet: the reader's words, UTF-8 with a byte-order mark, and the delimiter
    their Excel splits by on a double click (``?delimiter=`` chooses). Streamed: a year of events is large."""
    filters = request_filters()
    delimiter = csv_delimiter(request.args, excel_delimiter())
    labels = _csv_labels()
    db = get_db()

    def rows() -> Any:
        yield "\ufeff"
        with db.session() as session:
            yield from audit.csv_lines(audit.events(session, filters), labels, delimiter)

    filename = f"kb-audit-{date.today().isoformat()}.csv"
    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
