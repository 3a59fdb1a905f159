"""kb's array evaluation of a query against whoosh's own, document at a time; phrases with stop words inside.

An index of several segments, one with deleted documents (an asset re-indexed), so that every kind of
matcher kb evaluates meets the cases whoosh handles: unions, intersections, exclusions, prefixes, phrases,
filters, deletions.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from test_search_index import page
from whoosh.query import And, Phrase

from kb.search.analysis import STOP_WORDS
from kb.search.backend import SearchRequest
from kb.search.query import parse
from kb.search.whoosh_index import WhooshIndex, _page_scores, _scope, _text_query

WORDS_RU = "насос насосы насосами клапан клапана станция станциях подача напор давление цена поставка".split()
WORDS_EN = "pump pumps pumping valve station pressure price delivery total cost of ownership the and".split()


def _body(rng: random.Random) -> str:
    words = [rng.choice(WORDS_RU if rng.random() < 0.6 else WORDS_EN) for _ in range(rng.randint(5, 60))]
    if rng.random() < 0.3:
        at = rng.randint(0, len(words))
        words[at:at] = ["total", "cost", "of", "ownership"]
    if rng.random() < 0.3:
        words.append("НВ-250/4")
    return " ".join(words)


@pytest.fixture
def index(tmp_path: Path):
    rng = random.Random(7)
    ix = WhooshIndex(tmp_path / "index")
    for asset in range(1, 41):  # one segment per asset, merged now and then by kb's merge policy
        kind = "catalog" if asset % 3 else "presentation"
        pages = [page(asset, n, _body(rng), kind=kind, title=f"Каталог {asset}") for n in range(1, rng.randint(2, 6))]
        ix.replace_asset(asset, pages)
    for asset in (3, 17, 29):  # re-indexed: their old pages stay behind as deleted documents
        ix.replace_asset(asset, [page(asset, 1, _body(rng) + " насос pump")])
    yield ix
    WhooshIndex.close_all()


QUERIES = [
    "насос",
    "насосами клапана",
    "pump valve",
    "насос pump",
    '"total cost of ownership"',
    '"cost of ownership" насос',
    "насос -pump",
    "наc* pump",
    "pum*",
    "НВ-250/4",
    "kind:presentation насос",
    '"подача напор"',
]


@pytest.mark.parametrize("text", QUERIES)
def test_scores_are_whooshs_own(index: WhooshIndex, text: str) -> None:
    searcher = index._searcher()
    assert len(list(searcher.leaf_searchers())) > 1, "the index should have several segments"
    assert any(sub.reader().has_deletions() for sub, _ in searcher.leaf_searchers())
    parsed = parse(text)
    query = And([_text_query(parsed), _scope(SearchRequest(text=text), parsed.filters)])
    mask, scores, _trees = _page_scores(searcher, query)
    # whoosh, one document at a time
    expected: dict[int, float] = {}
    for sub, offset in searcher.leaf_searchers():
        matcher = query.matcher(sub, searcher.context(needs_current=True))
        while matcher.is_active():
            expected[matcher.id() + offset] = matcher.score()
            matcher.next()
    got = {int(d): float(scores[d]) for d in mask.nonzero()[0]}
    assert set(got) == set(expected)
    for docnum, score in expected.items():
        assert got[docnum] == pytest.approx(score, rel=1e-12), docnum


def _current_bodies(index: WhooshIndex, asset_id: int) -> list[str]:
    searcher = index._searcher()
    return [f["body"] for f in searcher.all_stored_fields() if f["asset"] == str(asset_id) and f["current"]]


@pytest.mark.parametrize("phrase", ["total cost of ownership", "ownership of total cost", "cost ownership"])
def test_every_phrase_hit_has_the_words_as_typed(index: WhooshIndex, phrase: str) -> None:
    # A stop word inside a phrase holds its place: any one word may stand there.
    pattern = re.compile(
        r"(?<!\S)" + " ".join(r"\S+" if w in STOP_WORDS else re.escape(w) for w in phrase.split()) + r"(?!\S)"
    )
    found = index.search(SearchRequest(text=f'"{phrase}"', per_page=100))
    for hit in found.hits:
        assert any(pattern.search(body) for body in _current_bodies(index, hit.asset_id)), hit.asset_id
        assert any(">ownership</mark>" in p.snippet for p in hit.pages), hit.pages
    expected = {a for a in range(1, 41) if any(pattern.search(body) for body in _current_bodies(index, a))}
    assert {hit.asset_id for hit in found.hits} == expected


def test_a_phrase_keeps_the_place_of_its_stop_words(tmp_path: Path) -> None:
    ix = WhooshIndex(tmp_path / "index")
    ix.replace_asset(1, [page(1, 1, "Our offer: the total cost of ownership over ten years")])
    try:
        assert ix.search(SearchRequest(text='"total cost of ownership"')).total == 1
        assert ix.search(SearchRequest(text='"cost of the ownership"')).total == 0  # a longer gap
        assert ix.search(SearchRequest(text='"cost for ownership"')).total == 1  # a stop word holds its place
        assert ix.search(SearchRequest(text='"cost ownership"')).total == 0
        assert ix.search(SearchRequest(text='"ownership of total cost"')).total == 0
    finally:
        WhooshIndex.close_all()


def test_phrase_matches_equal_whooshs_phrase_where_no_stop_word_is_inside(index: WhooshIndex) -> None:
    searcher = index._searcher()
    for words in (["насос", "клапан"], ["подач", "напор"], ["pump", "valv"]):
        ours = _text_query(parse('"' + " ".join(words) + '"'))
        body_phrase = next(q for q in ours.subqueries if q.fieldname == "body")
        whooshs = set(Phrase("body", words).docs(searcher))
        assert set(body_phrase.docs(searcher)) == whooshs  # the whole index: several segments at once


def test_sorted_searches_and_exclusions_use_the_same_phrase_matches(index: WhooshIndex) -> None:
    by_relevance = index.search(SearchRequest(text='"total cost of ownership"', per_page=100))
    newest = index.search(SearchRequest(text='"total cost of ownership"', sort="newest", per_page=100))
    assert {h.asset_id for h in newest.hits} == {h.asset_id for h in by_relevance.hits}
    without = index.search(SearchRequest(text='pump -"total cost of ownership"', per_page=100))
    assert not {h.asset_id for h in without.hits} & {h.asset_id for h in by_relevance.hits}
