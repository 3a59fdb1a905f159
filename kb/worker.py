"""The background worker: claims jobs from the outbox and runs the handler registered for each kind.

``kb worker`` runs one; ``make run`` starts one beside the server; any number may run against one database.
A handler that raises has its attempt recorded as failed (and retried later); a handler is written to be
safe to run twice, because a job whose worker died is run again.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
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


def handlers() -> dict[str, Handler]:
    """Every job kind the worker knows, mapped to the function that does it."""
    from kb import notifications, password_reset, publishing
    from kb.search import indexing

    return {
        publishing.EXTRACT_JOB: publishing.run_extraction_job,
        indexing.INDEX_JOB: indexing.run_index_job,
        notifications.EMAIL_JOB: notifications.run_email_job,
        password_reset.RESET_JOB: password_reset.run_email_job,
    }


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(self, context: WorkerContext, worker_id: str | None = None) -> None:
        self.context = context
        self.worker_id = worker_id or default_worker_id()
        self.handlers = handlers()
        self._stopping = False

    def run_once(self) -> bool:
        """Runs one due job; False when there was none."""
        job = jobs.claim(self.context.db, self.worker_id, kinds=tuple(self.handlers))
        if job is None:
            return False
        started = time.monotonic()
        try:
            self.handlers[job.kind](self.context, job.payload)
        except Exception as exc:  # a failed job must not stop the worker; the error is kept on the job row
            log.exception("job %s (%s) attempt %s failed", job.id, job.kind, job.attempt)
            jobs.fail(self.context.db, job.id, self.worker_id, f"{type(exc).__name__}: {exc}")
        else:
            jobs.complete(self.context.db, job.id, self.worker_id)
            log.info("job %s (%s) done in %.2f s", job.id, job.kind, time.monotonic() - started)
        return True

    def run_until_idle(self, max_jobs: int = 10_000) -> int:
        """Runs due jobs until none is left (tests and one-off runs); returns how many ran."""
        count = 0
        while count < max_jobs and self.run_once():
            count += 1
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
