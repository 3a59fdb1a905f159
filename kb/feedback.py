"""Sales feedback on assets: star ratings and stale flags, with the rules that keep them consistent.

One rating per person per asset (changed or removed at will, tied to the version rated); one open flag per
person per asset (flagging again adds to it). Flags are dismissed or resolved by marketing; publishing a new
version resolves every open flag on the asset (``resolve_by_version``, called in the publishing transaction).
Each change re-indexes the asset and tells the people concerned (``kb.notifications``) in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from kb import audiences, notifications
from kb.db import Database
from kb.errors import N_, Conflict, Forbidden, NotFound, ValidationError
from kb.models import (
    Asset,
    AssetStatus,
    AssetVersion,
    FlagStatus,
    NotificationKind,
    Rating,
    Role,
    StaleFlag,
    User,
    utcnow,
)

#: Reason codes of a stale flag, in the order people are offered them.
REASONS = ("prices_outdated", "specs_wrong", "legal_expired", "missing_info", "broken_file", "superseded", "other")
REASON_LABELS = {
    "prices_outdated": N_("Prices outdated"),
    "specs_wrong": N_("Wrong specifications"),
    "legal_expired": N_("Legal terms expired"),
    "missing_info": N_("Missing information"),
    "broken_file": N_("Broken file"),
    "superseded": N_("Superseded by other content"),
    "other": N_("Other"),
}
#: Reasons that say too little on their own: a comment is required.
COMMENT_REQUIRED = ("missing_info", "other")
MAX_COMMENT = 2000
MAX_NOTE = 2000


# --- ratings ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatingSummary:
    current_average: float | None
    current_count: int
    overall_average: float | None
    overall_count: int
    mine: Rating | None


def _comment(value: str | None, field: str, maximum: int, *, required: bool = False) -> str:
    text = (value or "").replace("\x00", "").strip()
    if required and not text:
        raise ValidationError(N_("Please add a comment that says what is wrong."), field=field)
    if len(text) > maximum:
        raise ValidationError(N_("At most %(maximum)s characters, please."), field=field, maximum=maximum)
    return text


def _active_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise Forbidden(N_("Your account is not active."))
    return user


def _visible_asset(session: Session, user: User, asset_id: int) -> Asset:
    """The asset, if this person may see it (sales see published assets only; an asset of an audience they are
    not in is not found: ``kb.audiences``)."""
    asset = session.get(Asset, asset_id)
    if asset is None or (asset.status != AssetStatus.PUBLISHED and not Role(user.role).includes(Role.MARKETING)):
        raise NotFound(N_("No such asset."))
    if not audiences.may_see(session, user, asset_id):
        raise NotFound(N_("No such asset."))
    return asset


def _open_for_feedback(asset: Asset) -> int:
    if asset.status == AssetStatus.ARCHIVED:
        raise Conflict(N_("The asset is archived; it takes no ratings or flags."))
    if asset.current_version_id is None:
        raise Conflict(N_("The asset has no version yet."))
    return asset.current_version_id


def _stars(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError(N_("Stars must be a whole number from 1 to 5."), field="stars")
    try:
        stars = int(value)
    except ValueError:
        raise ValidationError(N_("Stars must be a whole number from 1 to 5."), field="stars") from None
    if not 1 <= stars <= 5:
        raise ValidationError(N_("Stars must be a whole number from 1 to 5."), field="stars")
    return stars


def rate(db: Database, user_id: int, asset_id: int, stars: object, comment: str | None = "") -> Rating:
    """Sets this person's rating of the asset's current version; returns it (created or changed)."""
    value = _stars(stars)
    text = _comment(comment, "comment", MAX_COMMENT)
    with db.transaction() as session:
        user = _active_user(session, user_id)
        asset = _visible_asset(session, user, asset_id)
        version_id = _open_for_feedback(asset)
        now = utcnow()
        values = {
            "asset_id": asset.id,
            "user_id": user.id,
            "version_id": version_id,
            "stars": value,
            "comment": text,
            "created_at": now,
            "updated_at": now,
        }
        # One statement that inserts or updates: concurrent ratings by one person from several processes
        # cannot create two rows or fail on the unique constraint.
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = insert(Rating).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["asset_id", "user_id"],
            set_={"version_id": version_id, "stars": value, "comment": text, "updated_at": now},
        )
        session.execute(statement)
        rating = session.scalars(
            select(Rating)
            .where(Rating.asset_id == asset.id, Rating.user_id == user.id)
            .execution_options(populate_existing=True)
        ).one()
        session.expunge(rating)
        return rating


def remove_rating(db: Database, user_id: int, asset_id: int) -> bool:
    """Removes this person's rating of the asset; False when there was none."""
    with db.transaction() as session:
        user = _active_user(session, user_id)
        asset = _visible_asset(session, user, asset_id)
        rating = session.scalars(select(Rating).where(Rating.asset_id == asset.id, Rating.user_id == user.id)).first()
        if rating is None:
            return False
        session.delete(rating)
        return True


def rating_summary(session: Session, asset: Asset, user_id: int | None) -> RatingSummary:
    def average(*conditions: object) -> tuple[float | None, int]:
        avg, count = session.execute(
            select(func.avg(Rating.stars), func.count()).where(Rating.asset_id == asset.id, *conditions)
        ).one()
        return (round(float(avg), 2) if avg is not None else None), int(count)

    current_avg, current_count = average(Rating.version_id == asset.current_version_id)
    overall_avg, overall_count = average()
    mine = (
        session.scalars(select(Rating).where(Rating.asset_id == asset.id, Rating.user_id == user_id)).first()
        if user_id is not None
        else None
    )
    return RatingSummary(current_avg, current_count, overall_avg, overall_count, mine)


@dataclass(frozen=True)
class RatingComment:
    author: str
    stars: int
    comment: str
    version: int
    updated_at: datetime


def rating_comments(session: Session, asset_id: int, limit: int = 50) -> list[RatingComment]:
    rows = session.execute(
        select(User.display_name, Rating.stars, Rating.comment, AssetVersion.number, Rating.updated_at)
        .join(User, User.id == Rating.user_id)
        .join(AssetVersion, AssetVersion.id == Rating.version_id)
        .where(Rating.asset_id == asset_id, Rating.comment != "")
        .order_by(Rating.updated_at.desc(), Rating.id.desc())
        .limit(limit)
    )
    return [RatingComment(*row) for row in rows]


# --- stale flags --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlagResult:
    flag_id: int
    joined: bool


def _reason(value: object) -> str:
    if not isinstance(value, str) or value not in REASONS:
        raise ValidationError(N_("Choose a reason from the list."), field="reason")
    return value


def _page(value: object) -> int | None:
    if value is None or value == "":
        return None
    # Like stars: a whole number or its text; a float such as 1.5 from JSON is refused, not truncated.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError(N_("The page must be a whole number from 1."), field="page")
    try:
        page = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValidationError(N_("The page must be a whole number from 1."), field="page") from None
    if not 1 <= page <= 100_000:
        raise ValidationError(N_("The page must be a whole number from 1."), field="page")
    return page


def raise_flag(
    db: Database, user_id: int, asset_id: int, reason: object, comment: str | None = "", page: object = None
) -> FlagResult:
    """Flags the asset as outdated, or adds to this person's open flag on it (``joined``)."""
    code = _reason(reason)
    text = _comment(comment, "comment", MAX_COMMENT, required=code in COMMENT_REQUIRED)
    page_number = _page(page)
    with db.transaction() as session:
        user = _active_user(session, user_id)
        asset = _visible_asset(session, user, asset_id)
        version_id = _open_for_feedback(asset)
        flag = session.scalars(
            select(StaleFlag).where(
                StaleFlag.asset_id == asset.id,
                StaleFlag.raised_by_id == user.id,
                StaleFlag.status == FlagStatus.OPEN,
            )
        ).first()
        joined = flag is not None
        if flag is None:
            flag = StaleFlag(
                asset_id=asset.id,
                version_id=version_id,
                raised_by_id=user.id,
                reason=code,
                comment=text,
                page=page_number,
                also_reasons=[],
                reports=1,
            )
            session.add(flag)
        else:
            if code != flag.reason and code not in flag.also_reasons:
                flag.also_reasons = [*flag.also_reasons, code]
            if text:
                flag.comment = f"{flag.comment}\n\n{text}".strip() if flag.comment else text
            if page_number is not None:
                flag.page = page_number
            flag.reports += 1
            flag.version_id = version_id
            flag.updated_at = utcnow()
        session.flush()
        if asset.owner_id != user.id:
            notifications.notify(
                session,
                asset.owner_id,
                NotificationKind.FLAG_RAISED,
                dedupe_key=f"flag_raised:{flag.id}:{flag.reports}",
                asset_id=asset.id,
                flag_id=flag.id,
                actor_id=user.id,
                data={"reason": code, "comment": text, "page": page_number},
            )
        return FlagResult(flag_id=flag.id, joined=joined)


@dataclass(frozen=True)
class FlagView:
    id: int
    asset_id: int
    reasons: list[str]
    comment: str
    page: int | None
    status: str
    raised_by_id: int
    raised_by: str
    version: int
    reports: int
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    close_note: str
    resolved_by_version: int | None


def list_flags(session: Session, asset_id: int, *, open_only: bool = False) -> list[FlagView]:
    """The asset's flags, open ones first, newest first."""
    raiser = User.__table__.alias("raiser")
    closer = User.__table__.alias("closer")
    resolving = AssetVersion.__table__.alias("resolving")
    statement = (
        select(StaleFlag, raiser.c.display_name, closer.c.display_name, AssetVersion.number, resolving.c.number)
        .join(raiser, raiser.c.id == StaleFlag.raised_by_id)
        .outerjoin(closer, closer.c.id == StaleFlag.closed_by_id)
        .join(AssetVersion, AssetVersion.id == StaleFlag.version_id)
        .outerjoin(resolving, resolving.c.id == StaleFlag.resolved_by_version_id)
        .where(StaleFlag.asset_id == asset_id)
    )
    if open_only:
        statement = statement.where(StaleFlag.status == FlagStatus.OPEN)
    rows = session.execute(statement)
    views = [
        FlagView(
            id=flag.id,
            asset_id=flag.asset_id,
            reasons=flag.reasons,
            comment=flag.comment,
            page=flag.page,
            status=str(flag.status),
            raised_by_id=flag.raised_by_id,
            raised_by=raised_by,
            version=version,
            reports=flag.reports,
            created_at=flag.created_at,
            updated_at=flag.updated_at,
            closed_at=flag.closed_at,
            closed_by=closed_by,
            close_note=flag.close_note,
            resolved_by_version=resolved_by,
        )
        for flag, raised_by, closed_by, version, resolved_by in rows
    ]
    views.sort(key=lambda v: (v.status != FlagStatus.OPEN, -v.updated_at.timestamp(), -v.id))
    return views


def open_flag_counts(session: Session, asset_ids: list[int]) -> dict[int, int]:
    """Open flags per asset, for lists of assets such as search results."""
    if not asset_ids:
        return {}
    rows = session.execute(
        select(StaleFlag.asset_id, func.count())
        .where(StaleFlag.asset_id.in_(asset_ids), StaleFlag.status == FlagStatus.OPEN)
        .group_by(StaleFlag.asset_id)
    )
    return {asset_id: int(count) for asset_id, count in rows}


def _require_marketing(session: Session, actor_id: int) -> User:
    actor = _active_user(session, actor_id)
    if not Role(actor.role).includes(Role.MARKETING):
        raise Forbidden(N_("Dismissing and resolving flags needs the marketing role."))
    return actor


def _open_flag(session: Session, flag_id: int, actor: User) -> StaleFlag:
    flag = session.get(StaleFlag, flag_id)
    if flag is None or not audiences.may_see(session, actor, flag.asset_id):
        raise NotFound(N_("No such flag."))
    if flag.status != FlagStatus.OPEN:
        raise Conflict(N_("This flag is already closed."))
    return flag


def dismiss_flag(db: Database, actor_id: int, flag_id: int, note: str | None) -> None:
    """Closes a flag as not needing a change; the note (required) tells the person who raised it why."""
    text = _comment(note, "note", MAX_NOTE, required=True)
    with db.transaction() as session:
        actor = _require_marketing(session, actor_id)
        flag = _open_flag(session, flag_id, actor)
        _close(session, flag, actor, FlagStatus.DISMISSED, text, None)


def resolve_flag(db: Database, actor_id: int, flag_id: int, note: str | None = "") -> None:
    """Closes a flag as fixed without a new version (e.g. the fix was elsewhere)."""
    text = _comment(note, "note", MAX_NOTE)
    with db.transaction() as session:
        actor = _require_marketing(session, actor_id)
        flag = _open_flag(session, flag_id, actor)
        _close(session, flag, actor, FlagStatus.RESOLVED, text, None)


def resolve_by_version(session: Session, asset: Asset, version: AssetVersion, actor_id: int) -> int:
    """Resolves every open flag on the asset with the new version; returns how many. Caller commits."""
    actor = session.get(User, actor_id)
    flags = session.scalars(
        select(StaleFlag).where(StaleFlag.asset_id == asset.id, StaleFlag.status == FlagStatus.OPEN)
    ).all()
    for flag in flags:
        _close(session, flag, actor, FlagStatus.RESOLVED, version.change_note, version)
    return len(flags)


def _close(
    session: Session,
    flag: StaleFlag,
    actor: User | None,
    status: FlagStatus,
    note: str,
    version: AssetVersion | None,
) -> None:
    flag.status = status
    flag.closed_at = utcnow()
    flag.closed_by_id = actor.id if actor is not None else None
    flag.close_note = note
    flag.resolved_by_version_id = version.id if version is not None else None
    if actor is not None and actor.id == flag.raised_by_id:
        return  # people are not told of what they did themselves
    kind = NotificationKind.FLAG_DISMISSED if status == FlagStatus.DISMISSED else NotificationKind.FLAG_RESOLVED
    notifications.notify(
        session,
        flag.raised_by_id,
        kind,
        dedupe_key=f"{kind}:{flag.id}",
        asset_id=flag.asset_id,
        flag_id=flag.id,
        version_id=version.id if version is not None else None,
        actor_id=flag.closed_by_id,
        data={
            "note": note,
            "reasons": flag.reasons,
            "version": version.number if version is not None else None,
        },
    )
