"""Content analytics: what sales search for (and do not find), how each asset is used, what they rate highest.

Searches are grouped by a normalised query: the analyzer's terms of the query (stems, both languages, stop
words out), so "каталоги насосов" and "каталог насос" count as one. A search is *clicked* when a view was
opened from its result list (the view carries the search's id). Every function reads in a fixed number of
queries whatever the number of usage events.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, case, func, select, true
from sqlalchemy.orm import Session, aliased

from kb.audiences import Viewer, may_see, visible_condition
from kb.db import Database
from kb.errors import N_, Forbidden, NotFound, ValidationError
from kb.models import (
    Asset,
    AssetSegment,
    AssetStatus,
    GapStatus,
    Rating,
    Role,
    SearchGap,
    UsageEvent,
    UsageKind,
    User,
    utcnow,
)
from kb.search.analysis import analyze

MAX_QUERY = 300


def normalize_query(text: str) -> str:
    """The query's analyzed terms, sorted and joined; the lowercased text when it has none (e.g. only stop words)."""
    terms = sorted(set(analyze(text[:1000], mode="query")))
    if terms:
        return " ".join(terms)[:MAX_QUERY]
    return " ".join(text.lower().replace("ё", "е").split())[:MAX_QUERY]


def _since(today: date, days: int) -> datetime:
    return datetime.combine(today - timedelta(days=days), time.min, tzinfo=UTC)


@dataclass(frozen=True)
class QueryStats:
    query: str
    example: str
    searches: int
    zero_results: int
    clicked: int
    last_seen: datetime
    gap_status: str | None = None
    gap_asset_id: int | None = None
    gap_note: str = ""

    @property
    def is_gap(self) -> bool:
        """Nothing found, or something found that nobody opened."""
        return self.zero_results == self.searches or self.clicked == 0


@dataclass(frozen=True)
class SearchAnalytics:
    total_searches: int
    top: list[QueryStats]
    gaps: list[QueryStats]


def search_analytics(
    session: Session, today: date, days: int = 90, limit: int = 50, viewer: Viewer | None = None
) -> SearchAnalytics:
    """Top queries and content gaps (zero results, or no click) over the last ``days`` days. A gap covered by an
    asset the ``viewer`` may not see (``kb.audiences``) shows as covered without naming the asset."""
    since = _since(today, days)
    # A search was clicked when the same person opened one of its results (its key in the result's link).
    click = aliased(UsageEvent)
    clicked = (
        select(click.id)
        .where(
            click.search_key == UsageEvent.search_key,
            click.kind != UsageKind.SEARCH,
            click.user_id == UsageEvent.user_id,
            click.occurred_at >= since,
        )
        .exists()
    )
    # Counted per text typed by the database, then merged per normalized query here: people repeat their
    # searches, and analyzing each of thousands of events on every visit to the page took most of its time.
    searches = session.execute(
        select(
            UsageEvent.query,
            func.count(),
            func.sum(case((UsageEvent.result_count == 0, 1), else_=0)),
            func.sum(case((clicked, 1), else_=0)),
            func.max(UsageEvent.occurred_at),
        )
        .where(UsageEvent.kind == UsageKind.SEARCH, UsageEvent.occurred_at >= since, UsageEvent.query.is_not(None))
        .group_by(UsageEvent.query)
        .order_by(func.min(UsageEvent.id))  # first searched first: ties between examples go to the earliest
    ).all()
    gaps = {gap.query: gap for gap in session.scalars(select(SearchGap))}
    hidden: set[int] = set()
    covering = {gap.asset_id for gap in gaps.values() if gap.asset_id is not None}
    if viewer is not None and covering:
        shown = set(session.scalars(select(Asset.id).where(Asset.id.in_(covering), visible_condition(viewer))))
        hidden = covering - shown
    groups: dict[str, dict[str, object]] = {}
    examples: dict[str, Counter[str]] = {}
    total = 0
    for query, count, zero, clicks, last in searches:
        total += count
        key = normalize_query(query or "")
        if not key:
            continue
        group = groups.setdefault(key, {"searches": 0, "zero": 0, "clicked": 0, "last": last})
        group["searches"] = int(group["searches"]) + count  # type: ignore[call-overload]
        group["zero"] = int(group["zero"]) + int(zero)  # type: ignore[call-overload]
        group["clicked"] = int(group["clicked"]) + int(clicks)  # type: ignore[call-overload]
        group["last"] = max(group["last"], last)  # type: ignore[type-var]
        examples.setdefault(key, Counter())[query.strip()[:200]] += count
    stats = []
    for key, group in groups.items():
        gap = gaps.get(key)
        stats.append(
            QueryStats(
                query=key,
                example=examples[key].most_common(1)[0][0],
                searches=int(group["searches"]),  # type: ignore[call-overload]
                zero_results=int(group["zero"]),  # type: ignore[call-overload]
                clicked=int(group["clicked"]),  # type: ignore[call-overload]
                last_seen=group["last"],  # type: ignore[arg-type]
                gap_status=str(gap.status) if gap else None,
                gap_asset_id=gap.asset_id if gap and gap.asset_id not in hidden else None,
                gap_note=gap.note if gap else "",
            )
        )
    stats.sort(key=lambda s: (-s.searches, -s.last_seen.timestamp(), s.query))
    open_gaps = [s for s in stats if s.is_gap]
    open_gaps.sort(key=lambda s: (s.gap_status is not None, -s.searches, -s.last_seen.timestamp(), s.query))
    return SearchAnalytics(total_searches=total, top=stats[:limit], gaps=open_gaps[:limit])


def mark_gap(db: Database, actor_id: int, query: str, status: str, asset_id: int | None = None, note: str = "") -> None:
    """Marketing's answer to a gap: ``planned``, or ``covered`` by an asset; ``status=""`` reopens it.

    ``query`` is a query as people typed it (normalising is not idempotent: stems are stemmed again).
    """
    key = normalize_query(query or "")
    if not key:
        raise ValidationError(N_("Which query?"), field="query")
    if status not in ("", *GapStatus):
        raise ValidationError(N_("Mark the gap as planned or covered."), field="status")
    with db.transaction() as session:
        actor = session.get(User, actor_id)
        if actor is None or not actor.active or not Role(actor.role).includes(Role.MARKETING):
            raise Forbidden(N_("Working on content gaps needs the marketing role."))
        gap = session.scalars(select(SearchGap).where(SearchGap.query == key)).first()
        if not status:
            if gap is not None:
                session.delete(gap)
            return
        if status == GapStatus.COVERED:
            if asset_id is None:
                raise ValidationError(N_("Name the asset that covers it."), field="asset_id")
            if session.get(Asset, asset_id) is None or not may_see(session, actor, asset_id):
                raise NotFound(N_("No such asset."), field="asset_id")
        if gap is None:
            gap = SearchGap(query=key)
            session.add(gap)
        gap.status = GapStatus(status)
        gap.asset_id = asset_id if status == GapStatus.COVERED else None
        gap.note = (note or "").strip()[:2000]
        gap.updated_by_id = actor.id
        gap.updated_at = utcnow()


@dataclass(frozen=True)
class WeekUsage:
    week_starting: date
    views: int
    downloads: int


@dataclass(frozen=True)
class AssetUsage:
    weeks: list[WeekUsage]
    searches: list[tuple[str, int]]


def asset_usage(session: Session, asset_id: int, today: date, weeks: int = 12) -> AssetUsage:
    """Views and downloads per week (oldest first) and the searches that led to the asset."""
    first_day = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    events = session.execute(
        select(UsageEvent.kind, UsageEvent.occurred_at).where(
            UsageEvent.asset_id == asset_id,
            UsageEvent.kind.in_([UsageKind.VIEW, UsageKind.DOWNLOAD]),
            UsageEvent.occurred_at >= datetime.combine(first_day, time.min, tzinfo=UTC),
        )
    ).all()
    counts: dict[tuple[int, str], int] = Counter()
    for kind, occurred_at in events:
        counts[((occurred_at.date() - first_day).days // 7, str(kind))] += 1
    search = UsageEvent.__table__.alias("search")
    queries = session.execute(
        select(search.c.query)
        .select_from(UsageEvent)
        .join(
            search,
            (search.c.search_key == UsageEvent.search_key)
            & (search.c.kind == UsageKind.SEARCH)
            & (search.c.user_id == UsageEvent.user_id),
        )
        .where(UsageEvent.asset_id == asset_id)
    ).scalars()
    led = Counter(q.strip()[:200] for q in queries if q)
    return AssetUsage(
        weeks=[
            WeekUsage(first_day + timedelta(weeks=i), counts[(i, "view")], counts[(i, "download")])
            for i in range(weeks)
        ],
        searches=led.most_common(10),
    )


@dataclass(frozen=True)
class RatedAsset:
    asset_id: int
    title: str
    average: float
    count: int


def top_rated(session: Session, limit: int = 5, viewer: Viewer | None = None) -> dict[str, dict[str, list[RatedAsset]]]:
    """The best-rated published assets (that ``viewer`` may see, when given) per segment and per kind (average,
    then number of ratings)."""
    rated = session.execute(
        select(Asset.id, Asset.title, Asset.kind, func.avg(Rating.stars), func.count())
        .join(Rating, Rating.asset_id == Asset.id)
        .where(Asset.status == AssetStatus.PUBLISHED, true() if viewer is None else visible_condition(viewer))
        .group_by(Asset.id, Asset.title, Asset.kind)
    ).all()
    segments: dict[int, list[str]] = {}
    for asset_id, segment in session.execute(
        select(AssetSegment.asset_id, AssetSegment.segment).where(AssetSegment.asset_id.in_(select(Rating.asset_id)))
    ):  # the rated assets' segments only, not every asset's
        segments.setdefault(asset_id, []).append(segment)
    by_segment: dict[str, list[RatedAsset]] = {}
    by_kind: dict[str, list[RatedAsset]] = {}
    for asset_id, title, kind, average, count in rated:
        item = RatedAsset(asset_id, title, round(float(average), 2), int(count))
        by_kind.setdefault(kind, []).append(item)
        for segment in segments.get(asset_id, []):
            by_segment.setdefault(segment, []).append(item)

    def best(groups: dict[str, list[RatedAsset]]) -> dict[str, list[RatedAsset]]:
        return {
            key: sorted(items, key=lambda i: (-i.average, -i.count, i.title))[:limit]
            for key, items in sorted(groups.items())
        }

    return {"segment": best(by_segment), "kind": best(by_kind)}


@dataclass(frozen=True)
class Unopened:
    asset_id: int
    title: str
    owner: str
    published_on: date


def _unopened(today: date, days: int, viewer: Viewer | None) -> Select[Any]:
    since = _since(today, days)
    used = select(UsageEvent.asset_id).where(
        UsageEvent.kind.in_([UsageKind.VIEW, UsageKind.DOWNLOAD]),
        UsageEvent.occurred_at >= since,
        UsageEvent.asset_id.is_not(None),
    )
    return (
        select(Asset.id, Asset.title, User.display_name, Asset.created_at)
        .join(User, User.id == Asset.owner_id)
        .where(Asset.status == AssetStatus.PUBLISHED, Asset.created_at < since, Asset.id.not_in(used))
        .where(true() if viewer is None else visible_condition(viewer))
    )


def unopened(
    session: Session, today: date, days: int = 90, limit: int | None = None, viewer: Viewer | None = None
) -> list[Unopened]:
    """Published assets older than ``days`` that nobody viewed or downloaded in ``days``: candidates to archive.

    The longest published first; at most ``limit`` of them."""
    stmt = _unopened(today, days, viewer).order_by(Asset.created_at, Asset.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = session.execute(stmt).all()
    return [Unopened(asset_id, title, owner, created.date()) for asset_id, title, owner, created in rows]


def count_unopened(session: Session, today: date, days: int = 90, viewer: Viewer | None = None) -> int:
    """How many assets ``unopened`` finds."""
    return session.scalar(select(func.count()).select_from(_unopened(today, days, viewer).subquery())) or 0
