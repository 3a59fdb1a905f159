"""Reading the content library: which assets a person may see, and the recent ones for the home page."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload

from kb.models import Asset, AssetStatus, Role


def visible_assets(role: Role) -> Select[tuple[Asset]]:
    """Assets a role may see: sales see published ones only; marketing and admin also drafts and archived."""
    stmt = select(Asset)
    if not Role(role).includes(Role.MARKETING):
        stmt = stmt.where(Asset.status == AssetStatus.PUBLISHED)
    return stmt


def recent_assets(session: Session, role: Role, limit: int = 10) -> list[Asset]:
    stmt = (
        visible_assets(role)
        .options(joinedload(Asset.current_version), joinedload(Asset.owner))
        .order_by(Asset.updated_at.desc(), Asset.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt).unique())


def status_counts(session: Session, role: Role) -> dict[str, int]:
    """How many visible assets there are in each status."""
    sub = visible_assets(role).subquery()
    rows = session.execute(select(sub.c.status, func.count()).group_by(sub.c.status))
    return {str(status): count for status, count in rows}
