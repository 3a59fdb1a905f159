"""Each person's home: sales see what they follow, their flags and what became of them, what they opened;
marketing see their own work and its place in the freshness queue."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import update

from conftest import Auth
from kb import accounts, feedback, home, notifications, usage
from kb.models import Asset, AssetStatus, UsageKind, utcnow
from publishing_helpers import fields, publisher_for, text_upload

TODAY = date.today()


@pytest.fixture
def team(app, make_user, db):
    """Two marketing owners, a salesperson; Мария's assets: one flagged, one overdue, one fresh, one draft."""
    maria = make_user("marketing", display_name="Мария Смирнова")
    oleg = make_user("marketing", display_name="Олег Орлов")
    ivan = make_user("sales", display_name="Иван Петров")
    publisher = publisher_for(app)

    def asset(owner, title, review_in, status=AssetStatus.PUBLISHED):
        made = publisher.create_asset(owner.id, fields(owner, title=title), text_upload(title, "a.md"), status=status)
        with db.transaction() as session:
            new_date = TODAY + timedelta(days=review_in)
            session.execute(update(Asset).where(Asset.id == made.asset_id).values(next_review_on=new_date))
        return made.asset_id

    ids = {
        "price": asset(maria, "Прайс НВ", 100),
        "deck": asset(maria, "Презентация НВ", -60),
        "spec": asset(maria, "Техлист НВ", 200),
        "draft": asset(maria, "Черновик НВ", 300, AssetStatus.DRAFT),
        "boiler": asset(oleg, "Котлы КВ", -300),
    }
    feedback.raise_flag(db, ivan.id, ids["price"], "prices_outdated", "Цены 2025 года")
    closed = feedback.raise_flag(db, ivan.id, ids["spec"], "specs_wrong", "Не та мощность")
    feedback.resolve_flag(db, maria.id, closed.flag_id, "Исправили мощность")
    notifications.follow(db, ivan.id, ids["deck"])
    usage.record(db, UsageKind.VIEW, user_id=ivan.id, asset_id=ids["boiler"])
    usage.record(db, UsageKind.VIEW, user_id=ivan.id, asset_id=ids["draft"])  # a draft he once saw: not listed
    return {"ids": ids, "maria": maria, "oleg": oleg, "ivan": ivan}


def test_marketing_sees_their_own_work_and_its_place_in_the_queue(db, team) -> None:
    with db.session() as session:
        work = home.marketing_home(session, team["maria"], TODAY)
    assert work.counts == {"fresh": 1, "review_due": 0, "overdue": 1, "flagged": 1} and work.drafts == 1
    assert [(f.title, f.reason, f.raised_by) for f in work.flags] == [("Прайс НВ", "prices_outdated", "Иван Петров")]
    assert work.flags_total == 1
    # The whole queue: the flagged price list first, then the overdue items of both owners
    assert work.queue_total == 3 and work.queue_mine == 2
    assert [(p.place, p.item.title) for p in work.queue] == [(1, "Прайс НВ"), (3, "Презентация НВ")]
    with db.session() as session:
        nothing = home.marketing_home(session, team["ivan"], TODAY)
    assert not nothing.owns_assets and nothing.queue == [] and nothing.flags == []


def test_sales_see_what_they_follow_their_flags_and_what_they_opened(db, team) -> None:
    with db.session() as session:
        mine = home.sales_home(session, team["ivan"], TODAY, utcnow())
    assert [a.title for a in mine.followed] == ["Презентация НВ"]
    assert mine.freshness[team["ids"]["deck"]] == "overdue"
    assert [(f.title, f.status) for f in mine.flags] == [("Прайс НВ", "open"), ("Техлист НВ", "resolved")]
    assert mine.flags[1].close_note == "Исправили мощность"
    assert [a.title for a in mine.viewed] == ["Котлы КВ"]  # the draft is not his to see


def test_a_flag_closed_long_ago_leaves_the_home_page(db, team) -> None:
    with db.session() as session:
        later = utcnow() + timedelta(days=home.CLOSED_FLAG_DAYS + 1)
        mine = home.sales_home(session, team["ivan"], TODAY, later)
    assert [f.status for f in mine.flags] == ["open"]


def test_the_home_pages_in_russian_agree_with_their_numbers(app, db, team) -> None:
    for who in ("maria", "ivan"):
        accounts.update_profile(db, team[who].id, language="ru")
    marketing = app.test_client()
    Auth(marketing).login(team["maria"].email)
    page = marketing.get("/").get_data(as_text=True)
    assert "Моя работа" in page and "Цены 2025 года" in page and "Иван Петров" in page
    tiles = {label.strip(): int(n) for n, label in re.findall(r'<span class="number">(\d+)</span>([^<]+)</a>', page)}
    assert tiles["черновик"] == 1 and tiles["просроченный"] == 1 and tiles["с отметкой"] == 1  # words agree
    assert "#1" in page and "#3" in page
    assert f'href="/assets?owner={team["maria"].id}&amp;freshness=overdue"' in page
    sales = app.test_client()
    Auth(sales).login(team["ivan"].email)
    page = sales.get("/").get_data(as_text=True)
    assert "Материалы, на которые я подписан" in page and "Презентация НВ" in page
    assert "Мои отметки" in page and "Исправили мощность" in page
    assert "Моя работа" not in page
