"""The library list: filters by kind, status, owner, product and freshness; sorting that says what it does."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from conftest import Auth
from kb import accounts, assets, feedback
from kb.models import Asset, AssetStatus
from publishing_helpers import fields, publisher_for, text_upload

TODAY = date(2026, 12, 1)


def _as(role: str) -> SimpleNamespace:
    """A viewer of ``role`` in no audience (kb.assets takes the viewer, not just a role)."""
    return SimpleNamespace(id=0, role=role)


@pytest.fixture
def library(app, make_user, db):
    """Six assets of two owners: fresh, review due, overdue, flagged, a draft and one without a product."""
    anna = make_user("marketing", display_name="Анна Белова")
    boris = make_user("marketing", display_name="Борис Волков")
    sales = make_user("sales")
    publisher = publisher_for(app)
    specs = [
        ("Ярмарка прайс", anna, "Насосы НВ", 100, AssetStatus.PUBLISHED),
        ("Акции квартала", boris, "Котлы КВ", 10, AssetStatus.PUBLISHED),
        ("Буклет старый", anna, "Насосы НВ", -40, AssetStatus.PUBLISHED),
        ("Всё о котлах", boris, "Котлы КВ", 200, AssetStatus.PUBLISHED),
        ("Черновик презентации", anna, "Насосы НВ", 300, AssetStatus.DRAFT),
        ("Общий шаблон", boris, "", 50, AssetStatus.PUBLISHED),
    ]
    ids = {}
    for n, (title, owner, product, review_in, status) in enumerate(specs):
        published = publisher.create_asset(
            owner.id, fields(owner, title=title, product=product), text_upload(f"текст {n}", f"f{n}.md"), status=status
        )
        ids[title] = published.asset_id
        with db.transaction() as session:
            session.execute(
                update(Asset)
                .where(Asset.id == published.asset_id)
                .values(next_review_on=TODAY + timedelta(days=review_in))
            )
    feedback.raise_flag(db, sales.id, ids["Всё о котлах"], "prices_outdated", "цены 2025 года")
    with db.transaction() as session:  # changed one a day, in the order of the list
        for n, asset_id in enumerate(ids.values()):
            changed = datetime(2026, 11, 1 + n, 9, 0, tzinfo=UTC)
            session.execute(update(Asset).where(Asset.id == asset_id).values(updated_at=changed))
    return {"ids": ids, "anna": anna, "boris": boris, "sales": sales}


def _titles(page: assets.AssetPage) -> list[str]:
    return [a.title for a in page.items]


def test_each_freshness_state_filters_the_published_assets(db, library) -> None:
    with db.session() as session:

        def titles(state: str) -> list[str]:
            query = assets.LibraryQuery(freshness=state, sort="title")
            return _titles(assets.list_assets(session, _as("marketing"), query, today=TODAY))

        assert titles("fresh") == ["Общий шаблон", "Ярмарка прайс"]
        assert titles("review_due") == ["Акции квартала"]
        assert titles("overdue") == ["Буклет старый"]
        assert titles("flagged") == ["Всё о котлах"]  # its review is far off: the flag decides
        listed = assets.list_assets(session, _as("marketing"), assets.LibraryQuery(sort="title"), today=TODAY)
        assert listed.freshness[library["ids"]["Буклет старый"]] == "overdue"
        assert library["ids"]["Черновик презентации"] not in listed.freshness  # a draft has no freshness
        assert listed.open_flags == {library["ids"]["Всё о котлах"]: 1}


def test_owner_product_and_kind_filters_combine(db, library) -> None:
    with db.session() as session:
        query = assets.LibraryQuery(owner_id=library["anna"].id, product="Насосы НВ", sort="title")
        assert _titles(assets.list_assets(session, _as("marketing"), query, today=TODAY)) == [
            "Буклет старый",
            "Черновик презентации",
            "Ярмарка прайс",
        ]
        sales_view = assets.list_assets(session, _as("sales"), query, today=TODAY)
        assert _titles(sales_view) == ["Буклет старый", "Ярмарка прайс"] and sales_view.total == 2
        owners, products = assets.library_choices(session, _as("sales"))
        assert [name for _id, name in owners] == ["Анна Белова", "Борис Волков"]
        assert products == ["Котлы КВ", "Насосы НВ"]  # the empty product is not a choice
        none = assets.LibraryQuery(kind="presentation")
        assert assets.list_assets(session, _as("marketing"), none, today=TODAY).total == 0


def test_every_order_and_its_reverse(db, library) -> None:
    published = ["Акции квартала", "Буклет старый", "Всё о котлах", "Общий шаблон", "Ярмарка прайс"]
    with db.session() as session:

        def titles(sort: str) -> list[str]:
            return _titles(assets.list_assets(session, _as("sales"), assets.LibraryQuery(sort=sort), today=TODAY))

        assert titles("title") == published
        assert titles("-title") == published[::-1]
        assert titles("review") == ["Буклет старый", "Акции квартала", "Общий шаблон", "Ярмарка прайс", "Всё о котлах"]
        assert titles("-review") == titles("review")[::-1]
        changed = ["Общий шаблон", "Всё о котлах", "Буклет старый", "Акции квартала", "Ярмарка прайс"]
        assert titles("updated") == changed and titles("-updated") == changed[::-1]
        assert set(titles("owner")[:2]) == {"Ярмарка прайс", "Буклет старый"}  # Анна before Борис
        assert titles("product")[-1] == "Общий шаблон"  # no product: last
        assert titles("-product")[-1] == "Общий шаблон"  # last either way


def test_paging_keeps_one_order_without_repeats(db, library) -> None:
    with db.session() as session:
        seen = []
        for number in (1, 2, 3):
            page = assets.list_assets(
                session, _as("marketing"), assets.LibraryQuery(sort="owner"), page=number, per_page=2
            )
            seen += _titles(page)
        assert sorted(seen) == sorted(library["ids"]) and len(seen) == 6


def test_the_library_page_filters_sorts_and_says_in_which_order(app, library) -> None:
    client = app.test_client()
    Auth(client).login(library["sales"].email)
    page = client.get("/assets?freshness=flagged").get_data(as_text=True)
    assert "Всё о котлах" in page and "Ярмарка прайс" not in page
    assert "1 open flag" in page  # English: no language chosen, none asked by the browser
    page = client.get("/assets?sort=-title").get_data(as_text=True)
    order = [t for t in re.findall(r'href="/assets/\d+">([^<]+)</a>', page)]
    assert order == ["Ярмарка прайс", "Общий шаблон", "Всё о котлах", "Буклет старый", "Акции квартала"]
    assert 'aria-sort="descending"' in page
    assert 'href="/assets?sort=title"' in page  # the current column's header reverses the order
    summary = re.search(r'id="library-summary">([^<]+)<', page).group(1)
    assert summary.startswith("5 ")
    # Bad values from a hand-edited address are ignored, never an error
    for bad in ("sort=drop%20table", "sort=--title", "owner=abc", "owner=999999", "freshness=stale", "product=x"):
        response = client.get(f"/assets?{bad}")
        assert response.status_code == 200 and "Акции квартала" in response.get_data(as_text=True)


def test_the_library_speaks_russian_with_counts_that_agree(app, library, db) -> None:
    client = app.test_client()
    Auth(client).login(library["sales"].email)
    accounts.update_profile(db, library["sales"].id, language="ru")
    page = client.get("/assets?freshness=fresh").get_data(as_text=True)
    summary = re.search(r'id="library-summary">([^<]+)<', page).group(1)
    assert summary.startswith("2 материала") and "Последнее изменение" in summary
    assert "<th>Актуальность</th>" in page and "Следующая проверка, сначала ближайшие" in page


def test_the_api_lists_with_the_same_filters_and_rejects_bad_ones(app, client, library, db) -> None:
    token = accounts.create_token(db, library["sales"].id, "crm").secret
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get("/api/v1/assets?freshness=flagged", headers=headers).json
    assert [i["title"] for i in body["items"]] == ["Всё о котлах"]
    assert body["items"][0]["freshness"] == "flagged" and body["items"][0]["open_flags"] == 1
    body = client.get(f"/api/v1/assets?owner_id={library['anna'].id}&sort=-title", headers=headers).json
    assert [i["title"] for i in body["items"]] == ["Ярмарка прайс", "Буклет старый"]
    for bad, field in (("freshness=stale", "freshness"), ("sort=name", "sort"), ("owner_id=x", "owner_id")):
        response = client.get(f"/api/v1/assets?{bad}", headers=headers)
        assert response.status_code == 400 and response.json["error"]["field"] == field
