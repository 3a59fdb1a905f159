"""The PostgreSQL search backend's own concerns: several processes on one index, rebuilds under searches, the
settings it needs, a database without its tables. (What every backend does is tested on it with the others:
tests/test_search_index.py, test_search_scoring.py, test_search_pages.py and the relevance sets.)"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from test_search_index import page

from kb.config import ConfigError, load_settings
from kb.search import postgres_store
from kb.search.backend import SearchRequest
from kb.search.postgres_backend import PostgresBackend
from kb.search.postgres_store import SearchSchemaMissing
from postgres_helpers import fresh_database, migrated_database, needs_postgres
from search_helpers import SearchIndex


def test_the_postgres_backend_needs_kb_on_postgresql(tmp_path) -> None:
    settings = {"KB_INSTANCE_DIR": str(tmp_path), "KB_SECRET_KEY": "k" * 40, "KB_SEARCH_BACKEND": "postgres"}
    with pytest.raises(ConfigError, match="KB_DATABASE_URL must be a postgresql:// URL"):
        load_settings(environ=settings)
    with pytest.raises(ConfigError, match="KB_SEARCH_BACKEND must be one of whoosh, memory, postgres"):
        load_settings(environ={**settings, "KB_SEARCH_BACKEND": "elastic"})
    chosen = load_settings(environ={**settings, "KB_DATABASE_URL": "postgresql+psycopg://kb@db.example/kb"})
    assert chosen.search_backend == "postgres"


def _found(index: SearchIndex, text: str) -> list[int]:
    return [h.asset_id for h in index.search(SearchRequest(text=text, correct=False)).hits]


@needs_postgres
def test_two_processes_search_one_index_each_seeing_the_others_writes(monkeypatch) -> None:
    """Two backends on one database stand for two app servers: each keeps its table of pages in step with what the
    other wrote, by the changes it reads; one too far behind reads the pages afresh; both end up alike."""
    with migrated_database() as url:
        first, second = SearchIndex(None, "postgres", database_url=url), SearchIndex(None, "postgres", database_url=url)
        second.backend = PostgresBackend(url)  # not the facade's shared object: a process of its own
        try:
            first.replace_asset(1, [page(1, 1, "помпа для воды")])
            assert _found(second, "помпа") == [1]
            first.replace_asset(2, [page(2, 1, "помпа для нефти"), page(2, 2, "задвижка")])
            first.replace_asset(1, [page(1, 1, "задвижка для воды")])
            assert _found(second, "помпа") == [2] and sorted(_found(second, "задвижка")) == [1, 2]
            monkeypatch.setattr(postgres_store, "KEEP_CHANGES", 0)  # the record of changes kept no longer
            for asset in range(3, 6):
                first.replace_asset(asset, [page(asset, 1, "помпа")])
            second.replace_asset(6, [page(6, 1, "помпа")])
            assert sorted(_found(first, "помпа")) == sorted(_found(second, "помпа")) == [2, 3, 4, 5, 6]
            tables = [
                ix.backend.store.read(ix.backend.store.table) for ix in (first, second)
            ]  # each process's own, brought up to date
            assert np.array_equal(tables[0].ids, tables[1].ids)
            assert np.array_equal(tables[0].lengths, tables[1].lengths)
            assert first.stamps() == second.stamps() == {a: f"stamp-{a}" for a in range(1, 7)}
        finally:
            second.backend.close()
            SearchIndex.close_all()


@needs_postgres
def test_searches_keep_finding_the_old_index_while_a_rebuild_runs() -> None:
    with migrated_database() as url:
        index = SearchIndex(None, "postgres", database_url=url)
        index.replace_asset(1, [page(1, 1, "старый насос")])
        halfway, resume = threading.Event(), threading.Event()

        def batches():
            yield [page(2, 1, "новый насос")]
            halfway.set()
            resume.wait(10)
            yield [page(3, 1, "новейший насос")]

        writer = threading.Thread(target=index.rebuild, args=(batches(),))
        writer.start()
        try:
            assert halfway.wait(10)
            assert _found(index, "насос") == [1]  # the rebuild is not committed: the old index answers
        finally:
            resume.set()
            writer.join(10)
        assert sorted(_found(index, "насос")) == [2, 3] and index.stamps() == {2: "stamp-2", 3: "stamp-3"}
        assert not index.outdated()
        index.optimize()
        assert sorted(_found(index, "насос")) == [2, 3]
        SearchIndex.close_all()


@needs_postgres
def test_a_database_without_the_search_tables_is_told_to_upgrade() -> None:
    with fresh_database() as url:
        backend = PostgresBackend(url)
        try:
            with pytest.raises(SearchSchemaMissing, match="run: kb db upgrade"):
                backend.stamps()
            with pytest.raises(SearchSchemaMissing):
                backend.replace_asset(1, [page(1, 1, "насос")])
        finally:
            backend.close()
