"""The freshness queue: the score as a pure function (table-driven, numbers worked out by hand) and the queue
gathered from the database: ranking, filters, owner counts, what stays out, and a fixed number of queries."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event, update

from kb import feedback
from kb.freshness import OpenFlag, QueueFilters, Signals, places, priority, queue
from kb.models import Asset, AssetStatus, StaleFlag, UsageEvent, UsageKind, utcnow
from publishing_helpers import fields, publisher_for, text_upload

TODAY = date(2026, 6, 1)
FAR = TODAY + timedelta(days=200)  # a review date that is neither due nor overdue


def _flag(age_days: int, *reasons: str) -> OpenFlag:
    return OpenFlag(id=age_days, reasons=reasons or ("prices_outdated",), raised_on=TODAY - timedelta(days=age_days))


def _signals(
    *,
    review_in: int = 200,
    version_age: int = 10,
    flags: tuple[OpenFlag, ...] = (),
    average: float | None = None,
    count: int = 0,
    uses: int = 0,
) -> Signals:
    return Signals(
        next_review_on=TODAY + timedelta(days=review_in),
        last_version_on=TODAY - timedelta(days=version_age),
        flags=flags,
        rating_average=average,
        rating_count=count,
        uses_30d=uses,
    )


# --- the score ------------------------------------------------------------------------------------------------

# (id, signals, expected score, expected {reason code: points}, expected multiplier), worked out by hand:
# flag 25 × severity × (0.3 + 0.7 × 0.5^(days/30)); overdue 2 + 3 × log2(1 + days/30); × (1 + log2(1 + uses)/2)
CASES = [
    ("nothing", _signals(), 0.0, {}, 1.0),
    ("a new 'prices outdated' flag", _signals(flags=(_flag(0),)), 37.5, {"flagged": 37.5}, 1.0),
    ("a flag raised 30 days ago", _signals(flags=(_flag(30),)), 24.38, {"flagged": 24.375}, 1.0),
    ("a flag raised 60 days ago", _signals(flags=(_flag(60),)), 17.81, {"flagged": 17.8125}, 1.0),
    ("a flag ten years old keeps the floor", _signals(flags=(_flag(3650),)), 11.25, {"flagged": 11.25}, 1.0),
    ("a flag dated tomorrow counts as new", _signals(flags=(_flag(-1),)), 37.5, {"flagged": 37.5}, 1.0),
    ("two new flags add up", _signals(flags=(_flag(0), _flag(0))), 75.0, {"flagged": 75.0}, 1.0),
    ("missing information weighs less", _signals(flags=(_flag(0, "missing_info"),)), 25.0, {"flagged": 25.0}, 1.0),
    ("superseded, in between", _signals(flags=(_flag(0, "superseded"),)), 30.0, {"flagged": 30.0}, 1.0),
    (
        "the worst reason of a flag counts",
        _signals(flags=(_flag(0, "other", "specs_wrong"),)),
        37.5,
        {"flagged": 37.5},
        1.0,
    ),
    ("overdue by 1 day", _signals(review_in=-1), 2.14, {"overdue": 2.1419}, 1.0),
    ("overdue by 30 days", _signals(review_in=-30), 5.0, {"overdue": 5.0}, 1.0),
    ("overdue by 90 days", _signals(review_in=-90), 8.0, {"overdue": 8.0}, 1.0),
    ("overdue by 210 days", _signals(review_in=-210), 11.0, {"overdue": 11.0}, 1.0),
    ("overdue by 1000 days: no cap", _signals(review_in=-1000), 17.3, {"overdue": 17.3046}, 1.0),
    ("review due today", _signals(review_in=0), 1.0, {"review_due": 1.0}, 1.0),
    ("review due in 14 days", _signals(review_in=14), 1.0, {"review_due": 1.0}, 1.0),
    ("review due in 15 days is not yet due", _signals(review_in=15), 0.0, {}, 1.0),
    ("average 2.5 from 3 ratings is low", _signals(average=2.5, count=3), 2.0, {"low_rating": 2.0}, 1.0),
    ("average 1.0 from 5 ratings", _signals(average=1.0, count=5), 8.0, {"low_rating": 8.0}, 1.0),
    ("average 2.5 from only 2 ratings", _signals(average=2.5, count=2), 0.0, {}, 1.0),
    ("average 2.6 from 10 ratings is not low", _signals(average=2.6, count=10), 0.0, {}, 1.0),
    ("no ratings at all", _signals(average=None, count=0), 0.0, {}, 1.0),
    # 3 uses: 1 + log2(4)/2 = 2;  15 uses: 1 + log2(16)/2 = 3;  255 uses: 1 + log2(256)/2 = 5
    ("a new flag, used 3 times", _signals(flags=(_flag(0),), uses=3), 75.0, {"flagged": 37.5, "usage": 37.5}, 2.0),
    ("a new flag, used 15 times", _signals(flags=(_flag(0),), uses=15), 112.5, {"flagged": 37.5, "usage": 75.0}, 3.0),
    ("overdue 30 days, used 255 times", _signals(review_in=-30, uses=255), 25.0, {"overdue": 5.0, "usage": 20.0}, 5.0),
    # Use alone is no reason to act: the multiplier has nothing to multiply.
    ("used 255 times, nothing wrong", _signals(uses=255), 0.0, {}, 5.0),
    # Old but used: 20+ uses and 180+ days since the last version; 31 uses: 1 + log2(32)/2 = 3.5.
    ("old but used", _signals(version_age=180, uses=31), 10.5, {"old_but_used": 3.0, "usage": 7.5}, 3.5),
    ("old, used 19 times only", _signals(version_age=400, uses=19), 0.0, {}, 3.161),
    ("used 31 times, 179 days old", _signals(version_age=179, uses=31), 0.0, {}, 3.5),
    # Everything at once: 37.5 + 24.375 + 3.2451 (10 days overdue) + 8 (average 1.0) + 3 (old but used)
    # = 76.1201, × 3.5.
    (
        "everything at once",
        _signals(flags=(_flag(0), _flag(30)), review_in=-10, average=1.0, count=4, version_age=365, uses=31),
        266.42,
        {"flagged": 61.875, "overdue": 3.2451, "low_rating": 8.0, "old_but_used": 3.0, "usage": 190.3003},
        3.5,
    ),
]


@pytest.mark.parametrize(
    ("signals", "score", "points", "multiplier"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_priority_table(signals: Signals, score: float, points: dict[str, float], multiplier: float) -> None:
    ranked = priority(signals, TODAY)
    assert ranked.score == pytest.approx(score, abs=0.01)
    assert {r.code: r.points for r in ranked.reasons} == pytest.approx(points, abs=1e-4)
    assert ranked.multiplier == multiplier
    assert ranked.needs_attention is bool(set(points) - {"usage"})


#: Twenty assets as a company's library has them, in the order marketing should take them: what hurts sales
#: now (an open flag on an asset people use) before mere age, use before disuse, and no ties.
REALISTIC_MIX = [
    ("price list KX: wrong specs 5 days, prices 20 days, 12 uses",
     _signals(flags=(_flag(5, "specs_wrong"), _flag(20, "prices_outdated")), uses=12)),
    ("catalog НВ: a new 'prices outdated' flag, used daily", _signals(flags=(_flag(0),), uses=30)),
    ("44-ФЗ template: legal terms expired 10 days ago, 6 uses", _signals(flags=(_flag(10, "legal_expired"),), uses=6)),
    ("deck ШУН: broken file 2 days ago, 2 uses", _signals(flags=(_flag(2, "broken_file"),), uses=2)),
    ("datasheet KX-350: 2 years overdue, 25 uses", _signals(review_in=-730, version_age=800, uses=25)),
    ("case ТЭЦ: 'other' flag 3 days ago, 4 uses", _signals(flags=(_flag(3, "other"),), uses=4)),
    ("catalog ЗКС: 100 days overdue, 10 uses", _signals(review_in=-100, uses=10)),
    ("'missing information' 60 days ago, 1 use", _signals(flags=(_flag(60, "missing_info"),), uses=1)),
    ("223-ФЗ template: 3 years overdue, unused", _signals(review_in=-1095, version_age=1200)),
    ("ТЗ template: 2 years overdue, unused", _signals(review_in=-730, version_age=800)),
    ("price list EMEA: rated 1.5 by 4, 8 uses", _signals(average=1.5, count=4, uses=8)),
    ("'prices outdated' 90 days ago, unused", _signals(flags=(_flag(90),))),
    ("КП template: a year overdue, unused", _signals(review_in=-365, version_age=500)),
    ("deck Аква-Дом: 40 days overdue, 3 uses", _signals(review_in=-40, uses=3)),
    ("brochure: 300 days old, 40 uses", _signals(version_age=300, uses=40)),
    ("case Урал: 10 days overdue", _signals(review_in=-10)),
    ("catalog ТО: review in 5 days, 20 uses", _signals(review_in=5, uses=20)),
    ("template: review in 12 days", _signals(review_in=12)),
    ("fresh catalog, 50 uses", _signals(uses=50)),
    ("fresh deck", _signals()),
]  # fmt: skip


def test_a_realistic_library_is_ranked_as_marketing_should_take_it() -> None:
    scores = {name: priority(signals, TODAY).score for name, signals in REALISTIC_MIX}
    ranked = sorted(scores, key=lambda name: -scores[name])
    assert ranked == [name for name, _signals_ in REALISTIC_MIX]
    needing = [score for score in scores.values() if score > 0]
    assert len(set(needing)) == len(needing) == 18  # no ties, no cap: every item has its own place
    # the case: a fresh "prices outdated" flag on a catalog sales use every day is not behind items
    # that are merely overdue, however long
    catalog = scores["catalog НВ: a new 'prices outdated' flag, used daily"]
    assert all(catalog > scores[name] for name in scores if "overdue" in name)


def test_no_signals_means_nothing_to_do() -> None:
    ranked = priority(_signals(), TODAY)
    assert ranked.score == 0 and ranked.reasons == () and not ranked.needs_attention


def test_reasons_carry_their_numbers() -> None:
    signals = _signals(
        flags=(
            _flag(0, "prices_outdated"),
            _flag(30, "prices_outdated", "specs_wrong"),
            _flag(3, "legal_expired"),
        ),
        review_in=-12,
        average=2.0,
        count=4,
        version_age=200,
        uses=31,
    )
    reasons = {r.code: r for r in priority(signals, TODAY).reasons}
    assert reasons["flagged"].params == {
        "count": 3,
        "by_reason": {"prices_outdated": 2, "specs_wrong": 1, "legal_expired": 1},
    }
    assert list(reasons["flagged"].params["by_reason"])[0] == "prices_outdated"  # most common first
    assert reasons["overdue"].params == {"days": 12}
    assert reasons["overdue"].points == pytest.approx(3.4563, abs=1e-4)
    assert reasons["low_rating"].params == {"average": 2.0, "count": 4}
    assert reasons["low_rating"].points == pytest.approx(4.0)
    assert reasons["old_but_used"].params == {"days": 200, "uses": 31}
    assert reasons["usage"].params == {"uses": 31}

    due = {r.code: r for r in priority(_signals(review_in=9), TODAY).reasons}
    assert due["review_due"].params == {"days": 9}
    # The average is shown rounded to one decimal.
    low = {r.code: r for r in priority(_signals(average=7 / 3, count=3), TODAY).reasons}
    assert low["low_rating"].params == {"average": 2.3, "count": 3}
    assert low["low_rating"].points == pytest.approx(4 * (3 - 7 / 3))


# --- the queue from the database -----------------------------------------------------------------------------


@pytest.fixture
def people(make_user):
    return {
        "maria": make_user("marketing", display_name="Мария"),
        "oleg": make_user("marketing", display_name="Олег"),
        "sales": [make_user("sales", display_name=f"Продавец {i}") for i in range(3)],
    }


def _asset(
    app,
    owner,
    title: str,
    *,
    published_at: datetime | None = None,
    status: AssetStatus = AssetStatus.PUBLISHED,
    **overrides,
) -> int:
    publisher = publisher_for(app)
    return publisher.create_asset(
        owner.id,
        fields(owner, title=title, **overrides),
        text_upload(f"# {title}", f"{title}.md"),
        published_at=published_at,
        status=status,
    ).asset_id


def _uses(db, asset_id: int, n: int, *, days_ago: int = 1) -> None:
    when = utcnow() - timedelta(days=days_ago)
    with db.transaction() as session:
        session.add_all(
            UsageEvent(kind=UsageKind.VIEW if i % 2 else UsageKind.DOWNLOAD, asset_id=asset_id, occurred_at=when)
            for i in range(n)
        )


def _set(db, model, row_id: int, **values) -> None:
    with db.transaction() as session:
        session.execute(update(model).where(model.id == row_id).values(**values))


@pytest.fixture
def library(app, db, people):
    """A small library whose queue order is known; scores worked out by hand in the comments."""
    maria, oleg, sales = people["maria"], people["oleg"], people["sales"]
    today = utcnow().date()
    ids: dict[str, int] = {}

    # 2 new flags (prices outdated, both) and 15 uses: 75 × (1 + log2(16)/2) = 225.
    ids["catalog"] = _asset(app, maria, "Каталог НВ", kind="catalog", product="Насосы НВ")
    feedback.raise_flag(db, sales[0].id, ids["catalog"], "prices_outdated")
    feedback.raise_flag(db, sales[1].id, ids["catalog"], "prices_outdated", "Цены 2025 года")
    _uses(db, ids["catalog"], 15)
    _uses(db, ids["catalog"], 40, days_ago=45)  # older than 30 days: not counted

    # Old but used: published 200 days ago, reviewed yearly, 31 uses: 3 × 3.5 = 10.5.
    ids["old"] = _asset(
        app,
        oleg,
        "Старая презентация",
        kind="presentation",
        product="Насосы НВ",
        review_interval_days=365,
        published_at=utcnow() - timedelta(days=200),
    )
    _uses(db, ids["old"], 31)

    # One flag (wrong specs) raised 30 days ago, never opened: 37.5 × 0.65 = 24.38: a flag outranks mere age.
    ids["datasheet"] = _asset(app, oleg, "Даташит клапана", kind="datasheet", product="Клапаны")
    flag = feedback.raise_flag(db, sales[0].id, ids["datasheet"], "specs_wrong", page=2)
    _set(db, StaleFlag, flag.flag_id, created_at=utcnow() - timedelta(days=30))

    # 30 days overdue: 2 + 3 × log2(2) = 5.
    ids["overdue"] = _asset(app, oleg, "Презентация НВ", kind="presentation", product="Насосы НВ")
    _set(db, Asset, ids["overdue"], next_review_on=today - timedelta(days=30))

    # Three ratings of 2 on the current version: 4 × (3 − 2) = 4.
    ids["low"] = _asset(app, maria, "Кейс водоканала", kind="case_study", product="Клапаны")
    for person in sales:
        feedback.rate(db, person.id, ids["low"], 2)

    # Review due in 7 days: 1.
    ids["due"] = _asset(app, maria, "Шаблон тендера", kind="tender_template", product="Насосы НВ")
    _set(db, Asset, ids["due"], next_review_on=today + timedelta(days=7))

    # Nothing to do, however much it is used.
    ids["fine"] = _asset(app, maria, "Свежий каталог", kind="catalog", product="Насосы НВ")
    _uses(db, ids["fine"], 50)

    # Low ratings of an earlier version do not count against the new one.
    ids["fixed"] = _asset(app, oleg, "Исправленный кейс", kind="case_study", product="Клапаны")
    for person in sales:
        feedback.rate(db, person.id, ids["fixed"], 1)
    publisher_for(app).add_version(oleg.id, ids["fixed"], text_upload("# Исправлено", "v2.md"), "Исправлено")

    # Drafts and archived assets are never in the queue, however stale.
    ids["draft"] = _asset(app, maria, "Черновик", status=AssetStatus.DRAFT)
    _set(db, Asset, ids["draft"], next_review_on=today - timedelta(days=100))
    feedback.raise_flag(db, maria.id, ids["draft"], "other", "черновик устарел")  # marketing can see drafts
    ids["archived"] = _asset(app, maria, "Архивный каталог")
    feedback.raise_flag(db, sales[2].id, ids["archived"], "superseded")
    _set(db, Asset, ids["archived"], next_review_on=today - timedelta(days=100))
    publisher_for(app).set_status(maria.id, ids["archived"], "archived")
    return ids


def test_queue_ranks_by_harm_and_leaves_out_what_needs_nothing(db, library, people) -> None:
    today = utcnow().date()
    with db.session() as session:
        ranked = queue(session, today)
    order = [item.asset_id for item in ranked.items]
    assert order == [library[k] for k in ("catalog", "datasheet", "old", "overdue", "low", "due")]
    assert [item.score for item in ranked.items] == pytest.approx([225.0, 24.38, 10.5, 5.0, 4.0, 1.0], abs=0.01)
    assert ranked.total == 6
    for excluded in ("fine", "fixed", "draft", "archived"):
        assert library[excluded] not in order

    top = ranked.items[0]
    assert top.title == "Каталог НВ" and top.owner_name == "Мария" and top.version == 1
    assert top.freshness == "flagged"
    assert len(top.flags) == 2 and {f.raised_by for f in top.flags} == {"Продавец 0", "Продавец 1"}
    flagged = next(r for r in top.reasons if r.code == "flagged")
    assert flagged.params == {"count": 2, "by_reason": {"prices_outdated": 2}}
    assert next(r for r in top.reasons if r.code == "usage").params == {"uses": 15}
    datasheet = ranked.items[1]
    assert datasheet.flags[0].page == 2 and datasheet.flags[0].reasons == ("specs_wrong",)
    assert {item.asset_id: item.freshness for item in ranked.items}[library["overdue"]] == "overdue"
    assert ranked.items[-1].freshness == "review_due"

    maria, oleg = people["maria"], people["oleg"]
    assert ranked.owners == [(maria.id, "Мария", 3), (oleg.id, "Олег", 3)]


FILTER_CASES = [
    ({"kind": "catalog"}, ["catalog"]),
    ({"kind": "presentation"}, ["old", "overdue"]),
    ({"product": "Клапаны"}, ["datasheet", "low"]),
    ({"reason": "prices_outdated"}, ["catalog"]),
    ({"reason": "specs_wrong"}, ["datasheet"]),
    ({"reason": "flagged"}, ["catalog", "datasheet"]),
    ({"reason": "overdue"}, ["overdue"]),
    ({"reason": "review_due"}, ["due"]),
    ({"reason": "low_rating"}, ["low"]),
    ({"reason": "old_but_used"}, ["old"]),
    ({"reason": "legal_expired"}, []),
    ({"kind": "presentation", "product": "Насосы НВ", "reason": "overdue"}, ["overdue"]),
    ({"kind": "nonexistent"}, []),
]


def test_queue_filters(db, library) -> None:
    # One library for every case (building it is the slow part); each case named in its failure message.
    today = utcnow().date()
    with db.session() as session:
        for filters, expected in FILTER_CASES:
            ranked = queue(session, today, QueueFilters(**filters))
            got = [item.asset_id for item in ranked.items]
            assert got == [library[k] for k in expected], filters
            assert ranked.total == len(expected), filters


def test_queue_owner_filter_and_owner_counts(db, library, people) -> None:
    maria, oleg = people["maria"], people["oleg"]
    today = utcnow().date()
    with db.session() as session:
        mine = queue(session, today, QueueFilters(owner_id=maria.id))
        theirs_in_pumps = queue(session, today, QueueFilters(owner_id=oleg.id, product="Насосы НВ"))
        pumps = queue(session, today, QueueFilters(product="Насосы НВ"))
    assert [item.asset_id for item in mine.items] == [library["catalog"], library["low"], library["due"]]
    # The owner counts ignore the owner filter (they are what the owner picker shows) but keep the others.
    assert mine.owners == [(maria.id, "Мария", 3), (oleg.id, "Олег", 3)]
    assert [item.asset_id for item in theirs_in_pumps.items] == [library["old"], library["overdue"]]
    # Pumps: Мария has the catalog and the tender template, Олег the old and the overdue presentation; a tie
    # is ordered by name.
    assert theirs_in_pumps.owners == [(maria.id, "Мария", 2), (oleg.id, "Олег", 2)]
    assert pumps.owners == theirs_in_pumps.owners
    assert [item.asset_id for item in pumps.items] == [library[k] for k in ("catalog", "old", "overdue", "due")]


def test_a_window_of_the_queue_is_the_same_slice_with_the_same_counts(app, db, library, people) -> None:
    # Flagged, rated and used assets are ranked one by one, the rest by the database: the windows mix both.
    today = utcnow().date()
    for days in (400, 60, 5):  # overdue alone: 13.52, 6.75 and 2.67 points, between the others' scores
        plain = _asset(app, people["oleg"], f"Просрочен на {days}", product="Насосы НВ")
        _set(db, Asset, plain, next_review_on=today - timedelta(days=days))
    with db.session() as session:
        whole = queue(session, today)
        for filters in ({}, {"product": "Насосы НВ"}, {"reason": "overdue"}):
            full = queue(session, today, QueueFilters(**filters))
            for offset in range(0, 10):
                window = queue(session, today, QueueFilters(**filters), offset=offset, limit=2)
                assert window.items == full.items[offset : offset + 2], (filters, offset)
                assert (window.total, window.owners) == (full.total, full.owners), (filters, offset)
    scores = [item.score for item in whole.items]
    assert scores == pytest.approx([225.0, 24.38, 13.52, 10.5, 6.75, 5.0, 4.0, 2.67, 1.0], abs=0.01)
    # Each item's place in the whole queue, worked out without building it (the home page's "#3")
    with db.session() as session:
        assert places(session, today, whole.items) == {item.asset_id: n for n, item in enumerate(whole.items, 1)}
        mine = queue(session, today, QueueFilters(owner_id=people["oleg"].id))
        expected = {i.asset_id: n for n, i in enumerate(whole.items, 1) if i.owner_id == people["oleg"].id}
        assert places(session, today, mine.items) == expected and len(expected) >= 3


def test_queue_is_empty_on_an_empty_library(db) -> None:
    with db.session() as session:
        empty = queue(session, utcnow().date())
    assert empty.items == [] and empty.owners == [] and empty.total == 0


def test_closing_flags_and_confirming_takes_assets_out_of_the_queue(db, library, people) -> None:
    from kb import reviews

    maria, oleg = people["maria"], people["oleg"]
    with db.session() as session:
        flags = feedback.list_flags(session, library["datasheet"], open_only=True)
    feedback.dismiss_flag(db, oleg.id, flags[0].id, "Характеристики верны")
    reviews.confirm_current(db, oleg.id, library["overdue"])
    reviews.confirm_current(db, maria.id, library["due"])
    with db.session() as session:
        ranked = queue(session, utcnow().date())
    assert [item.asset_id for item in ranked.items] == [library["catalog"], library["old"], library["low"]]


def _count_queries(db):
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    return statements, lambda: event.remove(db.engine, "before_cursor_execute", count)


def _stale_assets(app, db, owner, flagger, start: int, n: int) -> None:
    today = utcnow().date()
    for i in range(start, start + n):
        asset_id = _asset(
            app, owner, f"Актив {i}", kind=("catalog", "datasheet", "presentation")[i % 3], tags=[f"тег{i}"]
        )
        feedback.raise_flag(db, flagger.id, asset_id, "prices_outdated")
        feedback.rate(db, flagger.id, asset_id, 1 + i % 5)
        _uses(db, asset_id, 1 + i % 4)
        if i % 2:
            _set(db, Asset, asset_id, next_review_on=today - timedelta(days=i))


def test_queue_runs_a_fixed_number_of_queries(app, db, people) -> None:
    owner, flagger = people["maria"], people["sales"][0]
    today = utcnow().date()

    def measured() -> tuple[int, int]:
        statements, stop = _count_queries(db)
        try:
            with db.session() as session:
                ranked = queue(session, today)
                # Reading what the web page shows must not load anything more.
                for item in ranked.items:
                    _ = (item.title, item.owner_name, item.version, item.flags, item.reasons, item.freshness)
        finally:
            stop()
        return len(statements), ranked.total

    _stale_assets(app, db, owner, flagger, 0, 3)
    few, total = measured()
    assert total == 3
    _stale_assets(app, db, owner, flagger, 3, 27)
    many, total = measured()
    assert total == 30
    assert many == few, f"{few} queries for 3 assets, {many} for 30"
    assert few <= 8
