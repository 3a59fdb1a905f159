"""Search events written in batches: gathered per process, written together, tied to their clicks by key."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kb import analytics, search_log
from kb.db import Database
from kb.models import UsageEvent, UsageKind
from kb.search_log import SearchLog
from publishing_helpers import fields, publisher_for, text_upload, worker_for

ROOT = Path(__file__).resolve().parents[1]


def _searches(db: Database) -> list[UsageEvent]:
    with db.session() as session:
        return list(session.scalars(select(UsageEvent).where(UsageEvent.kind == UsageKind.SEARCH)))


@pytest.mark.parametrize("app", [{"KB_USAGE_BATCH_SECONDS": "3600"}], indirect=True)
def test_searches_wait_for_their_batch_and_their_clicks_count_before_it(app, client, auth, make_user, db) -> None:
    owner = make_user("marketing")
    asset_id = publisher_for(app).create_asset(
        owner.id, fields(owner, title="Каталог насосов НВ"), text_upload("Насосы НВ-250/4 для водоканалов")
    ).asset_id
    worker_for(app).run_until_idle()
    sales = make_user("sales")
    auth.login(sales.email)
    page = client.get("/search?q=насосы+водоканалов").get_data(as_text=True)
    key = re.search(rf"/assets/{asset_id}\?s=([\w-]+)", page).group(1)
    client.get("/api/v1/search?q=турбины")
    assert _searches(db) == []  # gathered, not written: the search request wrote nothing

    # Opened from the results before the batch is written: the page still marks the words searched.
    opened = client.get(f"/assets/{asset_id}?s={key}").get_data(as_text=True)
    assert re.search(r"<mark[^>]*>[Нн]асосы</mark>", opened)

    log = app.extensions["kb_search_log"]
    assert log.flush() == 2
    written = _searches(db)
    assert sorted(e.query for e in written) == ["насосы водоканалов", "турбины"]
    assert len({e.search_key for e in written}) == 2 and key in {e.search_key for e in written}
    with db.session() as session:
        result = analytics.search_analytics(session, written[0].occurred_at.date())
    clicked = {q.query: q.clicked for q in result.top}
    assert clicked == {analytics.normalize_query("насосы водоканалов"): 1, analytics.normalize_query("турбины"): 0}


def test_a_batch_is_written_once_enough_gather_without_waiting_for_its_time(db, make_user, monkeypatch) -> None:
    monkeypatch.setattr(search_log, "BATCH", 5)
    user = make_user("sales")
    log = SearchLog(db, seconds=3600)
    for n in range(5):
        log.record(user_id=user.id, query=f"насос {n}", filters=None, result_count=n)
    deadline = time.monotonic() + 10
    while len(_searches(db)) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(e.result_count for e in _searches(db)) == [0, 1, 2, 3, 4]
    log.close()


def test_a_batch_is_written_when_its_time_comes(db, make_user) -> None:
    user = make_user("sales")
    log = SearchLog(db, seconds=1)
    log.record(user_id=user.id, query="клапан", filters={"kind": "catalog"}, result_count=3)
    assert _searches(db) == []
    deadline = time.monotonic() + 10
    while not _searches(db) and time.monotonic() < deadline:
        time.sleep(0.05)
    [event] = _searches(db)
    assert (event.query, event.filters, event.result_count) == ("клапан", {"kind": "catalog"}, 3)
    assert event.user_id == user.id
    log.close()


def test_a_busy_database_keeps_the_batch_for_the_next_try(tmp_path, migrated_template, monkeypatch, caplog) -> None:
    import shutil

    from kb import db as kb_db

    path = tmp_path / "busy.sqlite3"
    shutil.copy(migrated_template, path)
    monkeypatch.setattr(kb_db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    db = Database(f"sqlite:///{path}")
    log = SearchLog(db, seconds=3600)
    log.record(user_id=None, query="насос", filters=None, result_count=1)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing, for longer than the busy timeout
    try:
        assert log.flush() == 0
        assert "not written yet" in caplog.text
        assert log.pending_query(log._pending[0]["search_key"], None) == "насос"  # kept for the next try
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert log.flush() == 1
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(UsageEvent)) == 1
    db.dispose()


def test_an_event_the_database_refuses_is_dropped_and_the_rest_written(db, make_user, caplog) -> None:
    user = make_user("sales")
    log = SearchLog(db, seconds=3600)
    log.record(user_id=user.id, query="насос", filters=None, result_count=1)
    log.record(user_id=999_999, query="чужой", filters=None, result_count=1)  # an account deleted meanwhile
    log.record(user_id=user.id, query="клапан", filters=None, result_count=1)
    assert log.flush() == 2
    assert sorted(e.query for e in _searches(db)) == ["клапан", "насос"]
    assert "search event dropped" in caplog.text
    assert log.flush() == 0  # nothing left to retry


def test_a_process_writes_what_it_gathered_when_it_exits(tmp_path, migrated_template) -> None:
    import shutil

    path = tmp_path / "exit.sqlite3"
    shutil.copy(migrated_template, path)
    script = textwrap.dedent(
        f"""
        from kb.db import Database
        from kb.search_log import SearchLog
        log = SearchLog(Database("sqlite:///{path}"), seconds=3600)
        for n in range(3):
            log.record(user_id=None, query=f"насос {{n}}", filters=None, result_count=n)
        """
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=60)
    db = Database(f"sqlite:///{path}")
    assert sorted(e.query for e in _searches(db)) == ["насос 0", "насос 1", "насос 2"]
    db.dispose()


@pytest.mark.parametrize("value", ["abc", "A-b_9", "1234"])
def test_valid_keys(value: str) -> None:
    assert search_log.valid_key(value) == value


@pytest.mark.parametrize("value", [None, "", "x" * 33, "a b", "ключ", "1;DROP", 5])
def test_invalid_keys(value: object) -> None:
    assert search_log.valid_key(value) is None
