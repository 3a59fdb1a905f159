"""Usage events: who viewed or downloaded which version, and (from the search issue) what was searched."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.db import Database
from kb.models import UsageEvent, UsageKind, utcnow


def record(
    db: Database,
    kind: UsageKind,
    *,
    user_id: int | None,
    asset_id: int | None = None,
    version_id: int | None = None,
    query: str | None = None,
    filters: dict | None = None,
    result_count: int | None = None,
    search_id: int | None = None,
) -> int:
    """Records one event and returns its id (a search's id goes into its result links as ``s=``)."""
    with db.transaction() as session:
        if search_id is not None:
            origin = session.get(UsageEvent, search_id)
            if origin is None or origin.kind != UsageKind.SEARCH or origin.user_id != user_id:
                search_id = None  # a link from someone else's search, or a made-up id: not counted as a click
        event = UsageEvent(
            kind=kind,
            user_id=user_id,
            asset_id=asset_id,
            version_id=version_id,
            query=query,
            filters=filters,
            result_count=result_count,
            search_id=search_id,
        )
        session.add(event)
        session.flush()
        return event.id


def search_text(session: Session, search_id: int, user_id: int) -> str | None:
    """What this person typed in their search ``search_id``; None for someone else's search or no such one."""
    event = session.get(UsageEvent, search_id)
    if event is None or event.kind != UsageKind.SEARCH or event.user_id != user_id:
        return None
    return event.query


def counts_for_asset(session: Session, asset_id: int, days: int = 30, now: datetime | None = None) -> dict[str, int]:
    """Views and downloads of an asset in the last ``days`` days."""
    since = (now or utcnow()) - timedelta(days=days)
    rows = session.execute(
        select(UsageEvent.kind, func.count())
        .where(UsageEvent.asset_id == asset_id, UsageEvent.occurred_at >= since)
        .group_by(UsageEvent.kind)
    )
    return {str(kind): n for kind, n in rows}
