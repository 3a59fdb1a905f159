"""The job table as a durable outbox: work is enqueued in the same transaction as its cause, then claimed.

A worker claims the most urgent due job (lowest ``priority``, then oldest) under a lease, or several jobs of
one kind at once (``claim_batch``: the index jobs, written in one commit). On SQLite the claim runs in a
``BEGIN IMMEDIATE`` transaction, so two workers never take the same job; on PostgreSQL it uses ``FOR UPDATE
SKIP LOCKED``. A worker renews its lease while it works (``heartbeat``); a job whose worker died is taken again
once its short lease has run out, seconds later; after ``max_attempts`` tries it is marked failed and shown to
admins with its last error. A job enqueued with a ``subject`` while another of its kind and subject still waits
is not added again (``coalesce``): one pending index job per asset, however many changes asked for it.
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

#: How long a claim holds without a heartbeat; the worker renews it every third of that while it works.
DEFAULT_LEASE = timedelta(seconds=30)
#: Priorities: lower runs first.
URGENT, NORMAL, BACKGROUND = 1, 5, 8
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


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    max_attempts: int = 3,
    priority: int = NORMAL,
    subject: str | None = None,
    coalesce: bool = False,
) -> Job:
    """Adds a job inside the caller's transaction: it exists exactly when the caller's change commits.

    With ``coalesce``, a job of this kind and ``subject`` that is queued and not yet taken stands for this one
    too (it will read the database when it runs, so it sees this change); that job is returned instead."""
    if coalesce and subject is not None:
        waiting = session.scalars(
            select(Job)
            .where(Job.kind == kind, Job.subject == subject, Job.status == JobStatus.QUEUED)
            .order_by(Job.id)
            .limit(1)
        ).first()
        if waiting is not None:
            return waiting
    job = Job(
        kind=kind,
        payload=payload,
        max_attempts=max_attempts,
        status=JobStatus.QUEUED,
        run_after=utcnow(),
        priority=priority,
        subject=subject,
    )
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
    """Takes the most urgent due job (queued, or running with an expired lease), or None when there is none."""
    taken = _claim(db, worker_id, kinds, lease, limit=1)
    return taken[0] if taken else None


def claim_batch(
    db: Database, worker_id: str, kind: str, limit: int, *, lease: timedelta = DEFAULT_LEASE
) -> list[ClaimedJob]:
    """Takes up to ``limit`` due jobs of one kind, the most urgent first, for one run of them all."""
    return _claim(db, worker_id, (kind,), lease, limit=limit)


def _claim(
    db: Database, worker_id: str, kinds: tuple[str, ...] | None, lease: timedelta, *, limit: int
) -> list[ClaimedJob]:
    now = utcnow()
    taken: list[ClaimedJob] = []
    with db.transaction() as session:
        while len(taken) < limit:
            stmt = select(Job).where(_due(now)).order_by(Job.priority, Job.id).limit(limit - len(taken))
            if kinds:
                stmt = stmt.where(Job.kind.in_(kinds))
            if taken:
                stmt = stmt.where(Job.id.not_in([t.id for t in taken]))
            if not db.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            found = list(session.scalars(stmt))
            if not found:
                break
            for job in found:
                if job.status == JobStatus.RUNNING and job.attempts >= job.max_attempts:
                    # Its last worker died mid-job: no tries left.
                    _mark_failed(session, job, now, f"worker {job.locked_by} stopped during the last attempt")
                    continue
                job.status = JobStatus.RUNNING
                job.attempts += 1
                job.locked_by = worker_id[:120]
                job.locked_until = now + lease
                taken.append(ClaimedJob(id=job.id, kind=job.kind, payload=dict(job.payload), attempt=job.attempts))
            session.flush()
    return taken


def heartbeat(db: Database, job_ids: list[int], worker_id: str, lease: timedelta = DEFAULT_LEASE) -> int:
    """Renews this worker's lease on jobs it is still working on; returns how many it still holds."""
    if not job_ids:
        return 0
    with db.transaction() as session:
        held = list(
            session.scalars(
                select(Job).where(
                    Job.id.in_(job_ids), Job.locked_by == worker_id[:120], Job.status == JobStatus.RUNNING
                )
            )
        )
        for job in held:
            job.locked_until = utcnow() + lease
        return len(held)


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


def active_by_kind(session: Session) -> dict[str, dict[str, int]]:
    """Queued and running jobs, counted by kind: what the workers still have to do."""
    found: dict[str, dict[str, int]] = {}
    active = (JobStatus.QUEUED, JobStatus.RUNNING)
    for kind, status, n in session.execute(
        select(Job.kind, Job.status, func.count()).where(Job.status.in_(active)).group_by(Job.kind, Job.status)
    ):
        found.setdefault(kind, {})[str(status)] = n
    return dict(sorted(found.items()))


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
