"""What search reads from the database when it searches: each asset's freshness and average rating.

They change every day (a rating, a flag, a confirmation, the calendar itself), so they are not in the index:
an index job for each would queue behind new versions waiting for extraction. Two queries per search read
them: the assets that are not fresh (open flags, review overdue or due soon) and, when sorting by rating or
showing results, the average ratings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kb.models import Asset, FlagStatus, Rating, StaleFlag

#: Review due this many days ahead counts as "review due".
REVIEW_DUE_DAYS = 14
FRESH = "fresh"


def freshness(next_review_on: date, open_flags: int, today: date) -> str:
    """``flagged`` (open flags), ``overdue``, ``review_due`` (within two weeks) or ``fresh``."""
    if open_flags:
        return "flagged"
    days = (next_review_on - today).days
    if days < 0:
        return "overdue"
    if days <= REVIEW_DUE_DAYS:
        return "review_due"
    return FRESH


@dataclass
class Signals:
    """Freshness of the assets that are not fresh, and average stars of the rated ones; the rest is default."""

    stale: dict[int, str] = field(default_factory=dict)
    ratings: dict[int, float] = field(default_factory=dict)

    def freshness_of(self, asset_id: int) -> str:
        return self.stale.get(asset_id, FRESH)

    def rating_of(self, asset_id: int) -> float:
        return self.ratings.get(asset_id, 0.0)


def not_fresh(session: Session, today: date) -> dict[int, str]:
    """asset id -> freshness, for every asset flagged, overdue or due for review within two weeks."""
    flagged = select(StaleFlag.asset_id).where(StaleFlag.status == FlagStatus.OPEN)
    rows = session.execute(
        select(Asset.id, Asset.next_review_on, Asset.id.in_(flagged)).where(
            or_(Asset.next_review_on <= today + timedelta(days=REVIEW_DUE_DAYS), Asset.id.in_(flagged))
        )
    )
    return {asset_id: freshness(review_on, 1 if is_flagged else 0, today) for asset_id, review_on, is_flagged in rows}


def ratings(session: Session, asset_ids: Iterable[int] | None = None) -> dict[int, float]:
    """asset id -> average stars, for the rated assets (of ``asset_ids`` when given)."""
    query = select(Rating.asset_id, func.avg(Rating.stars)).group_by(Rating.asset_id)
    if asset_ids is not None:
        ids = list(asset_ids)
        if not ids:
            return {}
        query = query.where(Rating.asset_id.in_(ids))
    return {asset_id: float(stars) for asset_id, stars in session.execute(query)}


def load(session: Session, today: date, *, all_ratings: bool = False) -> Signals:
    """The signals a search needs; every rating only when results are sorted by rating."""
    return Signals(stale=not_fresh(session, today), ratings=ratings(session) if all_ratings else {})
