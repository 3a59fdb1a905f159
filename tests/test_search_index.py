"""Each search backend on its own (Whoosh, PostgreSQL): page documents, grouping by asset, snippets, filters,
hostile queries."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kb.search.backend import SearchRequest
from kb.search.documents import IndexPage
from kb.search.signals import Signals
from search_helpers import KINDS, SearchIndex


def page(asset_id: int, number: int, body: str, **overrides: object) -> IndexPage:
    values: dict[str, object] = {
        "doc_id": f"{asset_id * 10}:{number}",
        "asset_id": asset_id,
        "version_id": asset_id * 10,
        "version": 1,
        "current": True,
        "status": "published",
        "page": number,
        "page_title": "",
        "title": "Каталог насосов НВ",
        "description": "",
        "body": body,
        "kind": "catalog",
        "product": "Насосы НВ",
        "region": "Россия",
        "language": "ru",
        "owner_id": 1,
        "owner_name": "Мария",
        "updated": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "stamp": f"stamp-{asset_id}",
        "segments": ["B2B"],
        "tags": ["насосы"],
    }
    values.update(overrides)
    return IndexPage(**values)  # type: ignore[arg-type]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def index(tmp_path: Path, kind: str):
    ix = SearchIndex(tmp_path / "index", kind=kind)
    ix.replace_asset(
        1,
        [
            page(1, 1, "Введение и содержание"),
            page(1, 2, "Технические характеристики НВ-250/4: подача 250 м³/ч, напор 40 м"),
            page(1, 3, "Цены каталога с НДС"),
        ],
    )
    ix.replace_asset(
        2,
        [
            page(
                2, 1, "Screw compressor KX-200 for workshops", title="KX sales deck", kind="presentation",
                language="en", segments=["B2B", "B2G"], tags=["compressors"],
            )
        ],
    )  # fmt: skip
    ix.replace_asset(3, [page(3, 1, "Черновик каталога задвижек", title="Задвижки ЗКС", status="draft")])
    yield ix
    SearchIndex.close_all()


def search(index: SearchIndex, text: str, **kwargs: object):
    return index.search(SearchRequest(text=text, **kwargs))  # type: ignore[arg-type]


def test_inflected_russian_finds_the_asset_and_the_page(index) -> None:
    result = search(index, "каталогом цены")
    assert result.total == 1 and result.hits[0].asset_id == 1
    assert result.hits[0].pages[0].page == 3
    assert "<mark" in result.hits[0].pages[0].snippet


@pytest.mark.parametrize("typed", ["НВ-250/4", "нв-250", "НВ 250"])
def test_product_codes_are_found_as_typed(index, typed: str) -> None:
    result = search(index, typed)
    assert [h.asset_id for h in result.hits] == [1]
    assert result.hits[0].pages[0].page == 2


def test_english_phrases_prefixes_and_exclusions(index) -> None:
    assert [h.asset_id for h in search(index, '"screw compressor"').hits] == [2]
    assert search(index, '"compressor screw"').total == 0
    assert {h.asset_id for h in search(index, "насос*").hits} == {1}
    assert search(index, "каталог -ндс").total == 0


def test_filters_and_facets_count_assets_not_pages(index) -> None:
    either = search(index, "насос* OR kx*")  # OR is not an operator, a stop word: either word finds a page
    assert either.total == 2 and either.full_matches == 0
    assert sorted(h.missing for h in either.hits) == [["kx*"], ["насос*"]]
    both = search(index, "b2b*", statuses=("published",))
    assert both.total == 0
    result = search(index, "каталога")
    assert result.facets["kind"] == {"catalog": 1}
    filtered = search(index, "compressor", filters={"kind": "presentation"})
    assert [h.asset_id for h in filtered.hits] == [2]
    assert search(index, "compressor kind:catalog").total == 0
    assert search(index, "compressor").facets["segment"] == {"B2B": 1, "B2G": 1}


def test_drafts_only_for_those_who_may_see_them(index) -> None:
    assert search(index, "задвижек").total == 0
    assert search(index, "задвижек", statuses=("published", "draft")).total == 1


def test_replacing_an_asset_replaces_all_its_pages(index) -> None:
    index.replace_asset(1, [page(1, 1, "Новая редакция без старых слов")])
    assert search(index, "НВ-250/4").total == 0
    assert search(index, "редакция").hits[0].pages[0].page == 1
    index.replace_asset(1, [])
    assert search(index, "редакция").total == 0


def test_older_versions_only_when_asked(index) -> None:
    index.replace_asset(
        1,
        [
            page(1, 1, "Текущая цена 120 000"),
            page(1, 1, "Старая цена 100 000", doc_id="5:1", version_id=5, current=False),
        ],
    )
    assert search(index, "старая").total == 0
    older = search(index, "старая", include_older=True)
    assert older.total == 1 and older.hits[0].pages[0].current is False


@pytest.mark.parametrize(
    "hostile",
    ["", " ", "x" * 10_000, '"unbalanced', "((((" * 500, "😀🔥", "\x00\x01", "'; DROP TABLE assets; --",
     "<script>alert(1)</script>", "*", "-", "kind:", ":", "a*", "***каталог", "title:(x OR y)~2"],
)  # fmt: skip
def test_anything_typed_gets_an_answer(index, hostile: str) -> None:
    result = search(index, hostile)
    assert result.total >= 0
    for hit in result.hits:
        for p in hit.pages:
            assert "<script>" not in p.snippet


def test_stale_content_is_ranked_a_little_lower(tmp_path: Path, kind: str) -> None:
    ix = SearchIndex(tmp_path / "ranking", kind=kind, signals=Signals(stale={1: "overdue"}))
    ix.replace_asset(1, [page(1, 1, "насос для воды", title="Насос А")])
    ix.replace_asset(2, [page(2, 1, "насос для воды", title="Насос Б")])
    result = search(ix, "насос")
    assert [h.asset_id for h in result.hits] == [2, 1]
    SearchIndex.close_all()


def test_rebuild_switches_generations_and_searches_keep_working(index) -> None:
    assert search(index, "каталога").total == 1
    written = index.rebuild([[page(7, 1, "Только новый документ", title="Новый")]])
    assert written == 1
    assert search(index, "каталога").total == 0
    assert search(index, "новый").hits[0].asset_id == 7
    assert index.stamps() == {7: "stamp-7"}


def test_paging_and_sorting(tmp_path: Path, kind: str) -> None:
    ratings = Signals(ratings={n: float(n % 5) for n in range(1, 8)})
    ix = SearchIndex(tmp_path / "paging", kind=kind, signals=ratings)
    for n in range(1, 8):
        ix.replace_asset(n, [page(n, 1, "насос " * n, updated=dt.datetime(2026, 1, n, tzinfo=dt.UTC))])
    first = search(ix, "насос", per_page=3)
    second = search(ix, "насос", per_page=3, page=2)
    assert first.total == 7 and len(first.hits) == 3 and len(second.hits) == 3
    assert not {h.asset_id for h in first.hits} & {h.asset_id for h in second.hits}
    newest = search(ix, "насос", sort="newest", per_page=7)
    assert [h.asset_id for h in newest.hits] == [7, 6, 5, 4, 3, 2, 1]
    rated = search(ix, "насос", sort="rating", per_page=2)
    assert [h.rating for h in rated.hits] == [4.0, 3.0]
    SearchIndex.close_all()


def test_did_you_mean_offers_a_close_spelling(index) -> None:
    assert index.closest("характеристеки") == "характеристики"
    assert index.closest("compresor") == "compressor"
    assert index.known("характеристики") and not index.known("характеристеки")
    assert index.closest("zzzzzzzz") is None


def test_did_you_mean_prefers_the_nearest_spelling_then_the_most_frequent(tmp_path: Path, kind: str) -> None:
    ix = SearchIndex(tmp_path / "index", kind=kind)
    try:
        # "насос" is in many assets, "насосы" in one: one edit away beats two edits away, however frequent
        for asset in range(1, 6):
            ix.replace_asset(asset, [page(asset, 1, "насос насос насос", title="Каталог")])
        ix.replace_asset(6, [page(6, 1, "насосы", title="Каталог")])
        if kind == "whoosh":
            assert len(list(ix.store.searcher().leaf_searchers())) > 1  # several segments
        assert ix.closest("нассосы") == "насосы"
        assert ix.closest("нсос") == "насос"
        # two edits away, the first letter kept
        assert ix.closest("компресорров") is None
        ix.replace_asset(7, [page(7, 1, "компрессоров")])
        assert ix.closest("компресорров") == "компрессоров"
    finally:
        SearchIndex.close_all()


def test_did_you_mean_never_offers_words_only_drafts_have(tmp_path: Path, kind: str) -> None:
    ix = SearchIndex(tmp_path / "index", kind=kind)
    try:
        ix.replace_asset(1, [page(1, 1, "Секретный проектор", title="Черновик", status="draft")])
        ix.replace_asset(2, [page(2, 1, "Насосы", title="Каталог")])
        assert ix.closest("проэктор") is None
        assert ix.closest("насасы") == "насосы"
    finally:
        SearchIndex.close_all()


def test_restricted_assets_only_for_their_audiences_and_owner(tmp_path: Path, kind: str) -> None:
    """Every backend: pages of an asset restricted to audiences are found by members, its owner and admins
    (audiences None), counted and suggested for nobody else; replacing it restricted or open changes that."""
    ix = SearchIndex(tmp_path / "index", kind=kind)
    try:
        ix.replace_asset(1, [page(1, 1, "Дилерские скидки на насосы", owner_id=7, audiences=["5"])])
        ix.replace_asset(2, [page(2, 1, "Каталог насосов", owner_id=8)])

        def found(text: str, **who: object) -> list[int]:
            results = ix.search(SearchRequest(text=text, correct=False, **who))  # type: ignore[arg-type]
            return sorted(h.asset_id for h in results.hits)

        assert found("насосы") == [2] and found("дилерские") == []
        assert found("насосы", audiences=("everyone", "5")) == [1, 2]
        assert found("дилерские", audiences=("everyone",), owner_id=7) == [1]
        assert found("дилерские", audiences=None) == [1]
        assert found("дилерские", audiences=("everyone", "6"), owner_id=8) == []
        assert ix.closest("дилерскае") is None  # its words are suggested to nobody
        ix.replace_asset(1, [page(1, 1, "Дилерские скидки на насосы", owner_id=7)])  # open to everyone now
        assert found("дилерские") == [1]
        ix.replace_asset(1, [page(1, 1, "Дилерские скидки на насосы", owner_id=7, audiences=["6"])])
        assert found("дилерские") == [] and found("дилерские", audiences=("everyone", "6")) == [1]
    finally:
        SearchIndex.close_all()


def test_two_words_that_may_be_a_code_also_match_apart(tmp_path: Path, kind: str) -> None:
    ix = SearchIndex(tmp_path / "apart", kind=kind)
    try:
        ix.replace_asset(1, [page(1, 1, "Цены на 2024 год для дилеров", title="Прайс")])
        ix.replace_asset(2, [page(2, 1, "Мощность двигателя 5 кВт", title="Паспорт")])
        ix.replace_asset(3, [page(3, 1, "Насос НВ-250/4 в наличии", title="Каталог")])
        assert [h.asset_id for h in search(ix, "цены 2024").hits] == [1]
        assert [h.asset_id for h in search(ix, "кВт 5").hits] == [2]
        assert [h.asset_id for h in search(ix, "HB 250").hits] == [3]
    finally:
        SearchIndex.close_all()


def test_synonyms_with_stop_words_and_words_typed_apart(tmp_path: Path, kind: str) -> None:
    from kb.search.planner import Synonyms

    ix = SearchIndex(tmp_path / "synonyms", kind=kind)
    groups = Synonyms([["НДС", "налог на добавленную стоимость"], ["ТКП", "коммерческое предложение"]])
    try:
        ix.replace_asset(1, [page(1, 1, "Ставка налог на добавленную стоимость 20 %", title="Налоги")])
        ix.replace_asset(2, [page(2, 1, "Предложение коммерческое на поставку", title="Шаблон")])
        for typed in ("налог на добавленную стоимость", "ндс"):
            assert [h.asset_id for h in ix.search(SearchRequest(text=typed), synonyms=groups).hits] == [1], typed
        apart = ix.search(SearchRequest(text="коммерческое предложение"), synonyms=groups)
        assert [h.asset_id for h in apart.hits] == [2]  # the words typed, apart on the page: still found
    finally:
        SearchIndex.close_all()


def test_a_question_with_few_of_its_words_on_any_page_still_finds_them(tmp_path: Path, kind: str) -> None:
    ix = SearchIndex(tmp_path / "relaxed", kind=kind)
    try:
        ix.replace_asset(1, [page(1, 1, "Uptime target: 99.9 % a month; service credits apply", title="SLA")])
        ix.replace_asset(2, [page(2, 1, "Delivery terms and prices", title="Terms")])
        found = search(ix, "what happens if the vendor misses the uptime target")
        assert [h.asset_id for h in found.hits] == [1]  # 2 of 5 words: below the half a page needs, but the best
        assert found.hits[0].missing == ["happens", "vendor", "misses"]
        assert search(ix, "vendor misses delivery prices").hits[0].asset_id == 2  # half: found without relaxing
    finally:
        SearchIndex.close_all()


def test_hits_read_the_searcher_their_candidates_came_from(tmp_path: Path, kind: str) -> None:
    """A write and a refresh between finding and showing (a spelling look-up refreshes the searcher) change
    nothing for the search under way: it shows what it found, from the index as it was."""
    from kb.search.backend import Scope
    from kb.search.planner import plan

    ix = SearchIndex(tmp_path / "snapshot", kind=kind)
    try:
        ix.replace_asset(1, [page(1, 1, "насос для воды", title="Насос А")])
        wanted = plan("насос")
        found = ix.backend.candidates(wanted, Scope())
        ix.replace_asset(1, [page(1, 1, "другой текст", title="Совсем другое")])
        ix.replace_asset(2, [page(2, 1, "насос", title="Насос Б")])
        assert ix.backend.known("насос")  # opens the new searcher
        (hit,) = ix.backend.hits(wanted, Scope(), found)
        if kind == "postgres":  # what it found is shown as the index now holds it (no searcher to keep)
            assert (hit.asset_id, hit.title) == (1, "Совсем другое")
        else:
            assert (hit.asset_id, hit.title) == (1, "Насос А")
    finally:
        SearchIndex.close_all()


def test_compound_segment_parts_are_read_from_the_mapping_not_copied() -> None:
    import io
    import pickle

    from whoosh.filedb.structfile import BufferFile

    from kb.search.whoosh_store import _ViewReader

    data = b"first line\nsecond\n" + pickle.dumps({"терм": [1, 2, 3]}) + b"tail"
    view = memoryview(bytearray(data))
    reader, copy = _ViewReader(view), io.BytesIO(data)
    for step in (lambda f: f.readline(), lambda f: f.read(3), lambda f: f.seek(-4, io.SEEK_END),
                 lambda f: f.read(), lambda f: f.seek(18), lambda f: pickle.load(f), lambda f: f.tell(),
                 lambda f: f.seek(2, io.SEEK_CUR), lambda f: f.read(100), lambda f: f.readline(5)):  # fmt: skip
        assert step(reader) == step(copy)
    buffer = bytearray(4)
    reader.seek(0)
    assert reader.readinto(buffer) == 4 and bytes(buffer) == b"firs"
    assert isinstance(BufferFile(view).file, _ViewReader)  # whoosh's parts now read through it


def test_segments_stay_bounded_when_every_commit_is_big(tmp_path, monkeypatch) -> None:
    # A bulk import writes batches bigger than MERGE_MAX_DOCS one after another; they must still be merged
    # before the segments pile up (each costs every search a little).
    from whoosh import index as whoosh_index

    from kb.search import whoosh_store

    monkeypatch.setattr(whoosh_store, "MERGE_MAX_DOCS", 0)  # no small-segment merges: only the bound acts
    monkeypatch.setattr(whoosh_store, "MAX_SEGMENTS", 4)
    store = whoosh_store.WhooshStore(tmp_path / "index")
    counts = []
    for batch in range(9):
        ids = range(batch * 3 + 1, batch * 3 + 4)
        store.replace_assets({a: [page(a, 1, f"насос партия{batch} номер{a}")] for a in ids})
        ix = whoosh_index.open_dir(str(tmp_path / "index" / store._current_name()))
        counts.append(len(ix._segments()))
        ix.close()
    assert max(counts) <= 4 and counts[3] == 4, counts  # grows to the bound, then merges back under it
    assert set(store.stamps()) == set(range(1, 28))  # nothing lost in the merges


def test_field_lengths_read_as_one_block_equal_whooshs_one_by_one(tmp_path) -> None:
    # BM25 needs every page's length in every text field; they are read from the codec's length column at once
    # (the first search of a fresh process spent 1.6 s asking 60,000 pages one by one). Same numbers, empty
    # fields and pages past the column's end included; then warming reads them all before any search.
    import numpy as np

    from kb import search
    from kb.search import whoosh_eval
    from kb.search.whoosh_backend import WhooshBackend

    backend = WhooshBackend(tmp_path / "index")
    backend.replace_assets({a: [page(a, n, "насос " * (a * n), description="" if a % 2 else "описание насоса")
                                for n in (1, 2)] for a in range(1, 30)})  # fmt: skip
    backend.replace_assets({40: [page(40, 1, "последний")]})  # a second segment
    search.warm(backend)
    table = whoosh_eval.SearcherTable.of(backend.store.searcher())
    compared = 0
    for subsearcher, _offset, segment in table.parts:
        reader = subsearcher.reader()
        for field in whoosh_eval.TEXT_FIELDS:
            slow = np.array([reader.doc_field_length(d, field, 1) for d in range(segment.doc_count)], dtype=float)
            assert field in segment._lengths  # warmed
            assert whoosh_eval._column_lengths(reader, field, segment.doc_count) is not None  # the block read
            assert np.array_equal(segment.lengths(reader, field), slow, equal_nan=True), field
            compared += 1
    assert compared == len(table.parts) * len(whoosh_eval.TEXT_FIELDS) and len(table.parts) == 2
    assert [h.asset_id for h in search.search(backend, SearchRequest(text="последний")).hits] == [40]
