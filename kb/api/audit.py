"""``/api/v1/audit``: the audit log for administrators, with the filters of the admin page, newest first."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request, url_for

from kb import audit
from kb.api import bp
from kb.errors import N_, ValidationError
from kb.models import AuditEvent, Role
from kb.web.access import requires
from kb.web.context import db_session

MAX_LIMIT = 500


def event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "action": event.action,
        "actor": {"id": event.actor_id, "email": event.actor_email},
        "channel": event.channel,
        "subject": event.subject,
        "asset_id": event.asset_id,
        "version_id": event.version_id,
        "user_id": event.user_id,
        "token_id": event.token_id,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
        "details": event.details or {},
    }


def _int_arg(name: str, default: int | None, maximum: int) -> int | None:
    value = (request.args.get(name) or "").strip()
    if not value:
        return default
    if not value.isdigit() or len(value) > 18 or not 1 <= int(value) <= maximum:
        raise ValidationError(N_("%(name)s must be a whole number from 1 to %(n)s."), field=name, name=name, n=maximum)
    return int(value)


@bp.get("/audit")
@requires(Role.ADMIN)
def audit_events() -> Any:
    """Admins: events matching ``person``, ``action``, ``since``, ``until`` (days in KB_TIMEZONE), ``asset``, ``ip``;
    ``limit`` of them (50, at most 500) older than the event ``before``."""
    filters = audit.parse_filters(request.args, current_app.config["KB_SETTINGS"].timezone)
    limit = _int_arg("limit", audit.PAGE_SIZE, MAX_LIMIT) or audit.PAGE_SIZE
    before = _int_arg("before", None, 2**63 - 1)
    session = db_session()
    found = audit.page(session, filters, before, limit)
    total = audit.count(session, filters)
    following = None
    if found.next_before is not None:
        following = url_for(
            "api.audit_events", before=found.next_before, limit=limit, **filters.as_args(), _external=False
        )
    return jsonify(
        {
            "total": min(total, audit.COUNT_CAP),
            "total_is_capped": total > audit.COUNT_CAP,
            "events": [event_json(event) for event in found.events],
            "next_before": found.next_before,
            "next": following,
        }
    )
