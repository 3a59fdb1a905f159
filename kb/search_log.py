"""Search events written in batches: each process gathers the searches it answered and writes them together.

Every search is a usage event (analytics: top queries, content gaps, which search led to which asset). Written
one by one, each was a write transaction in the middle of the search request; with many people searching they
queue for SQLite's single writer. A ``SearchLog`` keeps the events of its process in a list and a background
thread writes them in one transaction every ``KB_USAGE_BATCH_SECONDS`` seconds, or sooner once ``BATCH`` have
gathered; ``0`` writes each at once. Each event gets a random key up front (``UsageEvent.search_key``), which
its result links carry, so a click is tied to its search even before the search is written.

What a process has not written yet is only analytics: it is written when the process exits normally, and lost
if the process is killed (at most a few seconds of searches). A database too busy to take a batch keeps it for
the next try, up to ``MAX_PENDING`` events; past that the oldest are dropped, with a warning in the log.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import secrets
import threading
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from kb.db import Database
from kb.models import UsageEvent, UsageKind, utcnow

log = logging.getLogger(__name__)

#: Events that make the writer thread write at once instead of waiting for its time.
BATCH = 200
#: Events a process keeps while the database refuses them; the oldest go first past this.
MAX_PENDING = 20_000
#: What a search key looks like (``secrets.token_urlsafe``; older searches' keys are their ids).
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")


def valid_key(value: object) -> str | None:
    """``value`` when it can be a search key (from a link's ``s=``), else None."""
    return value if isinstance(value, str) and KEY_PATTERN.fullmatch(value) else None


class SearchLog:
    """The search events of one process, written in batches (``seconds`` apart; 0: each at once)."""

    def __init__(self, db: Database, seconds: float) -> None:
        self.db = db
        self.seconds = seconds
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._owner: int | None = None  # the process whose writer thread runs (a fork starts its own)
        self._stopping = False

    def record(
        self, *, user_id: int | None, query: str, filters: dict[str, Any] | None, result_count: int
    ) -> str:
        """Notes a search; returns its key for the result links."""
        key = secrets.token_urlsafe(12)
        row = {
            "kind": UsageKind.SEARCH,
            "search_key": key,
            "user_id": user_id,
            "query": query.replace("\x00", ""),  # PostgreSQL text holds no NUL characters
            "filters": filters,
            "result_count": result_count,
            "occurred_at": utcnow(),
        }
        if self.seconds <= 0:
            self._write([row])
            return key
        with self._lock:
            self._pending.append(row)
            due = len(self._pending) >= BATCH
        self._start()
        if due:
            self._wake.set()
        return key

    def pending_query(self, key: str, user_id: int) -> str | None:
        """What this person searched under ``key``, if this process has not written it yet."""
        with self._lock:
            for row in reversed(self._pending):
                if row["search_key"] == key:
                    return row["query"] if row["user_id"] == user_id else None
        return None

    def flush(self) -> int:
        """Writes what is gathered now; returns how many events were written (0 when the database refused)."""
        with self._lock:
            rows, self._pending = self._pending, []
        if not rows:
            return 0
        try:
            self._write(rows)
        except IntegrityError:
            return self._write_one_by_one(rows)
        except DBAPIError as error:
            with self._lock:
                self._pending[:0] = rows
                dropped = len(self._pending) - MAX_PENDING
                if dropped > 0:
                    del self._pending[:dropped]
            log.warning(
                "%d search events not written yet (%s)%s",
                len(rows),
                type(error.orig).__name__ if error.orig is not None else error,
                f"; {dropped} oldest dropped" if dropped > 0 else "",
            )
            return 0
        return len(rows)

    def _write_one_by_one(self, rows: list[dict[str, Any]]) -> int:
        """A batch the database refused as invalid (someone's account deleted meanwhile): each event on its
        own, those refused dropped; retrying them would only fail again."""
        written = 0
        for row in rows:
            try:
                self._write([row])
                written += 1
            except IntegrityError as error:
                log.warning("search event dropped: %s", error.orig)
        return written

    def close(self) -> None:
        """Stops the writer thread and writes what is left (at exit, and when a server process stops)."""
        self._stopping = True
        self._wake.set()
        self.flush()

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with self.db.transaction() as session:
            session.execute(insert(UsageEvent), rows)

    def _start(self) -> None:
        pid = os.getpid()
        if self._owner == pid:
            return
        with self._lock:
            if self._owner == pid:
                return
            self._owner = pid
            self._stopping = False
            self._wake = threading.Event()
        threading.Thread(target=self._run, name="kb-search-log", daemon=True).start()
        atexit.register(self.close)

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.seconds)
            self._wake.clear()
            if self._stopping:
                break
            try:
                self.flush()
            except Exception:  # the thread must outlive any one failure; the events stay for the next try
                log.exception("writing search events failed")


def search_text(session: Session, search_log: SearchLog | None, key: str, user_id: int) -> str | None:
    """What this person typed in their search ``key``; None for someone else's search or no such one."""
    if search_log is not None:
        pending = search_log.pending_query(key, user_id)
        if pending is not None:
            return pending
    return session.scalar(
        select(UsageEvent.query)
        .where(UsageEvent.search_key == key, UsageEvent.kind == UsageKind.SEARCH, UsageEvent.user_id == user_id)
        .limit(1)
    )
