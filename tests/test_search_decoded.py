"""Decoded postings kept on disk beside the index, the in-memory cache bounded in bytes, and the warm-up search."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from test_search_index import page

from kb import search
from kb.config import ConfigError, load_settings
from kb.search import decoded, whoosh_eval
from kb.search.backend import SearchRequest
from kb.search.whoosh_backend import WhooshBackend


@pytest.fixture
def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # A handful of pages is far below the length worth keeping on disk: keep everything in these tests.
    monkeypatch.setattr(decoded, "MIN_POSTINGS", 1)
    whoosh_eval._POSTINGS.entries.clear()
    whoosh_eval._POSTINGS.held = 0
    backend = WhooshBackend(tmp_path / "index")
    backend.replace_assets(
        {a: [page(a, n, f"насос клапан насосы номер{a} страница{n} насосная станция") for n in (1, 2, 3)]
         for a in range(1, 41)}
    )  # fmt: skip
    yield backend
    search.reset_backend()
    whoosh_eval._POSTINGS.entries.clear()
    whoosh_eval._POSTINGS.held = 0


def _titles(backend: WhooshBackend, text: str) -> list[tuple[int, float, list[str]]]:
    found = search.search(backend, SearchRequest(text=text, per_page=50))
    return [(hit.asset_id, round(hit.score, 9), [p.snippet for p in hit.pages]) for hit in found.hits]


def _decoded_files(backend: WhooshBackend) -> list[Path]:
    return sorted(backend.store.root.glob(f"gen-*/{decoded.FOLDER}/*/*"))


def test_postings_read_back_from_disk_equal_the_decoded_ones(backend: WhooshBackend) -> None:
    first = _titles(backend, '"насосная станция" насос')
    files = _decoded_files(backend)
    assert any(f.suffix == ".postings" for f in files) and any(f.suffix == ".positions" for f in files)

    # A new process: nothing in memory, everything read from the files (mapped, not copied).
    whoosh_eval._POSTINGS.entries.clear()
    whoosh_eval._POSTINGS.held = 0
    searcher = backend.store.searcher()
    table = whoosh_eval.SearcherTable.of(searcher)
    subsearcher, _offset, segment = table.parts[0]
    reader = subsearcher.reader()
    term = next(t.decode() for t in reader.lexicon("body") if t.decode().startswith("насос"))
    from_disk = whoosh_eval.postings(reader, segment.segment_id, "body", term)
    fresh = whoosh_eval._decode(whoosh_eval._leaf(reader, "body", term))
    assert from_disk is not None and decoded._is_mapped(from_disk[0])
    assert np.array_equal(from_disk[0], fresh[0]) and np.array_equal(from_disk[1], fresh[1])
    assert from_disk[0].dtype == fresh[0].dtype and from_disk[1].dtype == fresh[1].dtype
    assert _titles(backend, '"насосная станция" насос') == first


def test_a_damaged_or_unwritable_store_only_costs_decoding_again(backend: WhooshBackend) -> None:
    expected = _titles(backend, "насос клапан")
    for path in _decoded_files(backend):
        with path.open("r+b") as handle:
            handle.truncate(max(0, path.stat().st_size - 3))  # no longer a whole number of entries
    whoosh_eval._POSTINGS.entries.clear()
    assert _titles(backend, "насос клапан") == expected

    # A folder the process may not write: the search works, nothing is kept on disk.
    for path in _decoded_files(backend):
        path.unlink()
    generation = next(backend.store.root.glob("gen-*"))
    folder = generation / decoded.FOLDER
    for child in folder.iterdir():
        child.rmdir()
    folder.rmdir()
    folder.write_text("not a folder")  # mkdir under it fails as a read-only disk would
    whoosh_eval._POSTINGS.entries.clear()
    assert _titles(backend, "насос клапан") == expected
    assert folder.is_file()


def test_a_merge_removes_the_decoded_postings_of_the_segments_it_replaced(backend: WhooshBackend) -> None:
    _titles(backend, "насос")
    before = {p.parent.name for p in _decoded_files(backend)}
    assert before
    backend.store.optimize()  # one segment from all: the old ones' files go with them
    generation = next(backend.store.root.glob("gen-*"))
    assert not (set(os.listdir(generation / decoded.FOLDER)) & before)
    _titles(backend, "насос")
    after = {p.parent.name for p in _decoded_files(backend)}
    assert len(after) == 1 and not after & before


def test_the_memory_cache_is_bounded_in_bytes(backend: WhooshBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decoded, "MIN_POSTINGS", 10**9)  # nothing on disk: every entry is the process's own
    cache = whoosh_eval._POSTINGS
    cache.resize(4096)
    try:
        for word in ("насос", "клапан", "станция", "страница1", "страница2", "номер7", "номер8", "номер9"):
            _titles(backend, word)
            assert cache.held <= 4096
            assert cache.held == sum(whoosh_eval._cost(v) for v in cache.entries.values())
        assert cache.entries  # it still keeps what fits
        cache.resize(0)
        assert cache.held == 0 and not cache.entries
    finally:
        cache.resize(whoosh_eval.POSTINGS_CACHE_BYTES)


def test_cache_size_setting() -> None:
    assert load_settings(environ={}).search_cache_mb == 64
    assert load_settings(environ={"KB_SEARCH_CACHE_MB": "256"}).search_cache_mb == 256
    for bad in ("-1", "lots", "100000"):
        with pytest.raises(ConfigError, match="KB_SEARCH_CACHE_MB"):
            load_settings(environ={"KB_SEARCH_CACHE_MB": bad})


def test_warming_with_a_session_runs_one_real_search(backend: WhooshBackend, app) -> None:
    from sqlalchemy import event

    db = app.extensions["kb_db"]
    statements: list[str] = []
    with db.session() as session:
        event.listen(session.get_bind(), "before_cursor_execute", lambda *a: statements.append(a[2]))
        search.warm(backend, session)
    assert statements  # the search read freshness and synonyms, as the first person's search would have
    assert whoosh_eval.a_title_word(backend.store.searcher()) in {"каталог", "насосов"}


def test_the_word_caches_are_bounded_in_bytes() -> None:
    from kb.search import analysis, word_cache

    analysis.word_terms.cache_clear()
    word_cache.set_budget(4 * 20_000)  # four shares: 20 kB for stems, 40 kB for terms, 20 kB for index terms
    try:
        words = [f"насос{n}ами" for n in range(2000)]
        for word in words:
            analysis.index_terms(word)
            assert analysis.word_terms.held <= 40_000 and analysis.index_terms.held <= 20_000
        assert 0 < analysis.word_terms.cache_info().currsize < len(words)  # it kept what fits, not all
        terms = analysis.word_terms(words[-1], "index", False)
        assert analysis.index_terms(words[-1]) == frozenset(term for term, _stopped in terms)
    finally:
        word_cache.set_budget(word_cache.DEFAULT_TOTAL)
