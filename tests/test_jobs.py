"""The job outbox and the worker: atomic claims, leases after a dead worker, retries, giving up visibly."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select, update

from conftest import csrf_from
from kb import jobs
from kb.models import Job, JobStatus, utcnow
from publishing_helpers import worker_for


def _enqueue(db, n: int, kind: str = "probe") -> list[int]:
    with db.transaction() as session:
        created = [jobs.enqueue(session, kind, {"n": i}) for i in range(n)]
    return [job.id for job in created]


def test_two_workers_never_take_the_same_job(app, db) -> None:
    ids = _enqueue(db, 40)
    seen: Counter[int] = Counter()
    lock = threading.Lock()

    def handler(_context, payload):  # type: ignore[no-untyped-def]
        with lock:
            seen[payload["n"]] += 1

    workers = [worker_for(app, f"w{i}") for i in range(3)]
    for worker in workers:
        worker.handlers = {"probe": handler}
    threads = [threading.Thread(target=worker.run_until_idle) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(40)) and set(seen.values()) == {1}
    with db.session() as session:
        statuses = session.scalars(select(Job.status).where(Job.id.in_(ids))).all()
    assert set(statuses) == {JobStatus.DONE}


def test_a_job_whose_worker_died_is_taken_again_after_the_lease(db) -> None:
    (job_id,) = _enqueue(db, 1)
    first = jobs.claim(db, "dead-worker")
    assert first is not None and first.attempt == 1
    assert jobs.claim(db, "other") is None  # leased
    with db.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(locked_until=utcnow() - timedelta(seconds=1)))
    second = jobs.claim(db, "other")
    assert second is not None and second.id == job_id and second.attempt == 2
    assert jobs.complete(db, job_id, "dead-worker") is False  # the dead worker's late answer is dropped
    assert jobs.complete(db, job_id, "other") is True


def test_failed_attempts_retry_then_give_up_visibly(app, db, signed_in, client) -> None:
    (job_id,) = _enqueue(db, 1)
    worker = worker_for(app)

    def broken(_context, _payload):  # type: ignore[no-untyped-def]
        raise ValueError("cannot parse")

    worker.handlers = {"probe": broken}
    for attempt in range(1, 4):
        with db.transaction() as session:
            session.execute(update(Job).where(Job.id == job_id).values(run_after=utcnow()))
        assert worker.run_once() is True
        with db.session() as session:
            job = session.get(Job, job_id)
            assert job.attempts == attempt
            assert job.status == (JobStatus.FAILED if attempt == 3 else JobStatus.QUEUED)
            assert job.last_error == "ValueError: cannot parse"
    assert worker.run_once() is False

    signed_in("admin")
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert "ValueError: cannot parse" in page
    response = client.post(f"/admin/jobs/{job_id}/retry", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    with db.session() as session:
        assert session.get(Job, job_id).status == JobStatus.QUEUED


def test_a_job_that_died_on_its_last_attempt_is_marked_failed(db) -> None:
    (job_id,) = _enqueue(db, 1)
    with db.transaction() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(status=JobStatus.RUNNING, attempts=3, locked_by="gone", locked_until=utcnow() - timedelta(1))
        )
    assert jobs.claim(db, "next") is None
    with db.session() as session:
        job = session.get(Job, job_id)
        assert job.status == JobStatus.FAILED and "stopped during the last attempt" in job.last_error


def test_retrying_a_job_that_did_not_fail_is_a_404(signed_in, client, db) -> None:
    (job_id,) = _enqueue(db, 1)
    signed_in("admin")
    page = client.get("/admin/jobs").get_data(as_text=True)
    response = client.post(f"/admin/jobs/{job_id}/retry", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 404
