"""The search page and the search API: results, pages, facets, visibility, hostile input, logging."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kb import accounts
from kb.models import AssetStatus, UsageEvent, UsageKind
from kb.search.whoosh_index import WhooshIndex
from publishing_helpers import fields, publisher_for, text_upload, worker_for


@pytest.fixture
def library(app, make_user):
    owner = make_user("marketing", display_name="Мария")
    publisher = publisher_for(app)
    catalog = publisher.create_asset(
        owner.id,
        fields(owner, title="Каталог насосов НВ"),
        text_upload("# Насосы\n\nНВ-250/4: подача 250 м³/ч.\n\n<script>alert('x')</script> цены с НДС"),
    )
    deck = publisher.create_asset(
        owner.id,
        fields(owner, title="KX compressors deck", kind="presentation", language="en", segments=["B2G"], tags=["kx"]),
        text_upload("# Screw compressors\n\nKX-200 saves energy for pumping stations", "deck.md"),
    )
    draft = publisher.create_asset(
        owner.id,
        fields(owner, title="Черновик прайса насосов"),
        text_upload("насосы черновик"),
        status=AssetStatus.DRAFT,
    )
    worker_for(app).run_until_idle()
    yield {"catalog": catalog.asset_id, "deck": deck.asset_id, "draft": draft.asset_id, "owner": owner}
    WhooshIndex.close_all()


def test_search_finds_inflected_words_with_highlighted_snippets(library, signed_in, client) -> None:
    signed_in("sales")
    html = client.get("/search?q=насосами").get_data(as_text=True)
    assert "Каталог насосов НВ" in html and "<mark" in html
    assert "Черновик" not in html  # drafts are not for sales
    assert "&lt;script&gt;" in html or "<script>alert" not in html
    assert "<script>alert" not in html


def test_facets_filters_and_the_header_box(library, signed_in, client) -> None:
    signed_in("sales")
    html = client.get("/search?q=pumping").get_data(as_text=True)
    assert "KX compressors deck" in html
    filtered = client.get("/search?q=подача&kind=presentation").get_data(as_text=True)
    assert "0 assets found" in filtered
    home = client.get("/").get_data(as_text=True)
    assert 'action="/search"' in home  # the header search box


def test_marketing_also_sees_drafts(library, signed_in, client) -> None:
    signed_in("marketing")
    assert "Черновик прайса насосов" in client.get("/search?q=насосы").get_data(as_text=True)


def test_wrong_keyboard_layout_gets_a_hint(library, signed_in, client) -> None:
    signed_in("sales")
    html = client.get("/search?q=yfcjcs").get_data(as_text=True)  # "насосы" typed in the Latin layout
    assert "Wrong keyboard layout?" in html and "насосы" in html


def test_searches_are_logged(library, signed_in, client, db) -> None:
    user = signed_in("sales")
    client.get("/search?q=насосы&kind=catalog")
    with db.session() as session:
        event = session.scalars(select(UsageEvent).where(UsageEvent.kind == UsageKind.SEARCH)).one()
    assert event.user_id == user.id and event.query == "насосы" and event.filters == {"kind": "catalog"}
    assert event.result_count == 1


HOSTILE = [
    "",
    "x" * 10_000,
    '"unbalanced quote',
    "(" * 2000,
    "😀🔥🚀",
    "\x00NUL\x00",
    "'; DROP TABLE assets; --",
    "<script>alert(1)</script>",
    "*каталог",
    "title:x AND (y OR z)~3 [a TO b]",
]


def test_anything_typed_is_answered_on_the_page_and_the_api(library, signed_in, client) -> None:
    signed_in("sales")
    for query in HOSTILE:
        page = client.get("/search", query_string={"q": query})
        assert page.status_code == 200, query
        assert "<script>alert(1)" not in page.get_data(as_text=True)
        api = client.get("/api/v1/search", query_string={"q": query, "page": "2", "sort": "bogus", "per_page": "x"})
        assert api.status_code == 200 and api.json["total"] >= 0, query


def test_search_api_answers_the_documented_shape(library, make_user, client, db) -> None:
    user = make_user("sales")
    headers = {"Authorization": f"Bearer {accounts.create_token(db, user.id, 't').secret}"}
    body = client.get("/api/v1/search?q=НВ-250/4", headers=headers).json
    assert body["total"] == 1 and body["suggestion"] is None
    (result,) = body["results"]
    assert result["asset_id"] == library["catalog"] and result["kind"] == "catalog" and result["version"] == 1
    assert result["freshness"] == "fresh" and result["score"] > 0
    assert result["hits"][0]["page"] == 1 and "<mark" in result["hits"][0]["snippet"]
    assert set(body["facets"]) == {"kind", "product", "segment", "region", "language", "freshness"}
    assert client.get("/api/v1/search?q=x").status_code == 401


def test_a_misspelt_word_gets_did_you_mean(library, signed_in, client) -> None:
    signed_in("sales")
    html = client.get("/search?q=compresors").get_data(as_text=True)
    assert "Did you mean" in html and "compressors" in html
    api = client.get("/api/v1/search?q=compresors").json
    assert api["suggestion"] == "compressors"
