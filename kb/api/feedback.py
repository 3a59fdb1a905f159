"""``/api/v1``: ratings, stale flags, review confirmation, notifications and the freshness queue as JSON."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import jsonify, request
from flask_login import current_user

from kb import feedback, freshness, notifications, reviews
from kb.api import bp
from kb.errors import N_, ValidationError
from kb.models import Role
from kb.web.access import requires
from kb.web.context import db_session, get_db
from kb.web.feedback_labels import notification_text, queue_reason_text
from kb.web.freshness import filters_from


def _body() -> dict[str, Any]:
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # absurdly nested JSON
        body = None
    if body is None and not request.get_data(cache=True):
        return {}
    if not isinstance(body, dict):
        raise ValidationError(N_("Send a JSON object."))
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(N_("%(name)s must be text."), field=name, name=name)
    return value


def _rating_json(asset_id: int) -> dict[str, Any]:
    session = db_session()
    session.expire_all()
    from kb import assets

    asset = assets.get_asset(session, asset_id, current_user)
    summary = feedback.rating_summary(session, asset, current_user.id)
    mine = summary.mine
    return {
        "asset_id": asset_id,
        "current_version": {"average": summary.current_average, "count": summary.current_count},
        "overall": {"average": summary.overall_average, "count": summary.overall_count},
        "mine": (
            {
                "stars": mine.stars,
                "comment": mine.comment,
                "version_id": mine.version_id,
                "updated_at": _iso(mine.updated_at),
            }
            if mine
            else None
        ),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@bp.put("/assets/<int:asset_id>/rating")
def put_rating(asset_id: int) -> Any:
    body = _body()
    if "stars" not in body:
        raise ValidationError(N_("Stars must be a whole number from 1 to 5."), field="stars")
    feedback.rate(get_db(), current_user.id, asset_id, body["stars"], _text(body, "comment"))
    return jsonify(_rating_json(asset_id))


@bp.delete("/assets/<int:asset_id>/rating")
def delete_rating(asset_id: int) -> Any:
    removed = feedback.remove_rating(get_db(), current_user.id, asset_id)
    return jsonify({**_rating_json(asset_id), "removed": removed})


def _flag_json(flag: feedback.FlagView) -> dict[str, Any]:
    return {
        "id": flag.id,
        "asset_id": flag.asset_id,
        "status": flag.status,
        "reason": flag.reasons[0],
        "reasons": flag.reasons,
        "comment": flag.comment,
        "page": flag.page,
        "version": flag.version,
        "raised_by": flag.raised_by,
        "reports": flag.reports,
        "created_at": _iso(flag.created_at),
        "updated_at": _iso(flag.updated_at),
        "closed_at": _iso(flag.closed_at),
        "closed_by": flag.closed_by,
        "close_note": flag.close_note,
        "resolved_by_version": flag.resolved_by_version,
    }


def _flags(asset_id: int) -> list[feedback.FlagView]:
    from kb import assets

    session = db_session()
    session.expire_all()
    assets.get_asset(session, asset_id, current_user)
    return feedback.list_flags(session, asset_id)


@bp.post("/assets/<int:asset_id>/flags")
def post_flag(asset_id: int) -> Any:
    body = _body()
    result = feedback.raise_flag(
        get_db(), current_user.id, asset_id, body.get("reason"), _text(body, "comment"), body.get("page")
    )
    flag = next(f for f in _flags(asset_id) if f.id == result.flag_id)
    return jsonify({**_flag_json(flag), "joined": result.joined}), 200 if result.joined else 201


@bp.get("/assets/<int:asset_id>/flags")
def get_flags(asset_id: int) -> Any:
    status = request.args.get("status")
    flags = _flags(asset_id)
    if status:
        if status not in ("open", "resolved", "dismissed"):
            raise ValidationError(N_("Unknown status %(status)s."), field="status", status=status[:20])
        flags = [f for f in flags if f.status == status]
    return jsonify(
        {"asset_id": asset_id, "open": sum(f.status == "open" for f in flags), "flags": [_flag_json(f) for f in flags]}
    )


def _closed_flag(flag_id: int) -> Any:
    from kb.models import StaleFlag

    session = db_session()
    session.expire_all()
    flag = session.get(StaleFlag, flag_id)
    assert flag is not None
    view = next(f for f in feedback.list_flags(session, flag.asset_id) if f.id == flag_id)
    return jsonify(_flag_json(view))


@bp.post("/flags/<int:flag_id>/dismiss")
@requires(Role.MARKETING)
def dismiss_flag(flag_id: int) -> Any:
    feedback.dismiss_flag(get_db(), current_user.id, flag_id, _text(_body(), "note"))
    return _closed_flag(flag_id)


@bp.post("/flags/<int:flag_id>/resolve")
@requires(Role.MARKETING)
def resolve_flag(flag_id: int) -> Any:
    feedback.resolve_flag(get_db(), current_user.id, flag_id, _text(_body(), "note"))
    return _closed_flag(flag_id)


@bp.post("/assets/<int:asset_id>/confirm")
@requires(Role.MARKETING)
def confirm(asset_id: int) -> Any:
    next_review = reviews.confirm_current(get_db(), current_user.id, asset_id)
    return jsonify({"asset_id": asset_id, "next_review_on": next_review.isoformat()})


@bp.put("/assets/<int:asset_id>/follow")
def follow(asset_id: int) -> Any:
    notifications.follow(get_db(), current_user.id, asset_id, True)
    return jsonify({"asset_id": asset_id, "following": True})


@bp.delete("/assets/<int:asset_id>/follow")
def unfollow(asset_id: int) -> Any:
    notifications.follow(get_db(), current_user.id, asset_id, False)
    return jsonify({"asset_id": asset_id, "following": False})


@bp.get("/notifications")
def list_notifications() -> Any:
    from kb.api.assets import MAX_PER_PAGE, _int

    per_page = min(_int("per_page", request.args.get("per_page"), default=50) or 50, MAX_PER_PAGE)
    page = _int("page", request.args.get("page"), default=1) or 1
    session = db_session()
    items = notifications.list_for(session, current_user.id, limit=per_page, offset=(page - 1) * per_page)
    return jsonify(
        {
            "unread": notifications.unread_count(session, current_user.id),
            "page": page,
            "per_page": per_page,
            "items": [
                {
                    "id": n.id,
                    "kind": n.kind,
                    "text": notification_text(n),
                    "asset_id": n.asset_id,
                    "asset_title": n.asset_title,
                    "actor": n.actor,
                    "version": n.version,
                    "data": n.data,
                    "created_at": _iso(n.created_at),
                    "read": n.read,
                }
                for n in items
            ],
        }
    )


@bp.post("/notifications/read")
def read_notifications() -> Any:
    body = _body()
    ids = body.get("ids")
    if ids is not None and (
        not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    ):
        raise ValidationError(N_("ids must be a list of notification ids."), field="ids")
    changed = notifications.mark_read(get_db(), current_user.id, ids)
    return jsonify({"marked_read": changed})


@bp.get("/freshness/queue")
@requires(Role.MARKETING)
def freshness_queue() -> Any:
    result = freshness.queue(
        db_session(), date.today(), filters_from(request.args, current_user.id), viewer=current_user
    )
    return jsonify(
        {
            "total": result.total,
            "owners": [{"owner_id": i, "name": name, "count": count} for i, name, count in result.owners],
            "items": [
                {
                    "asset": {
                        "id": item.asset_id,
                        "title": item.title,
                        "kind": item.kind,
                        "product": item.product,
                        "owner_id": item.owner_id,
                        "owner": item.owner_name,
                        "version": item.version,
                        "next_review_on": item.next_review_on.isoformat(),
                        "freshness": item.freshness,
                    },
                    "score": item.score,
                    "reasons": [
                        {"code": r.code, "points": round(r.points, 2), "text": queue_reason_text(r), **r.params}
                        for r in item.reasons
                    ],
                    "open_flags": [
                        {
                            "id": f.id,
                            "reasons": list(f.reasons),
                            "raised_by": f.raised_by,
                            "raised_on": f.raised_on.isoformat(),
                        }
                        for f in item.flags
                    ],
                }
                for item in result.items
            ],
        }
    )
