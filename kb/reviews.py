"""Review dates: confirming an asset as still current, and the record of every moved review date.

Each asset is due for review ``review_interval_days`` after its last version or confirmation. Marketing can
"confirm as current" (the content is still right: the date moves forward, no new version); publishing a new
version moves it too. Both leave a ``Review`` row saying who, when and from which date to which.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb import audiences
from kb.db import Database
from kb.errors import N_, Conflict, Forbidden, NotFound
from kb.models import Asset, AssetStatus, AssetVersion, Review, Role, User, utcnow


def move_review_date(
    session: Session, asset: Asset, actor_id: int | None, now: datetime, version: AssetVersion | None = None
) -> date:
    """Sets the next review one interval after ``now`` and records it; the caller commits."""
    previous = asset.next_review_on
    asset.next_review_on = now.date() + timedelta(days=asset.review_interval_days)
    session.add(
        Review(
            asset_id=asset.id,
            reviewed_by_id=actor_id,
            reviewed_at=now,
            previous_review_on=previous or asset.next_review_on,
            next_review_on=asset.next_review_on,
            version_id=version.id if version is not None else None,
        )
    )
    return asset.next_review_on


def confirm_current(db: Database, actor_id: int, asset_id: int) -> date:
    """Marketing confirms the asset is still right; returns the new review date."""
    with db.transaction() as session:
        actor = session.get(User, actor_id)
        if actor is None or not actor.active or not Role(actor.role).includes(Role.MARKETING):
            raise Forbidden(N_("Confirming content as current needs the marketing role."))
        asset = session.get(Asset, asset_id)
        if asset is None or not audiences.may_see(session, actor, asset_id):
            raise NotFound(N_("No such asset."))
        if asset.status != AssetStatus.PUBLISHED:
            raise Conflict(N_("Only a published asset can be confirmed as current."))
        now = utcnow()
        next_review = move_review_date(session, asset, actor.id, now)
        return next_review


@dataclass(frozen=True)
class ReviewView:
    reviewed_at: datetime
    reviewed_by: str | None
    previous_review_on: date
    next_review_on: date
    version: int | None


def review_history(session: Session, asset_id: int, limit: int = 20) -> list[ReviewView]:
    rows = session.execute(
        select(Review, User.display_name, AssetVersion.number)
        .outerjoin(User, User.id == Review.reviewed_by_id)
        .outerjoin(AssetVersion, AssetVersion.id == Review.version_id)
        .where(Review.asset_id == asset_id)
        .order_by(Review.reviewed_at.desc(), Review.id.desc())
        .limit(limit)
    )
    return [
        ReviewView(review.reviewed_at, name, review.previous_review_on, review.next_review_on, number)
        for review, name, number in rows
    ]
