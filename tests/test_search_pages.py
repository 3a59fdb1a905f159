"""The search page and the search API: results, pages, facets, visibility, hostile input, logging; each with the
Whoosh and the PostgreSQL search backend (kb then on PostgreSQL altogether), some with the in-memory one too."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kb import accounts
from kb.models import AssetStatus, UsageEvent, UsageKind
from postgres_helpers import needs_postgres
from publishing_helpers import fields, publisher_for, text_upload, worker_for
from search_helpers import SearchIndex

WHOOSH = pytest.param({}, id="whoosh")
MEMORY = pytest.param({"KB_SEARCH_BACKEND": "memory"}, id="memory")
POSTGRES = pytest.param({"KB_SEARCH_BACKEND": "postgres"}, id="postgres", marks=needs_postgres)
BACKENDS = pytest.mark.parametrize("app", [WHOOSH, POSTGRES], indirect=True)
ALL_BACKENDS = pytest.mark.parametrize("app", [WHOOSH, MEMORY, POSTGRES], indirect=True)


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
    SearchIndex.close_all()


@BACKENDS
def test_search_finds_inflected_words_with_highlighted_snippets(library, signed_in, client) -> None:
    signed_in("sales")
    html = client.get("/search?q=насосами").get_data(as_text=True)
    assert "Каталог насосов НВ" in html and "<mark" in html
    assert "Черновик" not in html  # drafts are not for sales
    assert "&lt;script&gt;" in html or "<script>alert" not in html
    assert "<script>alert" not in html


@ALL_BACKENDS
def test_facets_filters_and_the_header_box(library, signed_in, client) -> None:
    signed_in("sales")
    html = client.get("/search?q=pumping").get_data(as_text=True)
    assert "KX compressors deck" in html
    filtered = client.get("/search?q=подача&kind=presentation").get_data(as_text=True)
    assert "0 assets found" in filtered
    home = client.get("/").get_data(as_text=True)
    assert 'action="/search"' in home  # the header search box


@BACKENDS
def test_marketing_also_sees_drafts(library, signed_in, client) -> None:
    signed_in("marketing")
    assert "Черновик прайса насосов" in client.get("/search?q=насосы").get_data(as_text=True)


@BACKENDS
def test_wrong_keyboard_layout_shows_the_corrected_results(library, signed_in, client) -> None:
    signed_in("sales")
    html = client.get("/search?q=yfcjcs").get_data(as_text=True)  # "насосы" typed in the Latin layout
    assert "Showing results for" in html and "Каталог насосов НВ" in html
    assert "Search instead for" in html and "exact=1" in html
    exact = client.get("/search?q=yfcjcs&exact=1").get_data(as_text=True)
    assert "0 assets found" in exact and "Showing results for" not in exact
    typed = "compressors".translate(str.maketrans("qwertyuiopasdfghjklzxcvbnm", "йцукенгшщзфывапролдячсмить"))
    english = client.get("/api/v1/search", query_string={"q": typed}).json
    assert english["corrected"]["text"] == "compressors" and english["total"] == 1


@BACKENDS
def test_searches_are_logged(library, signed_in, client, db, app) -> None:
    user = signed_in("sales")
    client.get("/search?q=насосы&kind=catalog")
    app.extensions["kb_search_log"].flush()  # written in batches (tests/test_search_log.py)
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


@BACKENDS
def test_anything_typed_is_answered_on_the_page_and_the_api(library, signed_in, client) -> None:
    signed_in("sales")
    for query in HOSTILE:
        page = client.get("/search", query_string={"q": query})
        assert page.status_code == 200, query
        assert "<script>alert(1)" not in page.get_data(as_text=True)
        api = client.get("/api/v1/search", query_string={"q": query, "page": "2", "sort": "bogus", "per_page": "x"})
        assert api.status_code == 200 and api.json["total"] >= 0, query


@BACKENDS
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


@ALL_BACKENDS
def test_a_misspelt_word_is_corrected_and_the_gap_recorded_as_corrected(library, signed_in, client, db) -> None:
    signed_in("sales")
    html = client.get("/search?q=compresors").get_data(as_text=True)
    assert "Showing results for" in html and "KX compressors deck" in html
    api = client.get("/api/v1/search?q=compresors").json
    assert api["corrected"] == {"text": "compressors", "original": "compresors", "reason": "spelling"}
    client.application.extensions["kb_search_log"].flush()
    with db.session() as session:
        queries = session.scalars(select(UsageEvent.query).where(UsageEvent.kind == UsageKind.SEARCH)).all()
    assert "compresors" not in queries and queries.count("compressors") == 2


@BACKENDS
def test_one_misspelt_word_of_several_is_fixed_and_a_good_query_is_left_alone(library, signed_in, client) -> None:
    signed_in("sales")
    fixed = client.get("/api/v1/search?q=screw compresors energy").json
    assert fixed["corrected"]["text"] == "screw compressors energy" and fixed["total"] == 1
    kept = client.get("/api/v1/search?q=compressors").json
    assert kept["corrected"] is None and kept["suggestion"] is None


@ALL_BACKENDS
def test_a_page_lacking_a_word_still_appears_and_says_what_it_lacks(library, signed_in, client) -> None:
    signed_in("sales")
    body = client.get("/api/v1/search?q=compressors warranty").json
    (hit,) = body["results"]
    assert hit["title"] == "KX compressors deck" and hit["missing"] == ["warranty"]
    html = client.get("/search?q=compressors warranty").get_data(as_text=True)
    assert "Missing:" in html and "<s>warranty</s>" in html
    strict = client.get("/api/v1/search", query_string={"q": "compressors +warranty"}).json
    assert strict["total"] == 0


@ALL_BACKENDS
@pytest.mark.parametrize("typed", ["нв250", "HB 250", "НВ 250/4", "hb-250/4", "KX200", "kx 200", "КХ-200"])
def test_codes_written_any_way_find_their_asset(library, signed_in, client, typed: str) -> None:
    signed_in("sales")
    body = client.get("/api/v1/search", query_string={"q": typed}).json
    assert body["total"] >= 1 and body["results"][0]["missing"] == [], typed


@BACKENDS
def test_a_long_text_is_posted_and_searched_as_documents_like_it(library, signed_in, client) -> None:
    signed_in("sales")
    letter = (
        "Добрый день! Наше предприятие готовит реконструкцию насосной станции городского водоканала. "
        "Просим прислать технические характеристики насосов с подачей около 250 м³/ч, сроки поставки, "
        "условия гарантии и актуальные цены с НДС. Отдельно интересует шкаф управления и монтаж. "
    ) * 40
    token = client.get("/search").get_data(as_text=True).split('data-csrf="')[1].split('"')[0]
    html = client.post("/search", data={"q": letter, "csrf_token": token}).get_data(as_text=True)
    assert "Каталог насосов НВ" in html and "documents like this" in html
    assert "longer than 4000 characters" in html  # cut, and said so


@BACKENDS
def test_a_10000_character_query_gets_an_answer_never_a_414_or_500(library, make_user, client, db) -> None:
    user = make_user("sales")
    headers = {"Authorization": f"Bearer {accounts.create_token(db, user.id, 't').secret}"}
    huge = "насосы цены " * 1000  # 12,000 characters
    posted = client.post("/api/v1/search", json={"q": huge}, headers=headers)
    assert posted.status_code == 200 and posted.json["shortened"] and posted.json["total"] >= 1
    garbage = client.post("/api/v1/search", json={"q": "ъ" * 10_000, "page": "x"}, headers=headers)
    assert garbage.status_code == 200 and garbage.json["total"] == 0
    not_json = client.post("/api/v1/search", data=b"\xff\xfe", headers={**headers, "Content-Type": "application/json"})
    assert not_json.status_code == 200 and not_json.json["total"] == 0
