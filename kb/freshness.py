"""The freshness queue: every published asset that needs marketing's attention, most harmful staleness first.

``priority`` is a pure function of an asset's signals (open flags and their age, review date, ratings, use);
``queue`` gathers the signals of all published assets from the database in a fixed number of queries and
ranks them. What hurts sales now (open flags on assets people use) comes before mere age, and no part has a
cap where items would tie. The formula (also in the README)::

    flag         = 10 × severity × (0.3 + 0.7 × 0.5^(age in days / 30))   per open flag, severity by its reason:
                   1.5 prices outdated, wrong specs, legal terms expired, broken file; 1.2 superseded; 1 otherwise
                   (a new "prices outdated" flag 15, a month old 9.75, never below 4.5)
    overdue      = 2 + 3 × log2(1 + days overdue / 30)   (1 day 2.1, a month 5, a quarter 8, a year 13.2, and on)
    review due   = 1 when the review is due within 14 days
    low rating   = 4 × (3 − average) when the current version's average is at most 2.5 from at least 3 ratings
    old but used = 3 when used 20+ times in 30 days and not updated for 180+ days
    score        = (sum of the above) × (1 + log2(1 + views and downloads in 30 days) / 2)
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from kb.models import (
    Asset,
    AssetStatus,
    AssetVersion,
    FlagStatus,
    Rating,
    StaleFlag,
    UsageEvent,
    UsageKind,
    User,
    utcnow,
)
from kb.search.signals import REVIEW_DUE_DAYS, freshness

FLAG_WEIGHT = 25.0
FLAG_FLOOR = 0.3
FLAG_HALF_LIFE_DAYS = 30.0
#: How much a flag's reason hurts a sale: wrong prices, specs or legal terms and a broken file most.
FLAG_SEVERITY = {
    "prices_outdated": 1.5,
    "specs_wrong": 1.5,
    "legal_expired": 1.5,
    "broken_file": 1.5,
    "superseded": 1.2,
}
OVERDUE_BASE = 2.0
OVERDUE_PER_DOUBLING = 3.0
OVERDUE_UNIT_DAYS = 30.0
REVIEW_DUE_WEIGHT = 1.0
LOW_RATING_AVERAGE = 2.5
LOW_RATING_MIN_COUNT = 3
LOW_RATING_WEIGHT = 4.0
HEAVY_USE = 20
OLD_DAYS = 180
OLD_BUT_USED_WEIGHT = 3.0
USAGE_WINDOW_DAYS = 30
#: Queue filters by reason: a flag reason code, or one of these.
SIGNAL_REASONS = ("flagged", "overdue", "review_due", "low_rating", "old_but_used")


@dataclass(frozen=True)
class OpenFlag:
    id: int
    reasons: tuple[str, ...]
    raised_on: date
    raised_by: str = ""
    comment: str = ""
    page: int | None = None


@dataclass(frozen=True)
class Signals:
    """What the queue knows of one asset."""

    next_review_on: date
    last_version_on: date
    flags: tuple[OpenFlag, ...] = ()
    rating_average: float | None = None
    rating_count: int = 0
    uses_30d: int = 0


@dataclass(frozen=True)
class Reason:
    """One part of an item's score, as a code with its numbers; the interface words it."""

    code: str
    points: float
    params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Priority:
    score: float
    reasons: tuple[Reason, ...]
    multiplier: float

    @property
    def needs_attention(self) -> bool:
        return any(r.code != "usage" for r in self.reasons)


def flag_weight(age_days: int, reasons: tuple[str, ...] = ()) -> float:
    """One open flag's points: its reason's severity, fading by half a month but never below 30 %."""
    severity = max((FLAG_SEVERITY.get(r, 1.0) for r in reasons), default=1.0)
    decay = FLAG_FLOOR + (1 - FLAG_FLOOR) * 0.5 ** (max(age_days, 0) / FLAG_HALF_LIFE_DAYS)
    return FLAG_WEIGHT * severity * decay


def overdue_points(days: int) -> float:
    """Grows with every day overdue, fast in the first months and slowly after: no cap, so no ties."""
    return OVERDUE_BASE + OVERDUE_PER_DOUBLING * math.log2(1 + days / OVERDUE_UNIT_DAYS)


def usage_multiplier(uses: int) -> float:
    return 1 + math.log2(1 + max(uses, 0)) / 2


def priority(signals: Signals, today: date) -> Priority:
    """The asset's score and the reasons that make it up (empty reasons: nothing to do)."""
    reasons: list[Reason] = []
    if signals.flags:
        points = sum(flag_weight((today - f.raised_on).days, f.reasons) for f in signals.flags)
        by_reason = Counter(code for f in signals.flags for code in f.reasons)
        reasons.append(
            Reason("flagged", points, {"count": len(signals.flags), "by_reason": dict(by_reason.most_common())})
        )
    days_to_review = (signals.next_review_on - today).days
    if days_to_review < 0:
        reasons.append(Reason("overdue", overdue_points(-days_to_review), {"days": -days_to_review}))
    elif days_to_review <= REVIEW_DUE_DAYS:
        reasons.append(Reason("review_due", REVIEW_DUE_WEIGHT, {"days": days_to_review}))
    if (
        signals.rating_average is not None
        and signals.rating_count >= LOW_RATING_MIN_COUNT
        and signals.rating_average <= LOW_RATING_AVERAGE
    ):
        reasons.append(
            Reason(
                "low_rating",
                LOW_RATING_WEIGHT * (3 - signals.rating_average),
                {"average": round(signals.rating_average, 1), "count": signals.rating_count},
            )
        )
    age = (today - signals.last_version_on).days
    if signals.uses_30d >= HEAVY_USE and age >= OLD_DAYS:
        reasons.append(Reason("old_but_used", OLD_BUT_USED_WEIGHT, {"days": age, "uses": signals.uses_30d}))
    base = sum(r.points for r in reasons)
    multiplier = usage_multiplier(signals.uses_30d)
    if reasons and signals.uses_30d:
        reasons.append(Reason("usage", base * (multiplier - 1), {"uses": signals.uses_30d}))
    return Priority(round(base * multiplier, 2), tuple(reasons), round(multiplier, 3))


# --- the queue ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    asset_id: int
    title: str
    kind: str
    product: str
    owner_id: int
    owner_name: str
    version: int | None
    next_review_on: date
    freshness: str
    score: float
    reasons: tuple[Reason, ...]
    flags: tuple[OpenFlag, ...]

    @property
    def reason_codes(self) -> set[str]:
        return {r.code for r in self.reasons} | {code for f in self.flags for code in f.reasons}


@dataclass(frozen=True)
class QueueFilters:
    owner_id: int | None = None
    kind: str | None = None
    product: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Queue:
    items: list[QueueItem]
    #: Items per owner (under every filter but the owner), most loaded first: (owner id, name, count).
    owners: list[tuple[int, str, int]]
    total: int


def _signals(session: Session, today: date) -> dict[int, tuple[Row[Any], str, int | None, Signals]]:
    # The columns the queue shows, not whole assets: loading 10,000 Asset objects (and their tags and segments,
    # which the model loads with them) took seconds.
    assets = session.execute(
        select(
            Asset.id,
            Asset.title,
            Asset.kind,
            Asset.product,
            Asset.owner_id,
            Asset.next_review_on,
            Asset.created_at,
            User.display_name,
            AssetVersion.number,
            AssetVersion.published_at,
        )
        .join(User, User.id == Asset.owner_id)
        .outerjoin(AssetVersion, AssetVersion.id == Asset.current_version_id)
        .where(Asset.status == AssetStatus.PUBLISHED)
    ).all()
    published = [a.id for a in assets]
    if not published:
        return {}
    raiser = User.__table__.alias("raiser")
    flags: dict[int, list[OpenFlag]] = {}
    for flag, name in session.execute(
        select(StaleFlag, raiser.c.display_name)
        .join(raiser, raiser.c.id == StaleFlag.raised_by_id)
        .join(Asset, Asset.id == StaleFlag.asset_id)
        .where(StaleFlag.status == FlagStatus.OPEN, Asset.status == AssetStatus.PUBLISHED)
        .order_by(StaleFlag.created_at)
    ):
        flags.setdefault(flag.asset_id, []).append(
            OpenFlag(flag.id, tuple(flag.reasons), flag.created_at.date(), name, flag.comment, flag.page)
        )
    ratings = {
        asset_id: (float(avg), int(count))
        for asset_id, avg, count in session.execute(
            select(Rating.asset_id, func.avg(Rating.stars), func.count())
            .join(Asset, (Asset.id == Rating.asset_id) & (Asset.current_version_id == Rating.version_id))
            .where(Asset.status == AssetStatus.PUBLISHED)
            .group_by(Rating.asset_id)
        )
    }
    since = datetime.combine(today - timedelta(days=USAGE_WINDOW_DAYS), datetime.min.time(), tzinfo=utcnow().tzinfo)
    uses = dict(
        session.execute(
            select(UsageEvent.asset_id, func.count())
            .where(UsageEvent.kind.in_([UsageKind.VIEW, UsageKind.DOWNLOAD]), UsageEvent.occurred_at >= since)
            .group_by(UsageEvent.asset_id)
        ).all()
    )
    found = {}
    for asset in assets:
        average, count = ratings.get(asset.id, (None, 0))
        found[asset.id] = (
            asset,
            asset.display_name,
            asset.number,
            Signals(
                next_review_on=asset.next_review_on,
                last_version_on=(asset.published_at or asset.created_at).date(),
                flags=tuple(flags.get(asset.id, [])),
                rating_average=average,
                rating_count=count,
                uses_30d=int(uses.get(asset.id, 0)),
            ),
        )
    return found


def queue(session: Session, today: date, filters: QueueFilters | None = None) -> Queue:
    """The ranked queue under ``filters``; a fixed number of queries whatever the size of the library."""
    filters = filters or QueueFilters()
    items: list[QueueItem] = []
    for asset, owner_name, number, signals in _signals(session, today).values():
        ranked = priority(signals, today)
        if not ranked.needs_attention:
            continue
        items.append(
            QueueItem(
                asset_id=asset.id,
                title=asset.title,
                kind=asset.kind,
                product=asset.product,
                owner_id=asset.owner_id,
                owner_name=owner_name,
                version=number,
                next_review_on=asset.next_review_on,
                freshness=freshness(asset.next_review_on, len(signals.flags), today),
                score=ranked.score,
                reasons=ranked.reasons,
                flags=signals.flags,
            )
        )

    def matches(item: QueueItem, *, owner: bool) -> bool:
        return (
            (not owner or filters.owner_id is None or item.owner_id == filters.owner_id)
            and (not filters.kind or item.kind == filters.kind)
            and (not filters.product or item.product == filters.product)
            and (not filters.reason or filters.reason in item.reason_codes)
        )

    owners: Counter[tuple[int, str]] = Counter(
        (item.owner_id, item.owner_name) for item in items if matches(item, owner=False)
    )
    shown = [item for item in items if matches(item, owner=True)]
    shown.sort(key=lambda item: (-item.score, item.next_review_on, item.asset_id))
    return Queue(
        items=shown,
        owners=[
            (owner_id, name, count)
            for (owner_id, name), count in sorted(owners.items(), key=lambda kv: (-kv[1], kv[0][1]))
        ],
        total=len(shown),
    )
