"""Content analytics: queries grouped by meaning, clicks from result lists, gaps, per-asset use, ratings, disuse."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, insert

from conftest import csrf_from
from kb import analytics, feedback
from kb.errors import Forbidden, ValidationError
from kb.models import UsageEvent
from publishing_helpers import fields, publisher_for, text_upload, worker_for
from search_helpers import SearchIndex

TODAY = date.today()


@pytest.fixture(autouse=True)
def fresh_searchers():
    yield
    SearchIndex.close_all()


@pytest.fixture
def catalog(app, make_user):
    owner = make_user("marketing")
    published = publisher_for(app).create_asset(
        owner.id, fields(owner, title="Каталог насосов НВ"), text_upload("Насосы НВ-250/4 для водоканалов")
    )
    worker_for(app).run_until_idle()
    return owner, published.asset_id


def test_inflected_queries_group_together() -> None:
    assert analytics.normalize_query("Каталоги насосов") == analytics.normalize_query("каталог  НАСОС")
    assert analytics.normalize_query("каталог насосов") != analytics.normalize_query("каталог компрессоров")
    assert analytics.normalize_query("и в на") == "и в на"  # only stop words: kept as typed, lowercased


def test_a_click_from_the_result_list_counts_once_and_only_for_its_searcher(client, auth, make_user, catalog, db):
    _owner, asset_id = catalog
    sales, other = make_user("sales"), make_user("sales")
    auth.login(sales.email)
    page = client.get("/search?q=каталоги+насосов").get_data(as_text=True)
    search_key = re.search(rf"/assets/{asset_id}\?s=([\w-]+)", page).group(1)
    client.get("/search?q=газовые+турбины")  # nothing found
    client.get("/search?q=Каталог+насоса")  # found, not opened
    assert client.get(f"/assets/{asset_id}?s={search_key}").status_code == 200
    assert client.get(f"/assets/{asset_id}?s=made-up-key").status_code == 200  # a made-up key counts nothing
    assert client.get(f"/assets/{asset_id}?s=" + "x" * 300).status_code == 200  # nor does one that cannot be
    auth.logout()
    auth.login(other.email)
    client.get(f"/assets/{asset_id}?s={search_key}")  # someone else's link: not their click

    client.application.extensions["kb_search_log"].flush()
    with db.session() as session:
        result = analytics.search_analytics(session, TODAY)
        usage = analytics.asset_usage(session, asset_id, TODAY)
    top = {q.query: q for q in result.top}
    pumps = top[analytics.normalize_query("каталог насосов")]
    assert (pumps.searches, pumps.clicked, pumps.zero_results) == (2, 1, 0)
    turbines = top[analytics.normalize_query("газовые турбины")]
    assert (turbines.searches, turbines.zero_results, turbines.is_gap) == (1, 1, True)
    assert [g.query for g in result.gaps] == [turbines.query]
    assert result.total_searches == 3
    assert usage.searches == [("каталоги насосов", 1)]
    assert sum(w.views for w in usage.weeks) == 4 and usage.weeks[-1].week_starting <= TODAY


def test_marketing_marks_gaps_planned_or_covered(app, db, make_user, catalog) -> None:
    owner, asset_id = catalog
    sales = make_user("sales")
    with db.transaction() as session:
        session.execute(
            insert(UsageEvent),
            [{"kind": "search", "user_id": sales.id, "query": "газовые турбины", "result_count": 0}],
        )
    with pytest.raises(Forbidden):
        analytics.mark_gap(db, sales.id, "газовые турбины", "planned")
    with pytest.raises(ValidationError):
        analytics.mark_gap(db, owner.id, "газовые турбины", "covered")  # by which asset?
    with pytest.raises(ValidationError):
        analytics.mark_gap(db, owner.id, "газовые турбины", "someday")
    analytics.mark_gap(db, owner.id, "Газовая турбина", "planned", note="к маю")
    with db.session() as session:
        gap = analytics.search_analytics(session, TODAY).gaps[0]
    assert (gap.gap_status, gap.gap_note) == ("planned", "к маю")
    analytics.mark_gap(db, owner.id, "газовые турбины", "covered", asset_id=asset_id)
    with db.session() as session:
        gap = analytics.search_analytics(session, TODAY).gaps[0]
    assert (gap.gap_status, gap.gap_asset_id) == ("covered", asset_id)
    analytics.mark_gap(db, owner.id, "газовые турбины", "")
    with db.session() as session:
        assert analytics.search_analytics(session, TODAY).gaps[0].gap_status is None


def test_top_rated_and_nobody_opened(app, db, make_user) -> None:
    owner = make_user("marketing")
    raters = [make_user("sales") for _ in range(2)]
    publisher = publisher_for(app)
    old = datetime.now(UTC) - timedelta(days=200)
    ids = [
        publisher.create_asset(
            owner.id,
            fields(owner, title=title, kind=kind, segments=segments),
            text_upload(title, f"{n}.md"),
            published_at=old,
        ).asset_id
        for n, (title, kind, segments) in enumerate(
            [("A", "catalog", ["B2B"]), ("B", "catalog", ["B2B", "B2G"]), ("C", "presentation", ["B2G"])]
        )
    ]
    for rater, stars in zip(raters, (5, 4), strict=True):
        feedback.rate(db, rater.id, ids[0], stars)
        feedback.rate(db, rater.id, ids[1], 5)
    feedback.rate(db, raters[0].id, ids[2], 3)
    with db.session() as session:
        rated = analytics.top_rated(session)
    assert [(i.title, i.average, i.count) for i in rated["segment"]["B2B"]] == [("B", 5.0, 2), ("A", 4.5, 2)]
    assert [i.title for i in rated["segment"]["B2G"]] == ["B", "C"]
    assert [i.title for i in rated["kind"]["presentation"]] == ["C"]
    with db.transaction() as session:
        session.execute(insert(UsageEvent), [{"kind": "view", "user_id": raters[0].id, "asset_id": ids[1]}])
    with db.session() as session:
        assert [u.title for u in analytics.unopened(session, TODAY)] == ["A", "C"]
        assert [u.title for u in analytics.unopened(session, TODAY, limit=1)] == ["A"]
        assert analytics.count_unopened(session, TODAY) == 2


def test_ten_thousand_usage_events_take_the_same_number_of_queries(db, make_user, catalog) -> None:
    _owner, asset_id = catalog
    sales = make_user("sales")
    statements: list[str] = []

    def count(*args):  # type: ignore[no-untyped-def]
        statements.append(args[2])

    def run() -> int:
        statements.clear()
        with db.session() as session:
            analytics.search_analytics(session, TODAY)
            analytics.asset_usage(session, asset_id, TODAY)
            analytics.top_rated(session)
            analytics.unopened(session, TODAY)
        return len(statements)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        few = run()
        now = datetime.now(UTC)
        rows = [
            {
                "kind": "search" if n % 2 else "view",
                "user_id": sales.id,
                "asset_id": None if n % 2 else asset_id,
                "query": f"запрос {n % 300}" if n % 2 else None,
                "result_count": n % 3 if n % 2 else None,
                "occurred_at": now - timedelta(minutes=n),
            }
            for n in range(10_000)
        ]
        with db.transaction() as session:
            session.execute(insert(UsageEvent), rows)
        assert run() == few
        with db.session() as session:
            result = analytics.search_analytics(session, TODAY, limit=500)
        assert result.total_searches == 5_000 and len(result.top) == 150  # odd n only: 150 distinct queries
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_content_page_for_marketing_only_and_gap_form(client, auth, make_user, catalog) -> None:
    owner, asset_id = catalog
    sales = make_user("sales")
    auth.login(sales.email)
    client.get("/search?q=газовые+турбины")
    assert client.get("/reports/content").status_code == 403
    auth.logout()
    auth.login(owner.email)
    page = client.get("/reports/content?days=30")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "газовые турбины" in body
    token = csrf_from(body)
    query = "газовые турбины"  # the form sends the query as typed; kb groups it
    saved = client.post(
        "/reports/content/gaps", data={"csrf_token": token, "query": query, "status": "covered", "asset_id": asset_id}
    )
    assert saved.status_code == 302
    assert ">covered<" in client.get("/reports/content").get_data(as_text=True)
    no_asset = client.post("/reports/content/gaps", data={"csrf_token": token, "query": query, "status": "covered"})
    assert no_asset.status_code == 400 and "Name the asset" in no_asset.get_data(as_text=True)
    bad_id = client.post(
        "/reports/content/gaps", data={"csrf_token": token, "query": query, "status": "covered", "asset_id": "x1"}
    )
    assert bad_id.status_code == 400 and "number or a link" in bad_id.get_data(as_text=True)
    by_link = client.post(
        "/reports/content/gaps",
        data={
            "csrf_token": token,
            "query": query,
            "status": "covered",
            "asset_id": f"https://kb.example/assets/{asset_id}",
        },
    )  # a link copied from the address bar names the asset too
    assert by_link.status_code == 302
    missing = client.post(
        "/reports/content/gaps", data={"csrf_token": token, "query": query, "status": "covered", "asset_id": "999999"}
    )
    assert missing.status_code == 404
    # the form no longer lists every asset of the library in each row
    assert "<select" not in client.get("/reports/content").get_data(as_text=True).split('id="gaps"')[-1]


def test_content_page_lists_the_longest_unopened_and_says_how_many_there_are(
    app, client, auth, make_user, monkeypatch
) -> None:
    owner = make_user("marketing")
    publisher = publisher_for(app)
    old = datetime.now(UTC) - timedelta(days=200)
    for n, title in enumerate(("Старый", "Новее")):
        publisher.create_asset(
            owner.id, fields(owner, title=title), text_upload(title, f"{n}.md"), published_at=old + timedelta(days=n)
        )
    monkeypatch.setattr("kb.web.reports.UNOPENED_SHOWN", 1)
    auth.login(owner.email)
    section = client.get("/reports/content").get_data(as_text=True).split('id="unopened"')[1]
    assert "Старый" in section and "Новее" not in section
    assert "The 1 published longest ago of 2 are listed." in section
