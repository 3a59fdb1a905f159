"""Sales feedback in the domain: ratings (one per person, even from several processes at once), stale flags
(raise, join, dismiss, resolve, resolved by a new version), review dates, and the migration of older flags."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from conftest import SECRET_KEY
from kb import accounts, feedback, migrate, reviews
from kb.db import Database
from kb.errors import Conflict, Forbidden, NotFound, ValidationError
from kb.models import Asset, AssetStatus, FlagStatus, Rating, Review, StaleFlag, utcnow
from publishing_helpers import fields, publisher_for, text_upload


@pytest.fixture
def marketing(make_user):
    return make_user("marketing", display_name="Мария")


@pytest.fixture
def sales(make_user):
    return make_user("sales", display_name="Сергей")


@pytest.fixture
def publisher(app):
    return publisher_for(app)


@pytest.fixture
def asset_id(publisher, marketing) -> int:
    return publisher.create_asset(marketing.id, fields(marketing), text_upload("# Каталог\n\nверсия 1")).asset_id


def _new_version(publisher, actor, asset_id: int, body: str, note: str):
    return publisher.add_version(actor.id, asset_id, text_upload(body, "v.md"), note)


def _current_version_id(db, asset_id: int) -> int:
    with db.session() as session:
        return session.get(Asset, asset_id).current_version_id


def _draft(publisher, marketing) -> int:
    return publisher.create_asset(
        marketing.id, fields(marketing, title="Черновик"), text_upload("черновик", "d.md"), status=AssetStatus.DRAFT
    ).asset_id


def _archived(publisher, marketing) -> int:
    archived = publisher.create_asset(
        marketing.id, fields(marketing, title="Архив"), text_upload("архив", "a.md")
    ).asset_id
    publisher.set_status(marketing.id, archived, "archived")
    return archived


# --- ratings --------------------------------------------------------------------------------------------------


def test_rate_change_and_remove(db, asset_id, sales) -> None:
    version_id = _current_version_id(db, asset_id)
    first = feedback.rate(db, sales.id, asset_id, 4, "  Полезно  ")
    assert (first.stars, first.comment, first.version_id, first.user_id) == (4, "Полезно", version_id, sales.id)

    changed = feedback.rate(db, sales.id, asset_id, "2", "Цены устарели")  # a form sends text
    assert changed.id == first.id and (changed.stars, changed.comment) == (2, "Цены устарели")
    assert changed.created_at == first.created_at and changed.updated_at >= first.updated_at
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Rating)) == 1
        summary = feedback.rating_summary(session, session.get(Asset, asset_id), sales.id)
        assert (summary.current_average, summary.current_count) == (2.0, 1)
        assert summary.mine is not None and summary.mine.stars == 2
        [comment] = feedback.rating_comments(session, asset_id)
        assert (comment.author, comment.stars, comment.comment, comment.version) == ("Сергей", 2, "Цены устарели", 1)

    assert feedback.remove_rating(db, sales.id, asset_id) is True
    assert feedback.remove_rating(db, sales.id, asset_id) is False
    with db.session() as session:
        summary = feedback.rating_summary(session, session.get(Asset, asset_id), sales.id)
        assert summary == feedback.RatingSummary(None, 0, None, 0, None)


def test_a_rating_is_tied_to_the_version_rated_and_summaries_split_current_from_overall(
    db, publisher, asset_id, marketing, make_user
) -> None:
    raters = [make_user("sales") for _ in range(3)]
    v1 = _current_version_id(db, asset_id)
    for person, stars in zip(raters[:2], (2, 3), strict=True):
        feedback.rate(db, person.id, asset_id, stars)
    v2 = _new_version(publisher, marketing, asset_id, "версия 2", "Новые цены").version_id

    with db.session() as session:
        asset = session.get(Asset, asset_id)
        summary = feedback.rating_summary(session, asset, raters[0].id)
        assert (summary.current_average, summary.current_count) == (None, 0)
        assert (summary.overall_average, summary.overall_count) == (2.5, 2)
        assert summary.mine.version_id == v1  # still the version rated

    feedback.rate(db, raters[2].id, asset_id, 5)
    feedback.rate(db, raters[0].id, asset_id, 4)  # re-rating moves the rating to the current version
    with db.session() as session:
        summary = feedback.rating_summary(session, session.get(Asset, asset_id), None)
        assert (summary.current_average, summary.current_count) == (4.5, 2)
        assert (summary.overall_average, summary.overall_count) == (4.0, 3)
        assert summary.mine is None
        by_user = dict(session.execute(select(Rating.user_id, Rating.version_id)).all())
        assert by_user == {raters[0].id: v2, raters[1].id: v1, raters[2].id: v2}

    # Averages are rounded to two decimals: 1, 1, 2 → 1.33.
    for person, stars in zip(raters, (1, 1, 2), strict=True):
        feedback.rate(db, person.id, asset_id, stars)
    with db.session() as session:
        assert feedback.rating_summary(session, session.get(Asset, asset_id), None).current_average == 1.33


@pytest.mark.parametrize("stars", [0, 6, -1, "abc", "4.0", "", 2.5, True, False, None, [4]])
def test_invalid_stars_are_refused(db, asset_id, sales, stars) -> None:
    with pytest.raises(ValidationError) as refused:
        feedback.rate(db, sales.id, asset_id, stars)
    assert refused.value.field == "stars"
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Rating)) == 0


def test_a_rating_comment_has_a_length_limit(db, asset_id, sales) -> None:
    with pytest.raises(ValidationError) as refused:
        feedback.rate(db, sales.id, asset_id, 3, "x" * (feedback.MAX_COMMENT + 1))
    assert refused.value.field == "comment"
    assert feedback.rate(db, sales.id, asset_id, 3, "x" * feedback.MAX_COMMENT).stars == 3


def test_ratings_refused_on_archived_drafts_and_missing_assets(db, publisher, marketing, sales) -> None:
    archived = _archived(publisher, marketing)
    with pytest.raises(Conflict):
        feedback.rate(db, marketing.id, archived, 4)  # marketing sees it: archived, so no ratings
    with pytest.raises(NotFound):
        feedback.rate(db, sales.id, archived, 4)  # sales do not see archived assets at all
    draft = _draft(publisher, marketing)
    with pytest.raises(NotFound):
        feedback.rate(db, sales.id, draft, 4)
    with pytest.raises(NotFound):
        feedback.remove_rating(db, sales.id, draft)
    with pytest.raises(NotFound):
        feedback.rate(db, sales.id, 999_999, 4)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Rating)) == 0


def test_an_inactive_account_cannot_rate(db, asset_id, sales) -> None:

    accounts.set_active(db, sales.id, False)
    with pytest.raises(Forbidden):
        feedback.rate(db, sales.id, asset_id, 5)


#: Rates one asset ten times as a shared person and ten times as its own person, starting when told to.
RATER = textwrap.dedent(
    """
    import pathlib, sys, time
    from kb import feedback
    from kb.config import load_settings
    from kb.db import Database

    asset_id, shared_id, own_id = map(int, sys.argv[1:4])
    go = pathlib.Path(sys.argv[4])
    db = Database(load_settings().database_url)
    with db.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")  # imported and connected: ready
    go.with_name(f"ready-{own_id}").touch()
    deadline = time.monotonic() + 30
    while not go.exists():
        if time.monotonic() > deadline:
            sys.exit("never told to start")
        time.sleep(0.002)
    for i in range(10):
        feedback.rate(db, shared_id, asset_id, 1 + i % 5, f"общий {i}")
        feedback.rate(db, own_id, asset_id, 1 + (i + 2) % 5)
    db.dispose()
    print("done")
    """
)


@pytest.mark.slow  # several processes
def test_one_rating_per_person_when_several_processes_rate_at_once(
    db, instance_dir: Path, asset_id, make_user, tmp_path: Path
) -> None:
    shared = make_user("sales")
    own = [make_user("sales") for _ in range(4)]
    go = tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(
        KB_INSTANCE_DIR=str(instance_dir),
        KB_DATABASE_URL=f"sqlite:///{instance_dir / 'kb.sqlite3'}",
        KB_SECRET_KEY=SECRET_KEY,
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", RATER, str(asset_id), str(shared.id), str(person.id), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for person in own
    ]
    try:
        # Start them together once all have imported kb and opened the database, so their writes overlap.
        deadline = time.monotonic() + 30
        while not all((tmp_path / f"ready-{person.id}").exists() for person in own):
            assert time.monotonic() < deadline and all(p.poll() is None for p in processes), "a rater did not start"
            time.sleep(0.01)
        go.touch()
        results = [process.communicate(timeout=60) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    for process, (out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0 and out.strip() == "done", err

    with db.session() as session:
        rows = session.execute(select(Rating.user_id, func.count()).group_by(Rating.user_id)).all()
        assert dict(rows) == {person.id: 1 for person in [shared, *own]}
        stars = dict(session.execute(select(Rating.user_id, Rating.stars)).all())
        # Every process's last rating as the shared person was 5 stars, "общий 9"; each own person's, 2 stars.
        assert stars == {shared.id: 5, **{person.id: 2 for person in own}}
        assert session.scalar(select(Rating.comment).where(Rating.user_id == shared.id)) == "общий 9"
        summary = feedback.rating_summary(session, session.get(Asset, asset_id), shared.id)
        assert (summary.current_count, summary.overall_count, summary.current_average) == (5, 5, 2.6)


# --- stale flags ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "outdated", "PRICES_OUTDATED", None, 3, ["prices_outdated"]])
def test_a_flag_needs_a_known_reason(db, asset_id, sales, reason) -> None:
    with pytest.raises(ValidationError) as refused:
        feedback.raise_flag(db, sales.id, asset_id, reason, "комментарий")
    assert refused.value.field == "reason"


@pytest.mark.parametrize("reason", ["missing_info", "other"])
@pytest.mark.parametrize("comment", ["", "   ", None])
def test_some_reasons_need_a_comment(db, asset_id, sales, reason, comment) -> None:
    with pytest.raises(ValidationError) as refused:
        feedback.raise_flag(db, sales.id, asset_id, reason, comment)
    assert refused.value.field == "comment"


@pytest.mark.parametrize("page", [0, -1, "abc", "1.5", 1.5, True, 100_001, [2]])
def test_a_flag_page_must_be_a_whole_number_from_one(db, asset_id, sales, page) -> None:
    with pytest.raises(ValidationError) as refused:
        feedback.raise_flag(db, sales.id, asset_id, "prices_outdated", page=page)
    assert refused.value.field == "page"


def test_nothing_is_written_when_a_flag_is_refused(db, publisher, marketing, asset_id, sales) -> None:
    for reason, comment in (("bogus", ""), ("other", "")):
        with pytest.raises(ValidationError):
            feedback.raise_flag(db, sales.id, asset_id, reason, comment)
    with pytest.raises(Conflict):
        feedback.raise_flag(db, marketing.id, _archived(publisher, marketing), "prices_outdated")
    with pytest.raises(NotFound):
        feedback.raise_flag(db, sales.id, _draft(publisher, marketing), "prices_outdated")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(StaleFlag)) == 0


def test_raise_a_flag(db, asset_id, sales) -> None:
    result = feedback.raise_flag(db, sales.id, asset_id, "prices_outdated", " Цены 2025 года ", page="3")
    assert result.joined is False
    with db.session() as session:
        flag = session.get(StaleFlag, result.flag_id)
        assert (flag.reason, flag.comment, flag.page, flag.status) == (
            "prices_outdated",
            "Цены 2025 года",
            3,
            FlagStatus.OPEN,
        )
        assert (flag.also_reasons, flag.reports, flag.reasons) == ([], 1, ["prices_outdated"])
        assert flag.version_id == session.get(Asset, asset_id).current_version_id
        [view] = feedback.list_flags(session, asset_id)
        assert (view.raised_by, view.version, view.reports, view.status) == ("Сергей", 1, 1, "open")
    # An empty page is no page.
    other = feedback.raise_flag(db, sales.id, asset_id, "missing_info", "нет таблицы размеров", page="")
    assert other.joined and other.flag_id == result.flag_id


def test_flagging_again_joins_the_open_flag(db, asset_id, sales) -> None:
    first = feedback.raise_flag(db, sales.id, asset_id, "prices_outdated", "Цены 2025 года", page=3)
    second = feedback.raise_flag(db, sales.id, asset_id, "specs_wrong", "Неверный напор", page=5)
    third = feedback.raise_flag(db, sales.id, asset_id, "prices_outdated")  # same reason again, no comment
    assert (second.joined, third.joined) == (True, True)
    assert first.flag_id == second.flag_id == third.flag_id
    with db.session() as session:
        flag = session.get(StaleFlag, first.flag_id)
        assert flag.reports == 3
        assert flag.also_reasons == ["specs_wrong"]
        assert flag.reasons == ["prices_outdated", "specs_wrong"]
        assert flag.comment == "Цены 2025 года\n\nНеверный напор"
        assert flag.page == 5
        assert session.scalar(select(func.count()).select_from(StaleFlag)) == 1
        assert feedback.open_flag_counts(session, [asset_id]) == {asset_id: 1}


def test_two_people_raise_two_flags(db, asset_id, sales, make_user) -> None:
    colleague = make_user("sales", display_name="Анна")
    mine = feedback.raise_flag(db, sales.id, asset_id, "prices_outdated")
    theirs = feedback.raise_flag(db, colleague.id, asset_id, "legal_expired")
    assert mine.flag_id != theirs.flag_id and not theirs.joined
    with db.session() as session:
        assert feedback.open_flag_counts(session, [asset_id, 999_999]) == {asset_id: 2}
        assert feedback.open_flag_counts(session, []) == {}
        assert {v.raised_by for v in feedback.list_flags(session, asset_id)} == {"Сергей", "Анна"}


def test_dismiss_a_flag(db, asset_id, sales, marketing) -> None:
    flag_id = feedback.raise_flag(db, sales.id, asset_id, "prices_outdated").flag_id
    for note in ("", "  ", None):
        with pytest.raises(ValidationError) as refused:
            feedback.dismiss_flag(db, marketing.id, flag_id, note)
        assert refused.value.field == "note"
    with pytest.raises(Forbidden):
        feedback.dismiss_flag(db, sales.id, flag_id, "Цены актуальны")
    with pytest.raises(NotFound):
        feedback.dismiss_flag(db, marketing.id, 999_999, "Цены актуальны")

    feedback.dismiss_flag(db, marketing.id, flag_id, "Цены актуальны до конца года")
    with db.session() as session:
        flag = session.get(StaleFlag, flag_id)
        assert flag.status == FlagStatus.DISMISSED
        assert (flag.closed_by_id, flag.close_note) == (marketing.id, "Цены актуальны до конца года")
        assert flag.closed_at is not None and flag.resolved_by_version_id is None
        assert feedback.open_flag_counts(session, [asset_id]) == {}
        [view] = feedback.list_flags(session, asset_id)
        assert (view.status, view.closed_by) == ("dismissed", "Мария")
        assert feedback.list_flags(session, asset_id, open_only=True) == []
    with pytest.raises(Conflict):
        feedback.dismiss_flag(db, marketing.id, flag_id, "ещё раз")
    with pytest.raises(Conflict):
        feedback.resolve_flag(db, marketing.id, flag_id, "")
    # Once it is closed, the same person flagging again starts a new flag.
    again = feedback.raise_flag(db, sales.id, asset_id, "prices_outdated")
    assert not again.joined and again.flag_id != flag_id


def test_resolve_a_flag(db, asset_id, sales, marketing) -> None:
    flag_id = feedback.raise_flag(db, sales.id, asset_id, "broken_file", page=2).flag_id
    with pytest.raises(Forbidden):
        feedback.resolve_flag(db, sales.id, flag_id, "")
    feedback.resolve_flag(db, marketing.id, flag_id)  # the note is optional
    with db.session() as session:
        flag = session.get(StaleFlag, flag_id)
        assert (flag.status, flag.closed_by_id, flag.close_note) == (FlagStatus.RESOLVED, marketing.id, "")
        assert flag.resolved_by_version_id is None
    with pytest.raises(Conflict):
        feedback.resolve_flag(db, marketing.id, flag_id, "")


def test_a_new_version_resolves_every_open_flag(db, publisher, asset_id, sales, marketing, make_user) -> None:
    colleague = make_user("sales", display_name="Анна")
    open_ids = [
        feedback.raise_flag(db, sales.id, asset_id, "prices_outdated").flag_id,
        feedback.raise_flag(db, colleague.id, asset_id, "other", "нет новой модели").flag_id,
    ]
    dismissed = feedback.raise_flag(db, make_user("sales").id, asset_id, "specs_wrong").flag_id
    feedback.dismiss_flag(db, marketing.id, dismissed, "Всё верно")

    published = _new_version(publisher, marketing, asset_id, "версия 2", "Цены на 2027 год")
    with db.session() as session:
        for flag_id in open_ids:
            flag = session.get(StaleFlag, flag_id)
            assert flag.status == FlagStatus.RESOLVED
            assert flag.resolved_by_version_id == published.version_id
            assert (flag.close_note, flag.closed_by_id) == ("Цены на 2027 год", marketing.id)
        untouched = session.get(StaleFlag, dismissed)
        assert (untouched.status, untouched.close_note) == (FlagStatus.DISMISSED, "Всё верно")
        assert untouched.resolved_by_version_id is None
        assert feedback.open_flag_counts(session, [asset_id]) == {}
        resolved_views = [v for v in feedback.list_flags(session, asset_id) if v.status == "resolved"]
        assert {v.resolved_by_version for v in resolved_views} == {2}

    again = feedback.raise_flag(db, sales.id, asset_id, "prices_outdated", "всё ещё старые цены")
    assert not again.joined and again.flag_id not in open_ids
    with db.session() as session:
        flag = session.get(StaleFlag, again.flag_id)
        assert flag.version_id == published.version_id and flag.reports == 1
        assert [v.id for v in feedback.list_flags(session, asset_id)][0] == again.flag_id  # open first


def test_a_flag_raised_before_archiving_stays_but_no_new_ones(db, publisher, asset_id, sales, marketing) -> None:
    flag_id = feedback.raise_flag(db, sales.id, asset_id, "superseded").flag_id
    publisher.set_status(marketing.id, asset_id, "archived")
    with pytest.raises(Conflict):
        feedback.raise_flag(db, marketing.id, asset_id, "superseded")
    with db.session() as session:
        assert session.get(StaleFlag, flag_id).status == FlagStatus.OPEN


# --- review dates ---------------------------------------------------------------------------------------------


def test_confirm_current_moves_the_review_date_and_records_who(db, publisher, marketing, make_user) -> None:
    long_ago = utcnow() - timedelta(days=100)
    asset_id = publisher.create_asset(
        marketing.id, fields(marketing), text_upload("# Каталог"), published_at=long_ago
    ).asset_id
    checker = make_user("marketing", display_name="Ольга")
    overdue_since = long_ago.date() + timedelta(days=90)

    next_review = reviews.confirm_current(db, checker.id, asset_id)
    today = utcnow().date()
    assert next_review == today + timedelta(days=90)
    with db.session() as session:
        asset = session.get(Asset, asset_id)
        assert asset.next_review_on == next_review
        [review] = session.scalars(select(Review).where(Review.asset_id == asset_id)).all()
        assert (review.reviewed_by_id, review.previous_review_on, review.next_review_on, review.version_id) == (
            checker.id,
            overdue_since,
            next_review,
            None,
        )
        [view] = reviews.review_history(session, asset_id)
        assert (view.reviewed_by, view.previous_review_on, view.next_review_on, view.version) == (
            "Ольга",
            overdue_since,
            next_review,
            None,
        )


def test_only_marketing_confirms_and_only_published_assets(db, publisher, asset_id, marketing, sales) -> None:
    with pytest.raises(Forbidden):
        reviews.confirm_current(db, sales.id, asset_id)
    with pytest.raises(Conflict):
        reviews.confirm_current(db, marketing.id, _draft(publisher, marketing))
    with pytest.raises(Conflict):
        reviews.confirm_current(db, marketing.id, _archived(publisher, marketing))
    with pytest.raises(NotFound):
        reviews.confirm_current(db, marketing.id, 999_999)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Review)) == 0


def test_a_new_version_moves_the_review_date_and_records_the_version(db, publisher, marketing) -> None:
    long_ago = utcnow() - timedelta(days=100)
    asset_id = publisher.create_asset(
        marketing.id, fields(marketing), text_upload("# Каталог"), published_at=long_ago
    ).asset_id
    published = _new_version(publisher, marketing, asset_id, "версия 2", "Новые цены")
    today = utcnow().date()
    with db.session() as session:
        assert session.get(Asset, asset_id).next_review_on == today + timedelta(days=90)
        [review] = session.scalars(select(Review)).all()
        assert (review.version_id, review.reviewed_by_id) == (published.version_id, marketing.id)
        assert review.previous_review_on == long_ago.date() + timedelta(days=90)
        [view] = reviews.review_history(session, asset_id)
        assert (view.version, view.reviewed_by) == (2, "Мария")

    reviews.confirm_current(db, marketing.id, asset_id)
    with db.session() as session:
        history = reviews.review_history(session, asset_id)
        assert [v.version for v in history] == [None, 2]  # newest first


# --- migration ------------------------------------------------------------------------------------------------


def test_flags_from_before_the_feedback_migration_get_one_report_and_no_other_reasons(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        migrate.upgrade(db, "0001")
        stamp = "2026-01-15 09:30:00.000000"
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, email, display_name, role, password_hash, active, created_at) "
                    "VALUES (1, 'm@example.com', 'Мария', 'marketing', 'x', 1, :t), "
                    "(2, 's@example.com', 'Сергей', 'sales', 'x', 1, :t)"
                ),
                {"t": stamp},
            )
            connection.execute(
                text(
                    "INSERT INTO assets (id, title, description, kind, product, region, language, owner_id, "
                    "review_interval_days, next_review_on, status, created_by_id, created_at, updated_at) "
                    "VALUES (1, 'Каталог', '', 'catalog', '', '', 'ru', 1, 90, '2026-04-15', 'published', 1, :t, :t)"
                ),
                {"t": stamp},
            )
            connection.execute(
                text(
                    "INSERT INTO asset_versions (id, asset_id, number, original_filename, media_type, size_bytes, "
                    "sha256, change_note, published_by_id, published_at, extraction_status) "
                    "VALUES (1, 1, 1, 'c.md', 'text/markdown', 3, :sha, '', 1, :t, 'done')"
                ),
                {"t": stamp, "sha": "a" * 64},
            )
            connection.execute(text("UPDATE assets SET current_version_id = 1 WHERE id = 1"))
            connection.execute(
                text(
                    "INSERT INTO stale_flags (id, asset_id, version_id, raised_by_id, reason, comment, page, status, "
                    "created_at, updated_at, close_note) "
                    "VALUES (7, 1, 1, 2, 'prices_outdated', 'старые цены', 4, 'open', :t, :t, '')"
                ),
                {"t": stamp},
            )
        migrate.upgrade(db)
        assert migrate.is_up_to_date(db)
        with db.session() as session:
            flag = session.get(StaleFlag, 7)
            assert (flag.also_reasons, flag.reports, flag.reasons) == ([], 1, ["prices_outdated"])
            assert (flag.comment, flag.page, flag.status) == ("старые цены", 4, FlagStatus.OPEN)
        # The migrated flag joins like any other.
        joined = feedback.raise_flag(db, 2, 1, "specs_wrong")
        assert joined.joined and joined.flag_id == 7
        with db.session() as session:
            flag = session.get(StaleFlag, 7)
            assert (flag.also_reasons, flag.reports) == (["specs_wrong"], 2)
    finally:
        db.dispose()
