"""The daily digest (``kb notify digest``): review-due notices and each owner's freshness queue.

It also re-indexes the assets whose review is due or overdue, so the freshness the search index shows
follows the calendar (flags and edits re-index at once). Safe to run as often as cron likes: a review-due
notice is keyed by the asset and its review date, a digest by the owner and the day, so a second run the
same day creates nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from kb import freshness, notifications
from kb.db import Database
from kb.models import Asset, AssetStatus, NotificationKind, User
from kb.search.signals import REVIEW_DUE_DAYS

DIGEST_ITEMS = 20


@dataclass(frozen=True)
class DigestReport:
    review_notices: int
    digests: int


def run(db: Database, today: date) -> DigestReport:
    """Creates today's review-due notices and digests that do not exist yet; returns how many were new."""
    review_notices = digests = 0
    with db.transaction() as session:
        due = session.execute(
            select(Asset.id, Asset.owner_id, Asset.next_review_on)
            .join(User, User.id == Asset.owner_id)
            .where(Asset.status == AssetStatus.PUBLISHED, User.active.is_(True))
            .where(Asset.next_review_on <= date.fromordinal(today.toordinal() + REVIEW_DUE_DAYS))
        ).all()
        for asset_id, owner_id, review_on in due:
            review_notices += notifications.notify(
                session,
                owner_id,
                NotificationKind.REVIEW_DUE,
                dedupe_key=f"review_due:{asset_id}:{review_on.isoformat()}",
                asset_id=asset_id,
                data={"review_on": review_on.isoformat()},
            )
        ranked = freshness.queue(session, today)
        by_owner: dict[int, list[freshness.QueueItem]] = {}
        for item in ranked.items:
            by_owner.setdefault(item.owner_id, []).append(item)
        active = set(session.scalars(select(User.id).where(User.id.in_(by_owner), User.active.is_(True))))
        for owner_id, items in by_owner.items():
            if owner_id not in active:
                continue
            digests += notifications.notify(
                session,
                owner_id,
                NotificationKind.DIGEST,
                dedupe_key=f"digest:{today.isoformat()}",
                data={
                    "count": len(items),
                    "items": [
                        {"asset_id": i.asset_id, "title": i.title, "score": i.score} for i in items[:DIGEST_ITEMS]
                    ],
                },
            )
    return DigestReport(review_notices=review_notices, digests=digests)
