"""Indexing with real worker processes: one killed in the middle of an index job, two writing at once.

The index is written by whichever worker takes an ``index_asset`` job; an exclusive file lock makes the writes
take turns. These tests run ``kb worker`` as separate processes, as a deployment does, and check that the
index ends complete and in step with the database (``kb index check``) whatever happened on the way.
"""

from __future__ import annotations

import fcntl
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from conftest import SECRET_KEY
from fixtures_files import make_pdf
from kb.models import Job, JobStatus, utcnow
from kb.publishing import FileUpload
from kb.search import indexing
from kb.search.backend import SearchRequest
from kb.search.whoosh_store import LOCK
from publishing_helpers import fields, publisher_for, worker_for
from search_helpers import SearchIndex

pytestmark = pytest.mark.slow

#: A worker whose index writer dies (SIGKILL, no cleanup) after adding its second document.
DYING_WORKER = textwrap.dedent(
    """
    import os, signal, sys
    from whoosh.writing import SegmentWriter

    original = SegmentWriter.add_document
    added = 0

    def add_then_die(self, **fields):
        global added
        original(self, **fields)
        added += 1
        if added == 2:
            os.kill(os.getpid(), signal.SIGKILL)

    SegmentWriter.add_document = add_then_die
    from kb.cli import main
    main(["worker", "--once"])
    """
)


@pytest.fixture(autouse=True)
def fresh_searchers():
    yield
    SearchIndex.close_all()


def _env(instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(
        KB_INSTANCE_DIR=str(instance),
        KB_DATABASE_URL=f"sqlite:///{instance / 'kb.sqlite3'}",
        KB_SECRET_KEY=SECRET_KEY,
    )
    return env


def _pdf(tmp_path: Path, n: int, word: str) -> FileUpload:
    """A PDF of ``n`` pages, each a document of its own in the index."""
    path = make_pdf(tmp_path / f"{word}.pdf", [f"Насосная станция {word}, страница {i}." for i in range(1, n + 1)])
    return FileUpload(io.BytesIO(path.read_bytes()), path.name)


def _extract_only(app) -> None:
    """Runs the extraction jobs in this process, leaving the index jobs for the worker processes."""
    worker = worker_for(app, "extractor")
    worker.handlers = {k: v for k, v in worker.handlers.items() if k != indexing.INDEX_JOB}
    worker.run_until_idle()


def _search(app, text: str):
    return SearchIndex(app.config["KB_SETTINGS"].index_dir).search(SearchRequest(text=text, per_page=50))


def _index_jobs(db) -> list[Job]:
    with db.session() as session:
        return list(session.scalars(select(Job).where(Job.kind == indexing.INDEX_JOB).order_by(Job.id)))


def test_a_worker_killed_in_the_middle_of_an_index_job_leaves_a_usable_index(
    app, db, instance_dir, make_user, tmp_path
):
    owner = make_user("marketing")
    publisher = publisher_for(app)
    kept = publisher.create_asset(owner.id, fields(owner, title="Старый каталог"), _pdf(tmp_path, 2, "альфа"))
    worker_for(app).run_until_idle()
    assert _search(app, "альфа").total == 1

    victim = publisher.create_asset(owner.id, fields(owner, title="Новый каталог"), _pdf(tmp_path, 5, "бета"))
    _extract_only(app)
    pending = [job for job in _index_jobs(db) if job.status == JobStatus.QUEUED]
    assert pending, "publishing must leave an index job for the worker"

    died = subprocess.run(
        [sys.executable, "-c", DYING_WORKER], env=_env(instance_dir), capture_output=True, text=True, timeout=120
    )
    assert died.returncode == -signal.SIGKILL, died.stderr

    # The dead writer held the index lock; the kernel released it with the process.
    with (app.config["KB_SETTINGS"].index_dir / LOCK).open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    # Nothing of the half-written job is visible; what was indexed before is intact.
    assert _search(app, "бета").total == 0
    assert [h.asset_id for h in _search(app, "альфа").hits] == [kept.asset_id]
    running = [job for job in _index_jobs(db) if job.status == JobStatus.RUNNING]
    assert len(running) == 1 and running[0].attempts == 1

    # The lease runs out; the next worker takes the job again and finishes it.
    with db.transaction() as session:
        session.execute(update(Job).where(Job.id == running[0].id).values(locked_until=utcnow() - timedelta(seconds=1)))
    worker_for(app, "survivor").run_until_idle()
    SearchIndex.close_all()
    result = _search(app, "бета")
    assert [h.asset_id for h in result.hits] == [victim.asset_id]
    assert _search(app, "страница").total == 2
    assert len(result.hits[0].pages) == 3  # five pages indexed; the best three shown
    with db.session() as session:
        job = session.get(Job, running[0].id)
        assert job is not None and job.status == JobStatus.DONE and job.attempts == 2
    assert indexing.check(db, SearchIndex(app.config["KB_SETTINGS"].index_dir).backend).ok


def test_two_worker_processes_index_at_once_without_losing_an_asset(app, db, instance_dir, make_user, tmp_path):
    owner = make_user("marketing")
    publisher = publisher_for(app)
    words = [f"ZQ{i:03d}" for i in range(24)]
    published = {
        word: publisher.create_asset(owner.id, fields(owner, title=f"Каталог {i}"), _pdf(tmp_path, 4, word))
        for i, word in enumerate(words)
    }
    _extract_only(app)
    assert len([job for job in _index_jobs(db) if job.status == JobStatus.QUEUED]) >= len(words)

    def wait_for(condition, what: str) -> None:
        deadline = time.monotonic() + 120
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    lock = (app.config["KB_SETTINGS"].index_dir / LOCK).open("a")
    workers: list[subprocess.Popen[str]] = []
    try:
        # Hold the index lock until both workers are inside an index job, so they really write at once.
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        workers = [
            subprocess.Popen(
                [str(Path(sys.executable).parent / "kb"), "worker", "--poll", "0.05", "--index-batch", "5"],
                env=_env(instance_dir),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        wait_for(
            lambda: len({job.locked_by for job in _index_jobs(db) if job.status == JobStatus.RUNNING}) == 2,
            "both workers in a batch of index jobs",
        )
        fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        wait_for(lambda: all(job.status == JobStatus.DONE for job in _index_jobs(db)), "all index jobs done")
    finally:
        lock.close()
        for process in workers:
            process.send_signal(signal.SIGTERM)
        logs = [process.communicate(timeout=30)[1] for process in workers]
    assert all(process.returncode == 0 for process in workers), logs
    assert all(job.status == JobStatus.DONE and job.attempts == 1 for job in _index_jobs(db)), logs
    # Both processes wrote the index (they took turns on the lock); no job ran twice or failed.
    assert all("index_asset jobs done" in log for log in logs), logs

    SearchIndex.close_all()
    for word, asset in published.items():
        assert [h.asset_id for h in _search(app, word).hits] == [asset.asset_id], word
    assert _search(app, "насосная").total == len(words)
    assert indexing.check(db, SearchIndex(app.config["KB_SETTINGS"].index_dir).backend).ok


def test_search_answers_through_the_server_from_an_empty_index_while_the_first_assets_land(
    app, db, instance_dir, make_user, tmp_path
):
    """A company's first day: a real ``kb serve`` and ``kb worker``, searched in a loop from before the first
    asset exists until several are indexed; every answer is a 200."""
    import json
    import socket
    import threading
    import urllib.error
    import urllib.request

    from kb import accounts

    owner = make_user("marketing")
    seller = make_user("sales")
    token = accounts.create_token(db, seller.id, "loop").secret
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kb = str(Path(sys.executable).parent / "kb")
    server = subprocess.Popen(
        [kb, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=_env(instance_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    worker = subprocess.Popen(
        [kb, "worker", "--poll", "0.05"], env=_env(instance_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    answers: list[tuple[int, int]] = []
    stop = threading.Event()

    def ask() -> tuple[int, int]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/search?q=%D0%BD%D0%B0%D1%81%D0%BE%D1%81%D0%BD%D0%B0%D1%8F",  # насосная
            headers={"Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())["total"]
        except urllib.error.HTTPError as error:
            return error.code, -1

    def loop() -> None:
        while not stop.is_set():
            answers.append(ask())

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                first = ask()
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, server.stdout.read() if server.poll() is not None else "no server"
                time.sleep(0.2)
        assert first == (200, 0)  # an empty index: no asset yet, an empty answer, not a 500
        searching = threading.Thread(target=loop)
        searching.start()
        publisher = publisher_for(app)
        for n in range(4):
            publisher.create_asset(owner.id, fields(owner, title=f"Каталог {n}"), _pdf(tmp_path, 2, f"слово{n}"))
            time.sleep(0.3)
        deadline = time.monotonic() + 90
        while not answers or answers[-1][1] < 4:
            assert time.monotonic() < deadline, answers[-5:]
            time.sleep(0.2)
        stop.set()
        searching.join(timeout=60)
        time.sleep(1.5)  # each server process notices a changed index within a second
        settled = [ask() for _ in range(4)]
    finally:
        stop.set()
        logs = []
        for process in (server, worker):
            process.send_signal(signal.SIGTERM)
            logs.append(process.communicate(timeout=30)[0])
    failed = [a for a in answers if a[0] != 200][:5]
    assert answers and not failed, f"{failed}\n{logs[0][-6000:]}"
    assert len(answers) > 10  # searched all the while the assets were published and indexed
    assert settled == [(200, 4)] * 4  # and every server process then finds all four
