"""Reading the content library: which assets a person may see, lists, versions and their extracted pages.

Who may see an asset depends on its status (sales see published assets only) and its audiences (an asset
restricted to audiences exists only for their members, its owner and administrators: ``kb.audiences``); every
function here takes the viewer, a user row or the signed-in person."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import Session, joinedload

from kb.audiences import Viewer, visible_condition
from kb.errors import N_, Archived, NotFound, ValidationError
from kb.feedback import open_flag_counts
from kb.models import Asset, AssetStatus, AssetVersion, ExtractedPage, FlagStatus, Role, StaleFlag, User
from kb.search.signals import REVIEW_DUE_DAYS, freshness

#: An asset named by its number, or by a link to its page (as people copy it from the address bar).
_ASSET_REF = re.compile(r"(?:\S*/assets/)?(\d{1,12})/?(?:[?#]\S*)?")
MAX_ID = 2**63 - 1


def parse_asset_ref(value: object, field: str) -> int | None:
    """The asset number in ``value`` (a number, or a link to an asset's page); None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number: object = value
    if isinstance(value, str):
        match = _ASSET_REF.fullmatch(value.strip())
        number = int(match.group(1)) if match else None
    if not isinstance(number, int) or isinstance(number, bool) or not 0 < number < MAX_ID:
        raise ValidationError(N_("Give the asset as its number or a link to its page."), field=field)
    return number


def can_see_unpublished(role: Role | str) -> bool:
    return Role(role).includes(Role.MARKETING)


def visible_assets(viewer: Viewer) -> Select[tuple[Asset]]:
    """Assets a person may see: sales see published ones only, marketing and admin also drafts and archived;
    an asset restricted to audiences only its audiences' members, its owner and admins."""
    stmt = select(Asset).where(visible_condition(viewer))
    if not can_see_unpublished(viewer.role):
        stmt = stmt.where(Asset.status == AssetStatus.PUBLISHED)
    return stmt


def get_asset(session: Session, asset_id: int, viewer: Viewer) -> Asset:
    """The asset if this person may see it; a draft, or an asset of an audience they are not in, is simply not
    found (a 404 like an asset that never existed)."""
    asset = session.scalars(
        visible_assets(viewer)
        .where(Asset.id == asset_id)
        .options(joinedload(Asset.current_version), joinedload(Asset.owner))
    ).first()
    if asset is None:
        _raise_if_archived(session, asset_id, viewer)
        raise NotFound(N_("No such asset."))
    return asset


def _raise_if_archived(session: Session, asset_id: int, viewer: Viewer) -> None:
    """An archived asset is gone for sales, but their old links say so, and where to go instead (a draft, or an
    asset of an audience they are not in, stays unknown: it was never theirs to see)."""
    archived = session.scalars(
        select(Asset).where(Asset.id == asset_id, Asset.status == AssetStatus.ARCHIVED, visible_condition(viewer))
    ).first()
    if archived is None:
        return
    replacement = session.get(Asset, archived.replaced_by_id) if archived.replaced_by_id else None
    shown = (
        replacement is not None
        and replacement.status == AssetStatus.PUBLISHED
        and session.scalar(select(Asset.id).where(Asset.id == replacement.id, visible_condition(viewer))) is not None
    )
    raise Archived(
        N_("This asset was archived and is no longer offered."),
        title=archived.title,
        archived_on=(archived.archived_at or archived.updated_at).date(),
        replaced_by=(replacement.id, replacement.title) if shown and replacement is not None else None,
    )


#: How the library can be ordered, each with the direction that comes first: the latest change, A to Z,
#: the soonest review (the most urgent on top).
LIBRARY_SORTS = {"updated": "desc", "title": "asc", "product": "asc", "owner": "asc", "review": "asc"}
DEFAULT_SORT = "updated"


@dataclass(frozen=True)
class LibraryQuery:
    """What the library shows: filters, and the order (a name from ``LIBRARY_SORTS``, "-" before it reverses)."""

    kind: str | None = None
    status: str | None = None
    owner_id: int | None = None
    product: str | None = None
    freshness: str | None = None
    sort: str = DEFAULT_SORT

    @property
    def sort_key(self) -> str:
        return self.sort.lstrip("-")

    @property
    def descending(self) -> bool:
        first = LIBRARY_SORTS[self.sort_key]
        return (first == "desc") != self.sort.startswith("-")


def parse_sort(value: str | None) -> str | None:
    """A valid sort name from a request, or None."""
    if not value or value.lstrip("-") not in LIBRARY_SORTS or value.count("-") > 1:
        return None
    return value


@dataclass(frozen=True)
class AssetPage:
    items: list[Asset]
    total: int
    page: int
    per_page: int
    #: Open flags of the listed assets, and the freshness of the published ones among them.
    open_flags: dict[int, int] = field(default_factory=dict)
    freshness: dict[int, str] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _open_flag() -> Any:
    return exists().where(StaleFlag.asset_id == Asset.id, StaleFlag.status == FlagStatus.OPEN)


def _freshness_filter(state: str, today: date) -> Any:
    """The SQL condition for one freshness state (kb.search.signals.freshness); only published assets have one."""
    due = today + timedelta(days=REVIEW_DUE_DAYS)
    published = Asset.status == AssetStatus.PUBLISHED
    if state == "flagged":
        return and_(published, _open_flag())
    condition = {
        "overdue": Asset.next_review_on < today,
        "review_due": Asset.next_review_on.between(today, due),
        "fresh": Asset.next_review_on > due,
    }[state]
    return and_(published, ~_open_flag(), condition)


def _order(query: LibraryQuery) -> list[Any]:
    column: Any = {
        "updated": Asset.updated_at,
        "title": Asset.title,
        "product": Asset.product,
        "owner": User.display_name,
        "review": Asset.next_review_on,
    }[query.sort_key]
    order = [column.desc() if query.descending else column.asc(), Asset.id.desc() if query.descending else Asset.id]
    if query.sort_key == "product":  # assets without a product last, whichever the direction
        order.insert(0, Asset.product == "")
    return order


def list_assets(
    session: Session,
    viewer: Viewer,
    query: LibraryQuery | None = None,
    *,
    page: int = 1,
    per_page: int = 25,
    today: date | None = None,
) -> AssetPage:
    """One page of the assets a person may see, filtered and ordered as ``query`` says."""
    query = query or LibraryQuery()
    today = today or date.today()
    stmt = visible_assets(viewer).join(User, User.id == Asset.owner_id)
    if query.kind:
        stmt = stmt.where(Asset.kind == query.kind)
    if query.status:
        stmt = stmt.where(Asset.status == query.status)
    if query.owner_id:
        stmt = stmt.where(Asset.owner_id == query.owner_id)
    if query.product:
        stmt = stmt.where(Asset.product == query.product)
    if query.freshness:
        stmt = stmt.where(_freshness_filter(query.freshness, today))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = max(1, page)
    # The page's ids first, then their rows with version and owner: sorting every matching asset with its
    # joined rows took 80 ms at 10,000 published assets, sorting their ids a few.
    window = stmt.with_only_columns(Asset.id).order_by(*_order(query)).offset((page - 1) * per_page).limit(per_page)
    ids = list(session.scalars(window))
    rows = {
        asset.id: asset
        for asset in session.scalars(
            select(Asset).where(Asset.id.in_(ids)).options(joinedload(Asset.current_version), joinedload(Asset.owner))
        ).unique()
    }
    items = [rows[i] for i in ids if i in rows]
    flags = open_flag_counts(session, ids)
    states = {
        a.id: freshness(a.next_review_on, flags.get(a.id, 0), today) for a in items if a.status == AssetStatus.PUBLISHED
    }
    return AssetPage(items, total, page, per_page, flags, states)


def recent_assets(session: Session, viewer: Viewer, limit: int = 10) -> list[Asset]:
    return list_assets(session, viewer, page=1, per_page=limit).items


def library_choices(session: Session, viewer: Viewer) -> tuple[list[tuple[int, str]], list[str]]:
    """The owners and the products of the assets a person may see, for the library's filters."""
    visible = visible_assets(viewer).subquery()
    owners = session.execute(
        select(User.id, User.display_name).where(User.id.in_(select(visible.c.owner_id))).order_by(User.display_name)
    ).all()
    products = session.scalars(
        select(visible.c.product).where(visible.c.product != "").distinct().order_by(visible.c.product)
    ).all()
    return [(i, n) for i, n in owners], list(products)


def status_counts(session: Session, viewer: Viewer) -> dict[str, int]:
    """How many visible assets there are in each status."""
    sub = visible_assets(viewer).subquery()
    rows = session.execute(select(sub.c.status, func.count()).group_by(sub.c.status))
    return {str(status): count for status, count in rows}


def versions(session: Session, asset_id: int) -> list[AssetVersion]:
    return list(
        session.scalars(
            select(AssetVersion)
            .where(AssetVersion.asset_id == asset_id)
            .options(joinedload(AssetVersion.published_by))
            .order_by(AssetVersion.number.desc())
        )
    )


def get_version(session: Session, asset_id: int, number: int) -> AssetVersion:
    version = session.scalars(
        select(AssetVersion).where(AssetVersion.asset_id == asset_id, AssetVersion.number == number)
    ).first()
    if version is None:
        raise NotFound(N_("No such version."))
    return version


def pages(session: Session, version_id: int) -> list[ExtractedPage]:
    return list(
        session.scalars(
            select(ExtractedPage).where(ExtractedPage.version_id == version_id).order_by(ExtractedPage.number)
        )
    )


def publishers(session: Session) -> list[User]:
    """Active users who may own assets (marketing and admin)."""
    return list(
        session.scalars(
            select(User)
            .where(User.active.is_(True), User.role.in_([Role.MARKETING, Role.ADMIN]))
            .order_by(User.display_name)
        )
    )
