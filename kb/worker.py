"""The background worker: claims jobs from the outbox and runs the handler registered for each kind.

``kb worker`` runs one; ``make run`` starts one beside the server; any number may run against one database.
The most urgent job goes first (mail, extraction, re-indexing, then previews and OCR); index jobs are taken up to
``INDEX_BATCH`` at a time and written in one commit. While a job runs, a heartbeat renews its short lease, so
a worker that dies loses its jobs to another within seconds. A handler that raises has its attempt recorded as
failed (and retried later); a handler is written to be safe to run twice, because a job whose worker died is
run again.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from kb import jobs
from kb.blobs import BlobStore
from kb.config import Settings
from kb.db import Database

log = logging.getLogger("kb.worker")


@dataclass(frozen=True)
class WorkerContext:
    db: Database
    blobs: BlobStore
    settings: Settings


Handler = Callable[[WorkerContext, dict[str, Any]], None]
BatchHandler = Callable[[WorkerContext, list[dict[str, Any]]], None]
#: Index jobs taken and written together: one index commit for a burst of publishing.
INDEX_BATCH = 200


def handlers() -> dict[str, Handler]:
    """Every job kind the worker knows, mapped to the function that does it."""
    from kb import notifications, password_reset, publishing
    from kb.previews import build as previews
    from kb.search import indexing

    return {
        publishing.EXTRACT_JOB: publishing.run_extraction_job,
        indexing.INDEX_JOB: indexing.run_index_job,
        notifications.EMAIL_JOB: notifications.run_email_job,
        password_reset.RESET_JOB: password_reset.run_email_job,
        previews.PREVIEW_JOB: previews.run_preview_job,
    }


def batch_handlers() -> dict[str, BatchHandler]:
    """Job kinds whose jobs are best done many at once, mapped to the function that does a batch."""
    from kb.search import indexing

    return {indexing.INDEX_JOB: indexing.run_index_batch}


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(
        self,
        context: WorkerContext,
        worker_id: str | None = None,
        *,
        lease: timedelta = jobs.DEFAULT_LEASE,
        batch_size: int = INDEX_BATCH,
    ) -> None:
        self.context = context
        self.worker_id = worker_id or default_worker_id()
        self.handlers = handlers()
        self.batch_handlers = batch_handlers()
        self.lease = lease
        self.batch_size = max(1, batch_size)
        self._stopping = False

    def run_once(self) -> int:
        """Runs the most urgent due job (with the other due jobs of its kind, for a kind done in batches); returns
        how many jobs ran, 0 when none was due."""
        db = self.context.db
        job = jobs.claim(db, self.worker_id, kinds=tuple(self.handlers), lease=self.lease)
        if job is None:
            return 0
        batch = [job]
        if job.kind in self.batch_handlers:
            batch += jobs.claim_batch(db, self.worker_id, job.kind, self.batch_size - 1, lease=self.lease)
        started = time.monotonic()
        with self._heartbeat([j.id for j in batch]):
            if len(batch) == 1:
                self._run_one(job)
                return 1
            try:
                self.batch_handlers[job.kind](self.context, [j.payload for j in batch])
            except Exception:  # one bad asset must not fail the others: each runs on its own, and fails alone
                log.exception("a batch of %d %s jobs failed; running them one by one", len(batch), job.kind)
                for claimed in batch:
                    self._run_one(claimed)
                return len(batch)
        for claimed in batch:
            jobs.complete(db, claimed.id, self.worker_id)
        log.info("%d %s jobs done in %.2f s", len(batch), job.kind, time.monotonic() - started)
        return len(batch)

    def _run_one(self, job: jobs.ClaimedJob) -> None:
        started = time.monotonic()
        try:
            self.handlers[job.kind](self.context, job.payload)
        except Exception as exc:  # a failed job must not stop the worker; the error is kept on the job row
            log.exception("job %s (%s) attempt %s failed", job.id, job.kind, job.attempt)
            jobs.fail(self.context.db, job.id, self.worker_id, f"{type(exc).__name__}: {exc}")
        else:
            jobs.complete(self.context.db, job.id, self.worker_id)
            log.info("job %s (%s) done in %.2f s", job.id, job.kind, time.monotonic() - started)

    @contextmanager
    def _heartbeat(self, job_ids: list[int]) -> Iterator[None]:
        """Renews the lease of ``job_ids`` every third of it while the block runs."""
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.lease.total_seconds() / 3):
                try:
                    jobs.heartbeat(self.context.db, job_ids, self.worker_id, self.lease)
                except Exception:  # the database may be busy a moment: the next beat tries again
                    log.warning("heartbeat for jobs %s failed", job_ids, exc_info=True)

        thread = threading.Thread(target=beat, name="kb-worker-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def run_until_idle(self, max_jobs: int = 10_000) -> int:
        """Runs due jobs until none is left (tests and one-off runs); returns how many ran."""
        count = 0
        while count < max_jobs and (ran := self.run_once()):
            count += ran
        return count

    def stop(self, *_args: Any) -> None:
        self._stopping = True

    def run_forever(self, poll_seconds: float = 0.5) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        log.info("worker %s started", self.worker_id)
        while not self._stopping:
            try:
                ran = self.run_once()
            except Exception:  # the database may be briefly unavailable; keep the worker alive and retry
                log.exception("worker loop error")
                ran = False
            if not ran:
                time.sleep(poll_seconds)
        log.info("worker %s stopped", self.worker_id)
