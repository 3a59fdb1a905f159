"""Usage events: who viewed or downloaded which version (searches: ``kb.search_log``), and counts of them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb import audit
from kb.db import Database
from kb.models import UsageEvent, UsageKind, utcnow


def record(
    db: Database,
    kind: UsageKind,
    *,
    user_id: int | None,
    asset_id: int | None = None,
    version_id: int | None = None,
    search_key: str | None = None,
) -> None:
    """Records a view or a download; ``search_key`` names the search whose results it was opened from (a
    link's ``s=``: analytics count it as that search's click only when the search was the same person's).
    Searches are recorded by ``kb.search_log``, in batches."""
    with db.transaction() as session:
        session.add(
            UsageEvent(
                kind=kind, user_id=user_id, asset_id=asset_id, version_id=version_id, search_key=search_key
            )
        )


def record_download(db: Database, *, user_id: int, asset_id: int, version_id: int, subject: str) -> None:
    """A download: its usage event (analytics) and its audit log event (``kb.audit``), in one transaction."""
    with db.transaction() as session:
        session.add(UsageEvent(kind=UsageKind.DOWNLOAD, user_id=user_id, asset_id=asset_id, version_id=version_id))
        audit.record(session, audit.Action.DOWNLOAD, subject=subject, asset_id=asset_id, version_id=version_id)


def counts_for_asset(session: Session, asset_id: int, days: int = 30, now: datetime | None = None) -> dict[str, int]:
    """Views and downloads of an asset in the last ``days`` days."""
    since = (now or utcnow()) - timedelta(days=days)
    rows = session.execute(
        select(UsageEvent.kind, func.count())
        .where(UsageEvent.asset_id == asset_id, UsageEvent.occurred_at >= since)
        .group_by(UsageEvent.kind)
    )
    return {str(kind): n for kind, n in rows}
