"""What search reads from the database when it searches: each asset's freshness and average rating.

They change every day (a rating, a flag, a confirmation, the calendar itself), so they are not in the index:
an index job for each would queue behind new versions waiting for extraction. Per search, one small query
tells whether the assets that are not fresh (open flags, review overdue or due soon) changed since this
process last read them (the latest change to any asset or flag, and how many flags); only then are they read
again, thousands of rows in a large library. The average ratings are read for the page of results, or all of
them when sorting by rating. Nothing is shared between processes: each checks the database itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kb.models import Asset, FlagStatus, Rating, StaleFlag

#: Review due this many days ahead counts as "review due".
REVIEW_DUE_DAYS = 14
FRESH = "fresh"
#: The freshness states, from the best to the worst.
FRESHNESS_STATES = (FRESH, "review_due", "overdue", "flagged")


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

    def freshness_array(self, asset_ids: np.ndarray) -> np.ndarray:
        """``freshness_of`` for many assets at once (thousands of candidates in a large library), as fixed-width
        strings (an array of Python objects cost a search at 10,000 assets a millisecond just to fill)."""
        result = np.full(asset_ids.size, FRESH, dtype=FRESHNESS_DTYPE)
        if not self.stale or not asset_ids.size:
            return result
        keys, values = _sorted_stale(self.stale)
        at = np.minimum(np.searchsorted(keys, asset_ids), keys.size - 1)
        found = keys[at] == asset_ids
        result[found] = values[at[found]]
        return result

    def rating_of(self, asset_id: int) -> float:
        return self.ratings.get(asset_id, 0.0)


#: The freshness of each candidate, as numpy strings wide enough for every state.
FRESHNESS_DTYPE = f"<U{max(len(state) for state in FRESHNESS_STATES)}"
_SORTED_STALE: tuple[dict[int, str], np.ndarray, np.ndarray] | None = None


def _sorted_stale(stale: dict[int, str]) -> tuple[np.ndarray, np.ndarray]:
    """The not-fresh assets' ids in order and their states: sorted once per answer of ``not_fresh_now``, which
    every search of a process shares until something changes."""
    global _SORTED_STALE
    cached = _SORTED_STALE
    if cached is not None and cached[0] is stale:
        return cached[1], cached[2]
    keys = np.fromiter(stale.keys(), dtype=np.int64, count=len(stale))
    values = np.array(list(stale.values()), dtype=FRESHNESS_DTYPE)
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    _SORTED_STALE = (stale, keys, values)
    return keys, values


def not_fresh(session: Session, today: date) -> dict[int, str]:
    """asset id -> freshness, for every asset flagged, overdue or due for review within two weeks."""
    flagged = select(StaleFlag.asset_id).where(StaleFlag.status == FlagStatus.OPEN)
    rows = session.execute(
        select(Asset.id, Asset.next_review_on, Asset.id.in_(flagged)).where(
            or_(Asset.next_review_on <= today + timedelta(days=REVIEW_DUE_DAYS), Asset.id.in_(flagged))
        )
    )
    return {asset_id: freshness(review_on, 1 if is_flagged else 0, today) for asset_id, review_on, is_flagged in rows}


#: The last ``not_fresh`` this process read: (database, day, what it was read at) and the answer.
_NOT_FRESH_CACHE: tuple[tuple[object, ...], dict[int, str]] | None = None


def not_fresh_now(session: Session, today: date) -> dict[int, str]:
    """``not_fresh``, read again only when an asset or a flag changed (or the day did) since this process last
    read it; every change to an asset's review date, status or flags moves one of these marks."""
    global _NOT_FRESH_CACHE
    # a new asset changes the first mark too; one deleted leaves an entry that matches nothing
    assets_changed = session.scalar(select(func.max(Asset.updated_at)))
    flags_changed, flags = session.execute(select(func.max(StaleFlag.updated_at), func.count(StaleFlag.id))).one()
    mark = (str(session.get_bind().url), today, assets_changed, flags_changed, flags)
    cached = _NOT_FRESH_CACHE
    if cached is not None and cached[0] == mark:
        return cached[1]
    stale = not_fresh(session, today)
    _NOT_FRESH_CACHE = (mark, stale)
    return stale


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
    return Signals(stale=not_fresh_now(session, today), ratings=ratings(session) if all_ratings else {})
