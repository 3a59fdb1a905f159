"""The freshness queue page: published assets that need marketing's attention, ranked, with actions in place."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, render_template, request
from flask_login import current_user
from sqlalchemy import select

from kb import freshness
from kb.audiences import visible_condition
from kb.feedback import REASONS
from kb.models import ASSET_KINDS, Asset, AssetStatus, Role, User
from kb.web.access import requires
from kb.web.context import db_session

bp = Blueprint("freshness", __name__, url_prefix="/freshness")
PER_PAGE = 50


def filters_from(args: Any, user_id: int) -> freshness.QueueFilters:
    """Queue filters from a query string; unknown values are ignored, as with search facets."""
    owner = args.get("owner", "")
    owner_id = user_id if owner == "me" else int(owner) if owner.isdigit() and len(owner) < 12 else None
    kind = args.get("kind") if args.get("kind") in ASSET_KINDS else None
    reason = args.get("reason") if args.get("reason") in (*REASONS, *freshness.SIGNAL_REASONS) else None
    product = (args.get("product") or "").strip()[:120] or None
    return freshness.QueueFilters(owner_id=owner_id, kind=kind, product=product, reason=reason)


@bp.get("")
@requires(Role.MARKETING)
def queue() -> Any:
    session = db_session()
    filters = filters_from(request.args, current_user.id)
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 10_000))
    result = freshness.queue(
        session, date.today(), filters, offset=(page - 1) * PER_PAGE, limit=PER_PAGE, viewer=current_user
    )
    products = sorted(
        p
        for p in session.scalars(
            select(Asset.product)
            .where(Asset.status == AssetStatus.PUBLISHED, visible_condition(current_user))
            .distinct()
        )
        if p
    )
    owners = session.execute(
        select(User.id, User.display_name)
        .where(User.role.in_([Role.MARKETING, Role.ADMIN]), User.active.is_(True))
        .order_by(User.display_name)
    ).all()
    return render_template(
        "freshness/queue.html",
        result=result,
        items=result.items,
        page=page,
        pages=max(1, -(-result.total // PER_PAGE)),
        filters=filters,
        owner_arg=request.args.get("owner", ""),
        kinds=ASSET_KINDS,
        products=products,
        owners=owners,
        flag_reasons=REASONS,
        signal_reasons=freshness.SIGNAL_REASONS,
        page_args={k: v for k, v in request.args.items() if k != "page" and v},
    )
