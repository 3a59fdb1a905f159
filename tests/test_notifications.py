"""Notifications in the domain: who hears of what (once), following assets, the wording, read state, the daily
digest, and e-mail sent by the worker through a real local SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from kb import accounts, digest, feedback, jobs, notifications, reviews
from kb.errors import NotFound
from kb.freshness import QueueFilters, queue
from kb.models import Asset, AssetStatus, Job, JobStatus, Notification, NotificationKind, utcnow
from kb.notifications import NotificationView, message
from publishing_helpers import fields, publisher_for, text_upload, worker_for

TITLE = "Каталог насосов НВ"  # the title publishing_helpers.fields gives


def english(text: str) -> str:
    return text


@pytest.fixture
def owner(make_user):
    return make_user("marketing", display_name="Мария")


@pytest.fixture
def sales(make_user):
    return make_user("sales", display_name="Сергей")


@pytest.fixture
def publisher(app):
    return publisher_for(app)


@pytest.fixture
def asset_id(publisher, owner) -> int:
    return publisher.create_asset(owner.id, fields(owner), text_upload("# Каталог\n\nверсия 1")).asset_id


def _mine(db, user_id: int) -> list[NotificationView]:
    with db.session() as session:
        return notifications.list_for(session, user_id)


def _count(db, **where) -> int:
    with db.session() as session:
        statement = select(func.count()).select_from(Notification)
        for name, value in where.items():
            statement = statement.where(getattr(Notification, name) == value)
        return session.scalar(statement)


# --- who is told what -----------------------------------------------------------------------------------------


def test_the_owner_is_told_of_a_flag_but_not_of_their_own(db, asset_id, owner, sales) -> None:
    flag_id = feedback.raise_flag(db, sales.id, asset_id, "prices_outdated", "Цены 2025 года", page=4).flag_id
    [told] = _mine(db, owner.id)
    assert (told.kind, told.asset_id, told.asset_title, told.actor, told.read) == (
        "flag_raised",
        asset_id,
        TITLE,
        "Сергей",
        False,
    )
    assert told.data == {"reason": "prices_outdated", "comment": "Цены 2025 года", "page": 4}
    assert message(told, english) == f"Сергей flagged “{TITLE}” as outdated: Prices outdated"
    assert _mine(db, sales.id) == []

    # Flagging again adds to the flag and tells the owner again, with the new reason.
    feedback.raise_flag(db, sales.id, asset_id, "specs_wrong")
    newest = _mine(db, owner.id)[0]
    assert message(newest, english) == f"Сергей flagged “{TITLE}” as outdated: Wrong specifications"
    assert _count(db, user_id=owner.id, flag_id=flag_id) == 2

    # The owner flagging their own asset tells nobody.
    feedback.raise_flag(db, owner.id, asset_id, "legal_expired")
    assert _count(db) == 2


def test_a_notification_is_created_once_per_key(db, asset_id, owner) -> None:
    with db.transaction() as session:
        first = notifications.notify(session, owner.id, NotificationKind.REVIEW_DUE, dedupe_key="k", asset_id=asset_id)
        again = notifications.notify(session, owner.id, NotificationKind.REVIEW_DUE, dedupe_key="k", asset_id=asset_id)
    with db.transaction() as session:
        later = notifications.notify(session, owner.id, NotificationKind.REVIEW_DUE, dedupe_key="k", asset_id=asset_id)
    assert (first, again, later) == (True, False, False)
    assert _count(db) == 1


def test_the_flagger_is_told_of_a_new_version_resolving_the_flag(db, publisher, asset_id, owner, sales) -> None:
    flag_id = feedback.raise_flag(db, sales.id, asset_id, "prices_outdated").flag_id
    published = publisher.add_version(owner.id, asset_id, text_upload("версия 2", "v2.md"), "Цены на 2027 год")
    [told] = _mine(db, sales.id)
    assert (told.kind, told.version, told.actor) == ("flag_resolved", 2, "Мария")
    assert told.data == {"note": "Цены на 2027 год", "reasons": ["prices_outdated"], "version": 2}
    assert message(told, english) == f"Your flag on “{TITLE}” was resolved by version 2"
    with db.session() as session:
        row = session.scalars(select(Notification).where(Notification.user_id == sales.id)).one()
        assert (row.flag_id, row.version_id) == (flag_id, published.version_id)
    # The owner heard of the flag, not of the resolution.
    assert [n.kind for n in _mine(db, owner.id)] == ["flag_raised"]


def test_the_flagger_is_told_of_a_dismissal_with_the_note_and_of_a_resolution(
    db, asset_id, owner, sales, make_user
) -> None:
    colleague = make_user("sales", display_name="Анна")
    dismissed = feedback.raise_flag(db, sales.id, asset_id, "prices_outdated").flag_id
    resolved = feedback.raise_flag(db, colleague.id, asset_id, "broken_file").flag_id
    feedback.dismiss_flag(db, owner.id, dismissed, "Цены действуют до декабря")
    feedback.resolve_flag(db, owner.id, resolved, "Файл заменён в хранилище")

    [told] = _mine(db, sales.id)
    assert (told.kind, told.actor) == ("flag_dismissed", "Мария")
    assert told.data == {"note": "Цены действуют до декабря", "reasons": ["prices_outdated"], "version": None}
    assert message(told, english) == f"Your flag on “{TITLE}” was dismissed"

    [told] = _mine(db, colleague.id)
    assert (told.kind, told.data["note"], told.version) == ("flag_resolved", "Файл заменён в хранилище", None)
    assert message(told, english) == f"Your flag on “{TITLE}” was resolved"


def test_followers_are_told_of_a_new_version_but_not_the_publisher(
    db, publisher, asset_id, owner, sales, make_user
) -> None:
    quitter = make_user("sales")
    assert notifications.follow(db, sales.id, asset_id) is True
    assert notifications.follow(db, sales.id, asset_id) is True  # following twice is following
    assert notifications.follow(db, owner.id, asset_id) is True
    notifications.follow(db, quitter.id, asset_id)
    assert notifications.follow(db, quitter.id, asset_id, wanted=False) is False
    with db.session() as session:
        assert notifications.is_following(session, sales.id, asset_id)
        assert not notifications.is_following(session, quitter.id, asset_id)

    published = publisher.add_version(owner.id, asset_id, text_upload("версия 2", "v2.md"), "Добавлена модель НВ-300")
    [told] = _mine(db, sales.id)
    assert (told.kind, told.version, told.actor, told.asset_id) == ("new_version", 2, "Мария", asset_id)
    assert told.data == {"version": 2, "note": "Добавлена модель НВ-300"}
    assert message(told, english) == f"“{TITLE}” has a new version 2"
    assert _mine(db, owner.id) == [] and _mine(db, quitter.id) == []
    with db.session() as session:
        assert session.scalar(select(Notification.version_id).where(Notification.user_id == sales.id)) == (
            published.version_id
        )


def test_sales_cannot_follow_what_they_cannot_see(db, publisher, owner, sales) -> None:
    draft = publisher.create_asset(
        owner.id, fields(owner, title="Черновик"), text_upload("черновик", "d.md"), status=AssetStatus.DRAFT
    ).asset_id
    with pytest.raises(NotFound):
        notifications.follow(db, sales.id, draft)
    with pytest.raises(NotFound):
        notifications.follow(db, sales.id, 999_999)
    assert notifications.follow(db, owner.id, draft) is True  # marketing sees drafts


# --- wording --------------------------------------------------------------------------------------------------


def _view(kind: NotificationKind, data: dict, *, title: str | None = TITLE, actor: str | None = "Сергей", version=None):
    return NotificationView(
        id=1,
        kind=str(kind),
        asset_id=1,
        asset_title=title,
        actor=actor,
        version=version,
        data=data,
        created_at=datetime(2026, 6, 1, tzinfo=UTC),
        read=False,
    )


WORDING = [
    (
        _view(NotificationKind.FLAG_RAISED, {"reason": "legal_expired"}),
        f"Сергей flagged “{TITLE}” as outdated: Legal terms expired",
    ),
    (
        _view(NotificationKind.FLAG_RAISED, {"reason": "missing_info"}, actor=None),
        f"Someone flagged “{TITLE}” as outdated: Missing information",
    ),
    (
        _view(NotificationKind.FLAG_RESOLVED, {"reasons": ["superseded", "other"], "version": 3}),
        f"Your flag on “{TITLE}” was resolved by version 3",
    ),
    (_view(NotificationKind.FLAG_RESOLVED, {"version": None}), f"Your flag on “{TITLE}” was resolved"),
    (
        _view(NotificationKind.FLAG_DISMISSED, {"note": "нет"}, title=None),
        "Your flag on “a deleted asset” was dismissed",
    ),
    (_view(NotificationKind.NEW_VERSION, {}, version=4), f"“{TITLE}” has a new version 4"),
    (_view(NotificationKind.REVIEW_DUE, {"review_on": "2026-06-08"}), f"“{TITLE}” is due for review on 2026-06-08"),
    (
        _view(NotificationKind.DIGEST, {"count": 3, "items": []}, title=None),
        "Your freshness queue: 3 assets need attention",
    ),
]


@pytest.mark.parametrize(("view", "expected"), WORDING, ids=[str(v.kind) for v, _ in WORDING])
def test_message_wording(view: NotificationView, expected: str) -> None:
    assert message(view, english) == expected
    assert message(view, notifications.translations("en").gettext) == expected
    # The Russian catalog does not have these sentences yet: only check the Russian rendering works and keeps the
    # facts (title, numbers) in.
    russian = message(view, notifications.translations("ru").gettext)
    assert (view.asset_title or "") in russian
    for number in ("3", "4", "2026-06-08"):
        if number in expected:
            assert number in russian


# --- read state -----------------------------------------------------------------------------------------------


def test_unread_count_and_mark_read(db, asset_id, owner, sales, make_user) -> None:
    others = [make_user("sales", display_name=f"Продавец {i}") for i in range(3)]
    for person in others:
        feedback.raise_flag(db, person.id, asset_id, "prices_outdated")
    with db.transaction() as session:  # someone else's notification, which the owner cannot mark
        notifications.notify(session, sales.id, NotificationKind.REVIEW_DUE, dedupe_key="x", asset_id=asset_id)
    views = _mine(db, owner.id)
    assert [v.actor for v in views] == ["Продавец 2", "Продавец 1", "Продавец 0"]  # newest first
    [foreign] = _mine(db, sales.id)

    def unread(user_id: int) -> int:
        with db.session() as session:
            return notifications.unread_count(session, user_id)

    assert (unread(owner.id), unread(sales.id)) == (3, 1)
    assert notifications.mark_read(db, owner.id, [views[0].id]) == 1
    assert notifications.mark_read(db, owner.id, [views[0].id]) == 0  # already read
    assert notifications.mark_read(db, owner.id, [foreign.id]) == 0  # not theirs
    assert notifications.mark_read(db, owner.id, []) == 0
    assert (unread(owner.id), unread(sales.id)) == (2, 1)
    assert [v.read for v in _mine(db, owner.id)] == [True, False, False]
    assert notifications.mark_read(db, owner.id) == 2
    assert (unread(owner.id), unread(sales.id)) == (0, 1)
    with db.session() as session:
        assert [v.actor for v in notifications.list_for(session, owner.id, limit=1, offset=1)] == ["Продавец 1"]


# --- the daily digest -----------------------------------------------------------------------------------------


def created(report: digest.DigestReport) -> tuple[int, int]:
    """New review-due notices and new digests of a run."""
    return report.review_notices, report.digests


def test_digest_is_idempotent_and_lists_each_owners_queue(app, db, owner, sales, make_user) -> None:
    publisher = publisher_for(app)
    oleg = make_user("marketing", display_name="Олег")
    gone = make_user("marketing", display_name="Уволен")
    today = utcnow().date()

    def asset(person, title: str, review_in: int) -> int:
        asset_id = publisher.create_asset(
            person.id, fields(person, title=title), text_upload(title, f"{title}.md")
        ).asset_id
        with db.transaction() as session:
            session.execute(
                update(Asset).where(Asset.id == asset_id).values(next_review_on=today + timedelta(days=review_in))
            )
        return asset_id

    flagged = asset(owner, "Флаг", 60)  # 37.5 points
    feedback.raise_flag(db, sales.id, flagged, "prices_outdated")
    overdue = asset(owner, "Просрочен", -10)  # 2 + 3 × log2(4/3) = 3.25 points
    due = asset(owner, "Скоро", 7)  # 1 point
    asset(owner, "Свежий", 60)
    asset(oleg, "Свежий у Олега", 60)  # Олег has nothing to do: no digest
    asset(gone, "У уволенного", -30)
    accounts.set_active(db, gone.id, False)  # inactive people get nothing
    before = _count(db)
    jobs_before = _index_jobs(db)

    report = digest.run(db, today)
    assert (report.review_notices, report.digests) == (2, 1)
    assert _index_jobs(db) == jobs_before  # search reads review dates from the database: nothing to re-index
    assert _count(db) == before + 3
    assert [n for n in _mine(db, oleg.id)] == [] and _mine(db, gone.id) == []

    notices = [n for n in _mine(db, owner.id) if n.kind == "review_due"]
    assert sorted((n.asset_id, n.data["review_on"]) for n in notices) == sorted(
        [(overdue, (today - timedelta(days=10)).isoformat()), (due, (today + timedelta(days=7)).isoformat())]
    )
    [summary] = [n for n in _mine(db, owner.id) if n.kind == "digest"]
    with db.session() as session:
        expected = queue(session, today, QueueFilters(owner_id=owner.id)).items
    assert [i["asset_id"] for i in summary.data["items"]] == [i.asset_id for i in expected] == [flagged, overdue, due]
    assert summary.data["count"] == 3
    assert [(i["title"], i["score"]) for i in summary.data["items"]] == [
        ("Флаг", 37.5),
        ("Просрочен", 3.25),
        ("Скоро", 1.0),
    ]
    assert message(summary, english) == "Your freshness queue: 3 assets need attention"

    # Run again the same day: nothing new.
    assert created(digest.run(db, today)) == (0, 0)
    assert _count(db) == before + 3

    # The next day: a new digest, but the same review dates are not announced again.
    assert created(digest.run(db, today + timedelta(days=1))) == (0, 1)
    # A new review date within two weeks is announced again, once.
    with db.transaction() as session:
        session.execute(update(Asset).where(Asset.id == due).values(next_review_on=today + timedelta(days=3)))
    assert created(digest.run(db, today + timedelta(days=1))) == (1, 0)
    assert created(digest.run(db, today + timedelta(days=1))) == (0, 0)

    # Confirmed as current: out of the queue and no longer due.
    reviews.confirm_current(db, owner.id, due)
    reviews.confirm_current(db, owner.id, overdue)
    assert created(digest.run(db, today + timedelta(days=2))) == (0, 1)
    newest = [n for n in _mine(db, owner.id) if n.kind == "digest"][0]
    assert [i["asset_id"] for i in newest.data["items"]] == [flagged]


# --- e-mail ---------------------------------------------------------------------------------------------------


def _email_jobs(db) -> list[Job]:
    with db.session() as session:
        return list(session.scalars(select(Job).where(Job.kind == notifications.EMAIL_JOB).order_by(Job.id)))


def test_no_email_jobs_when_smtp_is_off(db, asset_id, sales) -> None:
    feedback.raise_flag(db, sales.id, asset_id, "prices_outdated")
    assert _count(db) == 1 and _email_jobs(db) == []


def test_a_flag_is_emailed_to_the_owner_once(mail_app, smtp) -> None:
    inbox, _port = smtp
    mail_db = mail_app.extensions["kb_db"]
    owner = accounts.create_user(mail_db, "owner@example.com", "correct horse battery", "marketing", "Мария")
    sales = accounts.create_user(mail_db, "sales@example.com", "correct horse battery", "sales", "Сергей")
    asset_id = publisher_for(mail_app).create_asset(owner.id, fields(owner), text_upload("# Каталог")).asset_id
    assert _email_jobs(mail_db) == []  # publishing tells nobody

    feedback.raise_flag(mail_db, sales.id, asset_id, "prices_outdated", "Цены 2025 года")
    [told] = _mine(mail_db, owner.id)
    [job] = _email_jobs(mail_db)
    assert job.payload == {"notification_id": told.id} and job.status == JobStatus.QUEUED

    worker_for(mail_app).run_until_idle()
    assert len(inbox.messages) == 1
    [mail] = inbox.messages
    assert inbox.recipients == [["owner@example.com"]]
    assert mail["To"] == "owner@example.com" and mail["From"] == "kb@example.com"
    assert TITLE in mail["Subject"]
    assert mail["Subject"] == message(told, notifications.translations("ru").gettext)
    body = mail.get_content()
    assert "Цены 2025 года" in body and f"/assets/{asset_id}" in body
    with mail_db.session() as session:
        notification = session.get(Notification, told.id)
        assert notification.emailed_at is not None
        assert session.get(Job, job.id).status == JobStatus.DONE

    # The job run again (a retry after a lost acknowledgement, say) sends nothing more.
    with mail_db.transaction() as session:
        jobs.enqueue(session, notifications.EMAIL_JOB, {"notification_id": told.id})
    worker_for(mail_app).run_until_idle()
    assert len(inbox.messages) == 1
    assert all(j.status == JobStatus.DONE for j in _email_jobs(mail_db))


def test_email_job_is_enqueued_in_the_notifications_transaction(mail_app) -> None:
    mail_db = mail_app.extensions["kb_db"]
    owner = accounts.create_user(mail_db, "owner@example.com", "correct horse battery", "marketing")
    with pytest.raises(RuntimeError), mail_db.transaction() as session:
        notifications.notify(session, owner.id, NotificationKind.DIGEST, dedupe_key="rolled-back", data={"count": 1})
        raise RuntimeError("the cause fails")
    assert _count(mail_db) == 0 and _email_jobs(mail_db) == []

    with mail_db.transaction() as session:
        notifications.notify(session, owner.id, NotificationKind.DIGEST, dedupe_key="kept", data={"count": 1})
        notifications.notify(session, owner.id, NotificationKind.DIGEST, dedupe_key="kept", data={"count": 1})
    assert _count(mail_db) == 1 and len(_email_jobs(mail_db)) == 1  # a repeated notice is not mailed again


def test_digest_email_lists_the_items_with_links(mail_app, smtp) -> None:
    inbox, _port = smtp
    mail_db = mail_app.extensions["kb_db"]
    owner = accounts.create_user(
        mail_db, "owner@example.com", "correct horse battery", "marketing", "Мария", preferred_language="en"
    )
    sales = accounts.create_user(mail_db, "sales@example.com", "correct horse battery", "sales")
    asset_id = publisher_for(mail_app).create_asset(owner.id, fields(owner), text_upload("# Каталог")).asset_id
    feedback.raise_flag(mail_db, sales.id, asset_id, "prices_outdated")
    assert digest.run(mail_db, utcnow().date()).digests == 1
    worker_for(mail_app).run_until_idle()
    subjects = sorted(m["Subject"] for m in inbox.messages)
    assert subjects == [
        "Your freshness queue: 1 asset needs attention",
        f"sales flagged “{TITLE}” as outdated: Prices outdated",  # no display name: the e-mail's local part
    ]
    digest_mail = next(m for m in inbox.messages if m["Subject"].startswith("Your freshness queue"))
    body = digest_mail.get_content()
    assert f"- {TITLE} (37.5): http://127.0.0.1:5000/assets/{asset_id}" in body
    assert "http://127.0.0.1:5000/freshness" in body


def _index_jobs(db) -> int:
    from sqlalchemy import func, select

    from kb.models import Job
    from kb.search.indexing import INDEX_JOB

    with db.session() as session:
        return session.scalar(select(func.count()).where(Job.kind == INDEX_JOB)) or 0


@pytest.mark.parametrize(
    ("count", "russian"),
    [(1, "1 материал требует"), (3, "3 материала требуют"), (5, "5 материалов требуют"), (21, "21 материал требует")],
)
def test_the_digest_says_its_count_in_russian_plural_forms(count: int, russian: str) -> None:
    view = _view(NotificationKind.DIGEST, {"count": count, "items": []}, title=None)
    catalog = notifications.translations("ru")
    assert russian in message(view, catalog.gettext, catalog.ngettext)
    english = notifications.translations("en")
    assert message(view, english.gettext, english.ngettext).endswith(
        "needs attention" if count == 1 else "need attention"
    )
