"""Keeping the index in step with the database: index jobs in the outbox, rebuild and check.

Anything that changes what the index holds (a version published or extracted, metadata edited, an asset
archived or its status changed) enqueues an ``index_asset`` job in its own transaction; the worker
re-indexes that asset from the database. Ratings, flags and review dates are not in the index (search reads
them from the database), so feedback queues no job. ``rebuild`` and ``check`` serve ``kb index``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb import jobs
from kb.db import Database
from kb.models import AssetVersion, Job, JobStatus
from kb.search import SearchBackend, backend_of
from kb.search.documents import IndexPage, all_asset_ids, all_stamps, asset_pages

INDEX_JOB = "index_asset"
REBUILD_BATCH = 200


def enqueue_index(session: Session, asset_id: int) -> None:
    """Asks the worker to re-index an asset once the caller's transaction commits. One job per asset waits at a
    time (it reads the asset when it runs), and it waits behind extraction, which would ask for it again."""
    jobs.enqueue(
        session,
        INDEX_JOB,
        {"asset_id": asset_id},
        max_attempts=5,
        priority=jobs.BACKGROUND,
        subject=f"asset:{asset_id}",
        coalesce=True,
    )


def run_index_job(context: Any, payload: dict[str, Any]) -> None:
    """Worker handler: the asset's documents, read from the database, replace what the index holds."""
    run_index_batch(context, [payload])


def run_index_batch(context: Any, payloads: list[dict[str, Any]]) -> None:
    """Worker handler for many index jobs at once: their assets replaced in the index in one commit."""
    asset_ids = sorted({int(p["asset_id"]) for p in payloads})
    with context.db.session() as session:
        pages = {asset_id: asset_pages(session, asset_id) for asset_id in asset_ids}
    backend_of(context.settings).replace_assets(pages)


def still_indexing(session: Session) -> int:
    """How many assets search cannot yet find as they stand: their text still waits to be extracted, or they
    wait for the index. Reads only the queued and running jobs (an index range), so it stays cheap however
    long the job history grows."""
    from kb.publishing import EXTRACT_JOB  # publishing imports this module

    active = (JobStatus.QUEUED, JobStatus.RUNNING)
    rows = session.execute(
        select(Job.kind, Job.subject, Job.payload).where(Job.status.in_(active), Job.kind.in_((INDEX_JOB, EXTRACT_JOB)))
    ).all()
    waiting = {subject for kind, subject, _payload in rows if kind == INDEX_JOB and subject}
    versions = [int(payload["version_id"]) for kind, _subject, payload in rows if kind == EXTRACT_JOB]
    for start in range(0, len(versions), 5000):
        chunk = versions[start : start + 5000]
        waiting.update(
            f"asset:{asset_id}"
            for asset_id in session.scalars(select(AssetVersion.asset_id).where(AssetVersion.id.in_(chunk)))
        )
    return len(waiting)


def _batches(db: Database) -> Iterator[list[IndexPage]]:
    with db.session() as session:
        ids = list(all_asset_ids(session))
    for start in range(0, len(ids), REBUILD_BATCH):
        with db.session() as session:
            batch: list[IndexPage] = []
            for asset_id in ids[start : start + REBUILD_BATCH]:
                batch.extend(asset_pages(session, asset_id))
        yield batch


def rebuild(db: Database, backend: SearchBackend) -> int:
    """A complete new index from the database; searches use the old one until it is ready."""
    return backend.rebuild(_batches(db))


@dataclass
class IndexReport:
    missing: list[int] = field(default_factory=list)
    extra: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    outdated: bool = False  # written in an older index format

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.stale or self.outdated)


def check(db: Database, backend: SearchBackend) -> IndexReport:
    """Compares the database with the index: assets missing from it, extra in it, or indexed out of date."""
    with db.session() as session:
        expected = all_stamps(session)
    indexed = backend.stamps()
    return IndexReport(
        outdated=backend.outdated(),
        missing=sorted(set(expected) - set(indexed)),
        extra=sorted(set(indexed) - set(expected)),
        stale=sorted(a for a in set(expected) & set(indexed) if expected[a] != indexed[a]),
    )
