"""Indexing through the worker and ``kb index``: published text becomes searchable; check and rebuild agree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SECRET_KEY
from kb.cli import main
from kb.search.backend import SearchRequest
from publishing_helpers import fields, publisher_for, text_upload, worker_for
from search_helpers import SearchIndex


@pytest.fixture(autouse=True)
def fresh_searchers():
    yield
    SearchIndex.close_all()


def _search(app, text: str, **kwargs: object):
    index = SearchIndex(app.config["KB_SETTINGS"].index_dir)
    return index.search(SearchRequest(text=text, **kwargs))  # type: ignore[arg-type]


def test_published_text_is_searchable_after_the_worker_runs(app, make_user) -> None:
    owner = make_user("marketing")
    publisher = publisher_for(app)
    published = publisher.create_asset(
        owner.id, fields(owner), text_upload("# Прайс\n\nНасос НВ-250/4 стоит 120 000 ₽")
    )
    worker_for(app).run_until_idle()
    result = _search(app, "насосы НВ-250/4")
    assert [h.asset_id for h in result.hits] == [published.asset_id]
    assert "<mark" in result.hits[0].pages[0].snippet

    publisher.add_version(
        owner.id, published.asset_id, text_upload("# Прайс\n\nНасос НВ-250/4 стоит 128 000 ₽"), "цены"
    )
    worker_for(app).run_until_idle()
    assert _search(app, "128").total == 1
    assert _search(app, "120").total == 0
    assert _search(app, "120", include_older=True).total == 1

    publisher.set_status(owner.id, published.asset_id, "archived")
    worker_for(app).run_until_idle()
    assert _search(app, "насос").total == 0
    assert _search(app, "насос", statuses=("published", "draft", "archived")).total == 1


def test_metadata_edits_are_reindexed(app, make_user) -> None:
    owner = make_user("marketing")
    publisher = publisher_for(app)
    published = publisher.create_asset(owner.id, fields(owner), text_upload("текст"))
    worker_for(app).run_until_idle()
    publisher.update_metadata(owner.id, published.asset_id, {"title": "Компрессоры KX-200", "kind": "presentation"})
    worker_for(app).run_until_idle()
    result = _search(app, "компрессоры", filters={"kind": "presentation"})
    assert [h.title for h in result.hits] == ["Компрессоры KX-200"]


@pytest.fixture
def cli_env(instance_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("KB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KB_INSTANCE_DIR", str(instance_dir))
    monkeypatch.setenv("KB_SECRET_KEY", SECRET_KEY)


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_index_check_and_rebuild(cli_env, app, make_user) -> None:
    owner = make_user("marketing")
    publisher = publisher_for(app)
    first = publisher.create_asset(owner.id, fields(owner, title="A"), text_upload("альфа"))
    second = publisher.create_asset(owner.id, fields(owner, title="B"), text_upload("бета"))
    missing = run("index", "check")
    assert missing.exit_code == 1 and f"missing: 2 asset(s): {first.asset_id}, {second.asset_id}" in missing.output
    rebuilt = run("index", "rebuild")
    assert rebuilt.exit_code == 0 and "indexed 2 page(s)" in rebuilt.output
    assert run("index", "check").output.strip() == "OK"
    publisher.update_metadata(owner.id, first.asset_id, {"title": "A2"})  # index job not run yet
    stale = run("index", "check")
    assert stale.exit_code == 1 and f"out of date: 1 asset(s): {first.asset_id}" in stale.output
    worker_for(app).run_until_idle()
    assert run("index", "check").exit_code == 0
    assert run("index", "optimize").output.strip() == "index optimized"
    SearchIndex.close_all()
    assert _search(app, "бета").hits[0].asset_id == second.asset_id


def test_feedback_queues_no_index_job_and_search_still_shows_it(app, make_user, db) -> None:
    """Ratings, flags and review confirmations are read by search from the database, never re-indexed."""
    from sqlalchemy import func, select

    from kb import feedback, reviews
    from kb.models import Job
    from kb.search.indexing import INDEX_JOB

    owner = make_user("marketing")
    seller = make_user("sales")
    published = publisher_for(app).create_asset(owner.id, fields(owner), text_upload("Насосы НВ"))
    worker_for(app).run_until_idle()

    def index_jobs() -> int:
        with db.session() as session:
            return session.scalar(select(func.count()).where(Job.kind == INDEX_JOB)) or 0

    before = index_jobs()
    feedback.rate(db, seller.id, published.asset_id, 4)
    feedback.raise_flag(db, seller.id, published.asset_id, "prices_outdated", "цены старые")
    assert index_jobs() == before
    with app.app_context():
        from kb import search

        with db.session() as session:
            found = search.search(
                search.backend_of(app.config["KB_SETTINGS"]), SearchRequest(text="насосы"), session=session
            )
    (hit,) = found.hits
    assert hit.freshness == "flagged" and hit.rating == 4.0 and found.facets["freshness"] == {"flagged": 1}
    reviews.confirm_current(db, owner.id, published.asset_id)
    assert index_jobs() == before
