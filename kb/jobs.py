"""The job table as a durable outbox: work is enqueued in the same transaction as its cause, then claimed.

A worker claims one job at a time under a lease. On SQLite the claim runs in a ``BEGIN IMMEDIATE``
transaction, so two workers never take the same job; on PostgreSQL it uses ``FOR UPDATE SKIP LOCKED``. A job
whose worker died is taken again once its lease has expired; after ``max_attempts`` tries it is marked failed
and shown to admins with its last error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from kb.db import Database
from kb.models import Job, JobStatus, utcnow

DEFAULT_LEASE = timedelta(minutes=5)
#: What to do, in the same transaction, when a job of a kind has failed for good (kind -> hook).
_FINAL_FAILURE_HOOKS: dict[str, Callable[[Session, dict[str, Any], str], None]] = {}
RETRY_DELAYS = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2))


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempt: int


def on_final_failure(kind: str, hook: Callable[[Session, dict[str, Any], str], None]) -> None:
    """Registers ``hook(session, payload, error)`` to run when a job of ``kind`` gives up."""
    _FINAL_FAILURE_HOOKS[kind] = hook


def enqueue(session: Session, kind: str, payload: dict[str, Any], *, max_attempts: int = 3) -> Job:
    """Adds a job inside the caller's transaction: it exists exactly when the caller's change commits."""
    job = Job(kind=kind, payload=payload, max_attempts=max_attempts, status=JobStatus.QUEUED, run_after=utcnow())
    session.add(job)
    return job


def _due(now: datetime) -> Any:
    return or_(
        and_(Job.status == JobStatus.QUEUED, Job.run_after <= now),
        and_(Job.status == JobStatus.RUNNING, Job.locked_until < now),
    )


def claim(
    db: Database, worker_id: str, *, kinds: tuple[str, ...] | None = None, lease: timedelta = DEFAULT_LEASE
) -> ClaimedJob | None:
    """Takes the oldest due job (queued, or running with an expired lease), or None when there is none."""
    now = utcnow()
    with db.transaction() as session:
        while True:
            stmt = select(Job).where(_due(now)).order_by(Job.id).limit(1)
            if kinds:
                stmt = stmt.where(Job.kind.in_(kinds))
            if not db.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            job = session.scalars(stmt).first()
            if job is None:
                return None
            if job.status == JobStatus.RUNNING and job.attempts >= job.max_attempts:
                # Its last worker died mid-job: no tries left.
                _mark_failed(session, job, now, f"worker {job.locked_by} stopped during the last attempt")
                session.flush()
                continue
            job.status = JobStatus.RUNNING
            job.attempts += 1
            job.locked_by = worker_id[:120]
            job.locked_until = now + lease
            return ClaimedJob(id=job.id, kind=job.kind, payload=dict(job.payload), attempt=job.attempts)


def _mark_failed(session: Session, job: Job, now: datetime, error: str) -> None:
    hook = _FINAL_FAILURE_HOOKS.get(job.kind)
    if hook is not None:
        hook(session, dict(job.payload), error)
    job.status = JobStatus.FAILED
    job.last_error = error[:4000]
    job.finished_at = now
    job.locked_by = None
    job.locked_until = None


def complete(db: Database, job_id: int, worker_id: str) -> bool:
    """Marks a job done; False when the lease was lost to another worker (the result is then dropped)."""
    with db.transaction() as session:
        job = session.get(Job, job_id)
        if job is None or job.locked_by != worker_id[:120] or job.status != JobStatus.RUNNING:
            return False
        job.status = JobStatus.DONE
        job.finished_at = utcnow()
        job.locked_by = None
        job.locked_until = None
        job.last_error = None
        return True


def fail(db: Database, job_id: int, worker_id: str, error: str) -> None:
    """Records a failed attempt: the job is retried later, or marked failed when it has no tries left."""
    now = utcnow()
    with db.transaction() as session:
        job = session.get(Job, job_id)
        if job is None or job.locked_by != worker_id[:120]:
            return
        if job.attempts >= job.max_attempts:
            _mark_failed(session, job, now, error)
            return
        job.status = JobStatus.QUEUED
        job.last_error = error[:4000]
        job.locked_by = None
        job.locked_until = None
        job.run_after = now + RETRY_DELAYS[min(job.attempts - 1, len(RETRY_DELAYS) - 1)]


def failed_jobs(session: Session, limit: int = 100) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.status == JobStatus.FAILED).order_by(Job.id.desc()).limit(limit)))


def counts(session: Session) -> dict[str, int]:
    return {str(status): n for status, n in session.execute(select(Job.status, func.count()).group_by(Job.status))}


def retry(db: Database, job_id: int) -> None:
    """Puts a failed job back in the queue with fresh attempts (an admin's action)."""
    from kb.errors import N_, NotFound

    with db.transaction() as session:
        job = session.get(Job, job_id)
        if job is None or job.status != JobStatus.FAILED:
            raise NotFound(N_("No such failed job."))
        job.status = JobStatus.QUEUED
        job.attempts = 0
        job.run_after = utcnow()
        job.finished_at = None
