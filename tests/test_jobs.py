"""The job outbox and the worker: atomic claims, leases after a dead worker, retries, giving up visibly."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select, update

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
        assert worker.run_once() == 1
        with db.session() as session:
            job = session.get(Job, job_id)
            assert job.attempts == attempt
            assert job.status == (JobStatus.FAILED if attempt == 3 else JobStatus.QUEUED)
            assert job.last_error == "ValueError: cannot parse"
    assert worker.run_once() == 0

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


# --- the pipeline: one pending index job per asset, urgent work first, index jobs in batches, heartbeats -----


def test_one_index_job_waits_per_asset_however_many_changes_ask(db) -> None:
    from kb.search.indexing import INDEX_JOB, enqueue_index

    for _ in range(3):
        with db.transaction() as session:
            enqueue_index(session, 7)
            enqueue_index(session, 8)
    with db.session() as session:
        queued = session.scalars(select(Job).where(Job.kind == INDEX_JOB)).all()
    assert sorted(job.payload["asset_id"] for job in queued) == [7, 8]
    taken = jobs.claim(db, "w1", kinds=(INDEX_JOB,))
    assert taken is not None
    with db.transaction() as session:  # the running job may have read the asset already: a new one is queued
        enqueue_index(session, taken.payload["asset_id"])
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Job).where(Job.status == JobStatus.QUEUED)) == 2


def test_mail_then_extraction_then_re_indexing_whatever_the_order_they_came_in(db) -> None:
    with db.transaction() as session:
        jobs.enqueue(session, "index_asset", {"asset_id": 1}, priority=jobs.BACKGROUND)
        jobs.enqueue(session, "extract_version", {"version_id": 1})
        jobs.enqueue(session, "email", {"notification_id": 1}, priority=jobs.URGENT)
        jobs.enqueue(session, "extract_version", {"version_id": 2})
    order = []
    while (job := jobs.claim(db, "w")) is not None:
        order.append((job.kind, next(iter(job.payload.values()))))
        jobs.complete(db, job.id, "w")
    assert order == [("email", 1), ("extract_version", 1), ("extract_version", 2), ("index_asset", 1)]


def test_index_jobs_run_in_one_batch_and_a_bad_one_fails_alone(app, db, monkeypatch) -> None:
    from kb.search import indexing

    with db.transaction() as session:
        for asset_id in range(1, 7):
            indexing.enqueue_index(session, asset_id)
    batches: list[list[int]] = []
    real = indexing.run_index_batch

    def watched(context, payloads):  # type: ignore[no-untyped-def]
        ids = [p["asset_id"] for p in payloads]
        batches.append(ids)
        if 4 in ids:
            raise RuntimeError("asset 4 cannot be read")
        real(context, payloads)

    worker = worker_for(app)
    worker.batch_handlers = {indexing.INDEX_JOB: watched}
    worker.handlers = {**worker.handlers, indexing.INDEX_JOB: lambda context, payload: watched(context, [payload])}
    assert worker.run_once() == 6
    assert batches[0] == [1, 2, 3, 4, 5, 6] and sorted(batches[1:]) == [[1], [2], [3], [4], [5], [6]]
    with db.session() as session:
        by_asset = {job.payload["asset_id"]: job for job in session.scalars(select(Job))}
    assert by_asset[4].status == JobStatus.QUEUED and "asset 4 cannot be read" in by_asset[4].last_error
    assert all(by_asset[a].status == JobStatus.DONE for a in (1, 2, 3, 5, 6))


def test_a_long_job_keeps_its_lease_and_a_dead_workers_job_is_taken_within_its_short_lease(app, db) -> None:
    import time

    (job_id,) = _enqueue(db, 1)
    lease = timedelta(seconds=0.6)
    started, taken_meanwhile = threading.Event(), []

    def slow(_context, _payload):  # type: ignore[no-untyped-def]
        started.set()
        time.sleep(1.8)  # three leases long: only the heartbeat keeps it

    worker = worker_for(app, "slow-worker")
    worker.lease = lease
    worker.handlers = {"probe": slow}
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    started.wait(5)
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        taken_meanwhile.append(jobs.claim(db, "other", lease=lease))
        time.sleep(0.1)
    thread.join()
    assert not any(taken_meanwhile)  # never taken from a worker that is alive
    with db.session() as session:
        assert session.get(Job, job_id).status == JobStatus.DONE
    (dead_id,) = _enqueue(db, 1)
    assert jobs.claim(db, "dead", lease=lease) is not None  # claimed, and then the worker dies: no heartbeat
    time.sleep(0.7)
    retaken = jobs.claim(db, "alive", lease=lease)
    assert retaken is not None and retaken.id == dead_id and retaken.attempt == 2
