"""The Whoosh search backend: storage (``whoosh_store``), plan evaluation (``whoosh_eval``), spelling (``speller``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from kb.search import whoosh_eval
from kb.search.backend import AssetHit, Candidates, Scope
from kb.search.documents import IndexPage
from kb.search.planner import QueryPlan
from kb.search.speller import Speller
from kb.search.whoosh_store import WhooshStore


class WhooshBackend:
    """kb's embedded search backend, on an index directory on local disk."""

    def __init__(self, root: Path) -> None:
        self.store = WhooshStore(root)
        self._spellers: dict[int, Speller] = {}

    def replace_asset(self, asset_id: int, pages: list[IndexPage]) -> None:
        self.store.replace_asset(asset_id, pages)

    def replace_assets(self, pages_by_asset: dict[int, list[IndexPage]]) -> None:
        self.store.replace_assets(pages_by_asset)

    def delete_asset(self, asset_id: int) -> None:
        self.store.delete_asset(asset_id)

    def rebuild(self, batches: Iterable[list[IndexPage]]) -> int:
        return self.store.rebuild(batches)

    def optimize(self) -> None:
        self.store.optimize()

    def stamps(self) -> dict[int, str]:
        return self.store.stamps()

    def outdated(self) -> bool:
        return self.store.outdated()

    def candidates(self, plan: QueryPlan, scope: Scope) -> Candidates:
        return whoosh_eval.candidates(self.store.searcher(), plan, scope)

    def hits(self, plan: QueryPlan, scope: Scope, chosen: Candidates) -> list[AssetHit]:
        return whoosh_eval.hits(self.store.searcher(), plan, scope, chosen)

    def frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        return whoosh_eval.frequencies(self.store.searcher(), terms)

    def bound_cache(self, size: int) -> None:
        """Bounds the decoded postings and pages this process keeps in its own memory, in bytes."""
        whoosh_eval.set_cache_bytes(size)

    def warm(self) -> str | None:
        """Reads now what the first search would: the searcher, its tables, every text field's lengths and the
        speller's word lists (1.3 s of a fresh process's first search at 10,000 assets). Returns a word of
        the index's titles to search for, so that the rest of a search's first time is spent too; None when the
        index is empty."""
        searcher = self.store.searcher()
        table = whoosh_eval.SearcherTable.of(searcher)
        for subsearcher, _offset, segment_table in table.parts:
            for field in whoosh_eval.TEXT_FIELDS:
                segment_table.lengths(subsearcher.reader(), field)
        self._speller().closest("kbwarm", maxdist=1)
        return whoosh_eval.a_title_word(searcher)

    def _speller(self) -> Speller:
        """One speller per searcher (its segments' word lists are kept across searches)."""
        searcher = self.store.searcher()
        cached = self._spellers.get(id(searcher))
        if cached is None or cached.searcher is not searcher:
            cached = Speller(searcher)
            self._spellers = {id(searcher): cached}
        return cached

    def known(self, word: str) -> bool:
        return self._speller().known(word)

    def closest(self, word: str) -> str | None:
        # two letters off only for longer words: a short word two edits away is usually another word
        return self._speller().closest(word, maxdist=2 if len(word) > 6 else 1)

    @staticmethod
    def close_all() -> None:
        WhooshStore.close_all()
