"""The freshness queue: every published asset that needs marketing's attention, most harmful staleness first.

``priority`` is a pure function of an asset's signals (open flags and their age, review date, ratings, use);
``queue`` gathers the signals of the published assets from the database in a fixed number of queries and
ranks them (the many that have nothing but a review date are ranked by the database). What hurts sales now
(open flags on assets people use) comes before mere age, and no part has a cap where items would tie. The
formula (also in the README)::

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
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from kb.audiences import Viewer, visible_condition
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
    #: The ranked items: all of them, or the window asked for (``offset``, ``limit``).
    items: list[QueueItem]
    #: Items per owner (under every filter but the owner), most loaded first: (owner id, name, count).
    owners: list[tuple[int, str, int]]
    total: int


def _published_columns() -> Select[Any]:
    return (
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
    )


def _used_since(today: date) -> datetime:
    return datetime.combine(today - timedelta(days=USAGE_WINDOW_DAYS), datetime.min.time(), tzinfo=utcnow().tzinfo)


def _has_signals(today: date) -> Any:
    """Assets with more to rank by than their review date: an open flag, a rating of the current version, or use
    in the last 30 days. They are few however large the library; the others rank by their review date alone."""
    flagged = select(StaleFlag.asset_id).where(StaleFlag.status == FlagStatus.OPEN)
    rated = select(Rating.asset_id).join(
        Asset, (Asset.id == Rating.asset_id) & (Asset.current_version_id == Rating.version_id)
    )
    used = select(UsageEvent.asset_id).where(
        UsageEvent.kind.in_([UsageKind.VIEW, UsageKind.DOWNLOAD]),
        UsageEvent.occurred_at >= _used_since(today),
        UsageEvent.asset_id.is_not(None),
    )
    return or_(Asset.id.in_(flagged), Asset.id.in_(rated), Asset.id.in_(used))


def _signals(session: Session, today: date, which: Any) -> dict[int, tuple[Row[Any], str, int | None, Signals]]:
    """The signals of the published assets ``which`` selects, in a fixed number of queries."""
    # The columns the queue shows, not whole assets: loading 10,000 Asset objects (and their tags and segments,
    # which the model loads with them) took seconds.
    assets = session.execute(_published_columns().where(which)).all()
    if not assets:
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
    uses = dict(
        session.execute(
            select(UsageEvent.asset_id, func.count())
            .where(
                UsageEvent.kind.in_([UsageKind.VIEW, UsageKind.DOWNLOAD]),
                UsageEvent.occurred_at >= _used_since(today),
            )
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


def _item(asset: Row[Any], owner_name: str, number: int | None, signals: Signals, today: date) -> QueueItem | None:
    ranked = priority(signals, today)
    if not ranked.needs_attention:
        return None
    return QueueItem(
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


def _rank(item: QueueItem) -> tuple[float, date, int]:
    return (-item.score, item.next_review_on, item.asset_id)


def queue(
    session: Session,
    today: date,
    filters: QueueFilters | None = None,
    *,
    offset: int = 0,
    limit: int | None = None,
    viewer: Viewer | None = None,
) -> Queue:
    """The ranked queue under ``filters``; ``items`` from ``offset``, at most ``limit`` (all by default). With a
    ``viewer``, only the assets they may see (``kb.audiences``) are in it, counts included.

    A fixed number of queries whatever the size of the library. Assets with flags, ratings or use are ranked
    one by one; the rest (nearly all of a large library) only need attention for their review date, and their
    scores grow as it recedes, so the database counts them and hands over only those the window can show."""
    filters = filters or QueueFilters()

    def matches(item: QueueItem, *, owner: bool) -> bool:
        return (
            (not owner or filters.owner_id is None or item.owner_id == filters.owner_id)
            and (not filters.kind or item.kind == filters.kind)
            and (not filters.product or item.product == filters.product)
            and (not filters.reason or filters.reason in item.reason_codes)
        )

    special = _has_signals(today)
    seen = true() if viewer is None else visible_condition(viewer)
    items = [
        item
        for asset, owner_name, number, signals in _signals(session, today, and_(special, seen)).values()
        if (item := _item(asset, owner_name, number, signals, today)) is not None
    ]
    owners: Counter[tuple[int, str]] = Counter(
        (item.owner_id, item.owner_name) for item in items if matches(item, owner=False)
    )
    shown = [item for item in items if matches(item, owner=True)]

    # The others: overdue or due for review, nothing else; ranked by their review date, the oldest first.
    plain = [~special, seen, Asset.next_review_on <= today + timedelta(days=REVIEW_DUE_DAYS)]
    if filters.kind:
        plain.append(Asset.kind == filters.kind)
    if filters.product:
        plain.append(Asset.product == filters.product)
    if filters.reason == "overdue":
        plain.append(Asset.next_review_on < today)
    elif filters.reason == "review_due":
        plain.append(Asset.next_review_on >= today)
    elif filters.reason:
        plain.append(false())  # flags, ratings and use are all special
    # Counted and sorted as bare ids first, and only then joined with names and versions: sorting thousands of
    # joined rows cost more than all the rest.
    plain.append(Asset.status == AssetStatus.PUBLISHED)
    total = len(shown)
    per_owner = select(Asset.owner_id, func.count().label("n")).where(*plain).group_by(Asset.owner_id).subquery()
    for owner_id, name, count in session.execute(
        select(per_owner.c.owner_id, User.display_name, per_owner.c.n).join(User, User.id == per_owner.c.owner_id)
    ):
        owners[(owner_id, name)] += count
        if filters.owner_id is None or owner_id == filters.owner_id:
            total += count
    if filters.owner_id is not None:
        plain.append(Asset.owner_id == filters.owner_id)
    oldest_first = (Asset.next_review_on, Asset.id)
    ids = select(Asset.id).where(*plain).order_by(*oldest_first)
    if limit is not None:
        ids = ids.limit(offset + limit)
    wanted = _published_columns().where(Asset.id.in_(ids.scalar_subquery())).order_by(*oldest_first)
    for asset in session.execute(wanted):
        signals = Signals(
            next_review_on=asset.next_review_on,
            last_version_on=(asset.published_at or asset.created_at).date(),
        )
        item = _item(asset, asset.display_name, asset.number, signals, today)
        if item is not None:
            shown.append(item)
    shown.sort(key=_rank)
    return Queue(
        items=shown[offset : None if limit is None else offset + limit],
        owners=[
            (owner_id, name, count)
            for (owner_id, name), count in sorted(owners.items(), key=lambda kv: (-kv[1], kv[0][1]))
        ],
        total=total,
    )


def places(session: Session, today: date, items: list[QueueItem], viewer: Viewer | None = None) -> dict[int, int]:
    """Where each of ``items`` stands in the whole queue (1 comes first; with a ``viewer``, the queue of the
    assets they may see), without building the whole queue: the
    assets with flags, ratings or use are ranked one by one (they are few); the others rank by their review date
    alone, so the database counts them per date and each date is scored once."""
    if not items:
        return {}
    special = _has_signals(today)
    seen = true() if viewer is None else visible_condition(viewer)
    keys = sorted(
        _rank(item)
        for asset, owner_name, number, signals in _signals(session, today, and_(special, seen)).values()
        if (item := _item(asset, owner_name, number, signals, today)) is not None
    )
    plain = (
        ~special,
        seen,
        Asset.status == AssetStatus.PUBLISHED,
        Asset.next_review_on <= today + timedelta(days=REVIEW_DUE_DAYS),
    )
    per_date: list[tuple[float, date, int]] = []
    for review_on, count in session.execute(
        select(Asset.next_review_on, func.count()).where(*plain).group_by(Asset.next_review_on)
    ):
        ranked = priority(Signals(next_review_on=review_on, last_version_on=review_on), today)
        if ranked.needs_attention:
            per_date.append((-ranked.score, review_on, count))
    found = {}
    for item in items:
        score, review_on, asset_id = _rank(item)
        before = bisect_left(keys, (score, review_on, asset_id))
        for group_score, group_date, count in per_date:
            if (group_score, group_date) < (score, review_on):
                before += count
            elif (group_score, group_date) == (score, review_on):  # the same date: the lower ids come first
                before += (
                    session.scalar(
                        select(func.count()).where(*plain, Asset.next_review_on == review_on, Asset.id < asset_id)
                    )
                    or 0
                )
        found[item.asset_id] = before + 1
    return found
