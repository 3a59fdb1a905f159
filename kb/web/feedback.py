"""Feedback on the asset page: rate, flag as outdated, follow; marketing confirms, dismisses, resolves, reassigns.

Each form posts here and comes back to the asset page (or to ``next``, a local path such as the freshness
queue). A rejected form renders the asset page again with the message beside the form and a 4xx status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session

from kb import feedback, notifications, reviews
from kb.errors import DomainError
from kb.models import Asset, Role
from kb.search.signals import freshness
from kb.web.access import requires
from kb.web.auth import safe_next
from kb.web.context import get_db, get_publisher
from kb.web.i18n import translate_error
from kb.web.templating import date_text

bp = Blueprint("feedback", __name__)


@dataclass(frozen=True)
class AssetFeedback:
    """What the asset page shows of ratings, flags, review history and following."""

    ratings: feedback.RatingSummary
    comments: list[feedback.RatingComment]
    flags: list[feedback.FlagView]
    open_flags: int
    freshness: str
    following: bool
    reviews: list[reviews.ReviewView]


def asset_feedback(session: Session, asset: Asset, user_id: int) -> AssetFeedback:
    from datetime import date

    flags = feedback.list_flags(session, asset.id)
    open_count = sum(1 for f in flags if f.status == "open")
    return AssetFeedback(
        ratings=feedback.rating_summary(session, asset, user_id),
        comments=feedback.rating_comments(session, asset.id),
        flags=flags,
        open_flags=open_count,
        freshness=freshness(asset.next_review_on, open_count, date.today()),
        following=notifications.is_following(session, user_id, asset.id),
        reviews=reviews.review_history(session, asset.id, limit=5),
    )


def _back(asset_id: int, anchor: str = "feedback") -> Any:
    target = safe_next(request.form.get("next"))
    if target:
        return redirect(target)
    return redirect(url_for("assets.show", asset_id=asset_id, _anchor=anchor))


def _again(asset_id: int, form: str, exc: DomainError) -> Any:
    from kb.web.assets import render_asset_page

    return render_asset_page(
        asset_id, status=exc.status, errors={form: translate_error(exc)}, values=request.form.to_dict()
    )


@bp.post("/assets/<int:asset_id>/rating")
def rate(asset_id: int) -> Any:
    try:
        if request.form.get("action") == "remove":
            feedback.remove_rating(get_db(), current_user.id, asset_id)
            flash(_("Your rating is removed."), "success")
        else:
            feedback.rate(get_db(), current_user.id, asset_id, request.form.get("stars"), request.form.get("comment"))
            flash(_("Thank you: your rating is saved."), "success")
    except DomainError as exc:
        if exc.status == 404:
            raise
        return _again(asset_id, "rating", exc)
    return _back(asset_id)


@bp.post("/assets/<int:asset_id>/flags")
def raise_flag(asset_id: int) -> Any:
    try:
        result = feedback.raise_flag(
            get_db(),
            current_user.id,
            asset_id,
            request.form.get("reason"),
            request.form.get("comment"),
            request.form.get("page"),
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        return _again(asset_id, "flag", exc)
    if result.joined:
        flash(_("Added to your open flag on this asset. Its owner has been told."), "success")
    else:
        flash(_("Flagged as outdated. The owner has been told; you will hear when it is fixed."), "success")
    return _back(asset_id)


@bp.post("/flags/<int:flag_id>/dismiss")
@requires(Role.MARKETING)
def dismiss(flag_id: int) -> Any:
    asset_id = _flag_asset(flag_id)
    try:
        feedback.dismiss_flag(get_db(), current_user.id, flag_id, request.form.get("note"))
    except DomainError as exc:
        if exc.status == 404:
            raise
        return _again(asset_id, f"dismiss-{flag_id}", exc)
    flash(_("The flag is dismissed; its author has been told why."), "success")
    return _back(asset_id)


@bp.post("/flags/<int:flag_id>/resolve")
@requires(Role.MARKETING)
def resolve(flag_id: int) -> Any:
    asset_id = _flag_asset(flag_id)
    try:
        feedback.resolve_flag(get_db(), current_user.id, flag_id, request.form.get("note"))
    except DomainError as exc:
        if exc.status == 404:
            raise
        return _again(asset_id, f"dismiss-{flag_id}", exc)
    flash(_("The flag is resolved; its author has been told."), "success")
    return _back(asset_id)


def _flag_asset(flag_id: int) -> int:
    from kb.audiences import may_see
    from kb.errors import N_, NotFound
    from kb.models import StaleFlag
    from kb.web.context import db_session

    session = db_session()
    flag = session.get(StaleFlag, flag_id)
    if flag is None or not may_see(session, current_user, flag.asset_id):
        raise NotFound(N_("No such flag."))
    return flag.asset_id


@bp.post("/assets/<int:asset_id>/confirm")
@requires(Role.MARKETING)
def confirm(asset_id: int) -> Any:
    next_review = reviews.confirm_current(get_db(), current_user.id, asset_id)
    flash(_("Confirmed as current. Next review: %(date)s", date=date_text(next_review)), "success")
    return _back(asset_id, anchor="")


@bp.post("/assets/<int:asset_id>/follow")
def follow(asset_id: int) -> Any:
    wanted = request.form.get("follow") != "0"
    notifications.follow(get_db(), current_user.id, asset_id, wanted)
    flash(
        _("You will hear of new versions of this asset.") if wanted else _("You no longer follow this asset."),
        "success",
    )
    return _back(asset_id, anchor="")


@bp.post("/assets/<int:asset_id>/owner")
@requires(Role.MARKETING)
def reassign(asset_id: int) -> Any:
    from kb.api.assets import _int

    owner_id = _int("owner_id", request.form.get("owner_id"))
    get_publisher().update_metadata(current_user.id, asset_id, {"owner_id": owner_id})
    flash(_("The owner is changed."), "success")
    return _back(asset_id, anchor="")
