"""What a person's home page holds for them. Sales: the assets they follow, the flags they raised and what
became of them, what they opened lately. Marketing: their own work: their assets by freshness, the open flags
on them, and where those assets stand in the freshness queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, joinedload

from kb import freshness as freshness_queue
from kb.assets import visible_assets
from kb.feedback import open_flag_counts
from kb.models import Asset, AssetStatus, FlagStatus, Follow, StaleFlag, UsageEvent, UsageKind, User
from kb.search.signals import FRESHNESS_STATES, freshness

#: How many lines each list shows; the pages behind them show the rest.
LIST_LIMIT = 10
#: A flag closed this recently still shows to the person who raised it, with what became of it.
CLOSED_FLAG_DAYS = 30


@dataclass(frozen=True)
class FlagLine:
    """One flag as a home page lists it."""

    flag_id: int
    asset_id: int
    title: str
    reason: str
    comment: str
    raised_on: datetime
    raised_by: str
    status: str
    closed_on: datetime | None = None
    close_note: str = ""


@dataclass(frozen=True)
class SalesHome:
    followed: list[Asset]
    flags: list[FlagLine]
    viewed: list[Asset]
    #: Freshness of the published assets above, and their open flags.
    freshness: dict[int, str] = field(default_factory=dict)
    open_flags: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class QueuePlace:
    """One of my assets in the freshness queue, and its place in the whole queue (1 comes first)."""

    place: int
    item: freshness_queue.QueueItem


@dataclass(frozen=True)
class MarketingHome:
    #: My published assets per freshness state, and my drafts.
    counts: dict[str, int]
    drafts: int
    flags: list[FlagLine]
    flags_total: int
    queue: list[QueuePlace]
    queue_mine: int
    queue_total: int

    @property
    def owns_assets(self) -> bool:
        return bool(sum(self.counts.values()) or self.drafts)


def _flag_lines(session: Session, *conditions: object, limit: int = LIST_LIMIT) -> list[FlagLine]:
    raiser = aliased(User)
    rows = session.execute(
        select(StaleFlag, Asset.title, raiser.display_name)
        .join(Asset, Asset.id == StaleFlag.asset_id)
        .join(raiser, raiser.id == StaleFlag.raised_by_id)
        .where(*conditions)  # type: ignore[arg-type]
        .order_by(StaleFlag.status != FlagStatus.OPEN, StaleFlag.created_at.desc(), StaleFlag.id.desc())
        .limit(limit)
    ).all()
    return [
        FlagLine(
            flag_id=flag.id,
            asset_id=flag.asset_id,
            title=title,
            reason=flag.reason,
            comment=flag.comment,
            raised_on=flag.created_at,
            raised_by=name,
            status=flag.status,
            closed_on=flag.closed_at,
            close_note=flag.close_note,
        )
        for flag, title, name in rows
    ]


def _states(session: Session, items: list[Asset], today: date) -> tuple[dict[int, str], dict[int, int]]:
    flags = open_flag_counts(session, [a.id for a in items])
    states = {
        a.id: freshness(a.next_review_on, flags.get(a.id, 0), today) for a in items if a.status == AssetStatus.PUBLISHED
    }
    return states, flags


def sales_home(session: Session, user: User, today: date, now: datetime) -> SalesHome:
    """A salesperson's home: followed assets (latest change first), their flags (open ones first, then those
    closed in the last 30 days), and the assets they opened lately."""
    followed = list(
        session.scalars(
            visible_assets(user)
            .join(Follow, Follow.asset_id == Asset.id)
            .where(Follow.user_id == user.id)
            .options(joinedload(Asset.current_version), joinedload(Asset.owner))
            .order_by(Asset.updated_at.desc(), Asset.id.desc())
            .limit(LIST_LIMIT)
        ).unique()
    )
    recent_closed = now - timedelta(days=CLOSED_FLAG_DAYS)
    flags = _flag_lines(
        session,
        StaleFlag.raised_by_id == user.id,
        (StaleFlag.status == FlagStatus.OPEN) | (StaleFlag.closed_at >= recent_closed),
        Asset.id.in_(visible_assets(user).with_only_columns(Asset.id)),
    )
    last_view = (
        select(UsageEvent.asset_id, func.max(UsageEvent.occurred_at).label("at"))
        .where(UsageEvent.user_id == user.id, UsageEvent.kind == UsageKind.VIEW, UsageEvent.asset_id.is_not(None))
        .group_by(UsageEvent.asset_id)
        .subquery()
    )
    viewed = list(
        session.scalars(
            visible_assets(user)
            .join(last_view, last_view.c.asset_id == Asset.id)
            .options(joinedload(Asset.current_version), joinedload(Asset.owner))
            .order_by(last_view.c.at.desc(), Asset.id.desc())
            .limit(LIST_LIMIT)
        ).unique()
    )
    states, open_flags = _states(session, followed + viewed, today)
    return SalesHome(followed, flags, viewed, states, open_flags)


def marketing_home(session: Session, user: User, today: date) -> MarketingHome:
    """A marketing person's work: their assets by freshness, the open flags on them (newest first), and their
    assets in the freshness queue with each one's place in the whole queue."""
    mine = session.execute(
        select(Asset.id, Asset.next_review_on, Asset.status).where(
            Asset.owner_id == user.id, Asset.status != AssetStatus.ARCHIVED
        )
    ).all()
    flags_by_asset = open_flag_counts(session, [row.id for row in mine])
    counts = dict.fromkeys(FRESHNESS_STATES, 0)
    drafts = 0
    for row in mine:
        if row.status == AssetStatus.PUBLISHED:
            counts[freshness(row.next_review_on, flags_by_asset.get(row.id, 0), today)] += 1
        else:
            drafts += 1
    on_mine = (Asset.owner_id == user.id, StaleFlag.status == FlagStatus.OPEN)
    flags = _flag_lines(session, *on_mine)
    mine_queued = freshness_queue.queue(
        session, today, freshness_queue.QueueFilters(owner_id=user.id), limit=LIST_LIMIT, viewer=user
    )
    where = freshness_queue.places(session, today, mine_queued.items, viewer=user)
    return MarketingHome(
        counts=counts,
        drafts=drafts,
        flags=flags,
        flags_total=sum(flags_by_asset.values()),
        queue=[QueuePlace(where[item.asset_id], item) for item in mine_queued.items],
        queue_mine=mine_queued.total,
        queue_total=sum(count for _owner, _name, count in mine_queued.owners),
    )
