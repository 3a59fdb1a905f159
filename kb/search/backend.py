"""The search backend interface: what the search facade asks of any index, and what it gets back.

A backend stores page documents (``IndexPage``) and answers two questions about a ``QueryPlan``: which
assets match and how well (``candidates``: arrays, one entry per asset, with the facet values of its best
page), and what to show for some of them (``hits``: titles, best pages, snippets, missing words). Ranking by
freshness and rating, facets, paging, correction and synonyms are done once, by the facade (``kb.search``),
whatever the backend.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from kb.search.documents import IndexPage
from kb.search.planner import QueryPlan
from kb.search.query import FACETS

#: Facets the index holds; freshness comes from the database when searching.
INDEX_FACETS = ("kind", "product", "segment", "region", "language")
SORTS = ("relevance", "newest", "rating")
__all__ = ["FACETS", "INDEX_FACETS", "SORTS"]


@dataclass(frozen=True)
class SearchRequest:
    text: str
    filters: dict[str, str] = field(default_factory=dict)  # facet name -> value
    statuses: tuple[str, ...] = ("published",)  # what the asker may see
    include_older: bool = False  # search previous versions too
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    correct: bool = True  # False: exactly as typed ("Search instead for ...")
    # Who is asking, as far as audiences go (kb.audiences.search_scope): the index keys they may find (None: all,
    # for admins; by default only assets for everyone), and the asker's id, whose own assets they find too.
    audiences: tuple[str, ...] | None = ("everyone",)
    owner_id: int | None = None


@dataclass(frozen=True)
class Scope:
    """Which documents a search may see: statuses, current versions only or all, index facet filters, and
    audiences: pages whose ``audience`` field holds one of ``audiences`` (None: any), or whose owner is
    ``owner_id``. The default finds only what is for everyone."""

    statuses: tuple[str, ...] = ("published",)
    include_older: bool = False
    filters: dict[str, str] = field(default_factory=dict)
    audiences: tuple[str, ...] | None = ("everyone",)
    owner_id: int | None = None


@dataclass
class Candidates:
    """Every matching asset, as parallel arrays: its id, best page's score and share of concepts matched, when it
    was updated (seconds since the epoch), the backend's reference to its best page, and each index facet's
    values at that page (codes into ``facet_values``)."""

    asset_ids: np.ndarray
    scores: np.ndarray
    coverage: np.ndarray
    updated: np.ndarray
    refs: np.ndarray
    facet_codes: dict[str, np.ndarray]
    facet_values: dict[str, list[tuple[str, ...]]]
    source: Any = None  # what the backend needs to show these candidates (its snapshot of the index)

    @classmethod
    def empty(cls) -> Candidates:
        return cls(
            asset_ids=np.zeros(0, dtype=np.int64),
            scores=np.zeros(0),
            coverage=np.zeros(0),
            updated=np.zeros(0),
            refs=np.zeros(0, dtype=np.int64),
            facet_codes={name: np.zeros(0, dtype=np.intp) for name in INDEX_FACETS},
            facet_values={name: [()] for name in INDEX_FACETS},
        )

    def take(self, keep: np.ndarray) -> Candidates:
        return Candidates(
            asset_ids=self.asset_ids[keep],
            scores=self.scores[keep],
            coverage=self.coverage[keep],
            updated=self.updated[keep],
            refs=self.refs[keep],
            facet_codes={name: codes[keep] for name, codes in self.facet_codes.items()},
            facet_values=self.facet_values,
            source=self.source,
        )

    def __len__(self) -> int:
        return int(self.asset_ids.size)


@dataclass(frozen=True)
class PageHit:
    page: int
    title: str
    snippet: str  # HTML: escaped text with the matched terms in <mark>
    version: int
    current: bool


@dataclass(frozen=True)
class AssetHit:
    asset_id: int
    title: str
    kind: str
    product: str
    version: int
    owner_name: str
    updated: str
    rating: float
    freshness: str
    score: float
    pages: list[PageHit]
    missing: list[str] = field(default_factory=list)  # words of the query this asset's best page lacks
    status: str = "published"  # draft and archived assets appear to marketing only


@dataclass(frozen=True)
class Correction:
    """The query was corrected: results are for ``text``; ``original`` is what was typed."""

    text: str
    original: str
    reason: str  # "layout" or "spelling"


@dataclass(frozen=True)
class SearchResults:
    total: int
    hits: list[AssetHit]
    facets: dict[str, dict[str, int]]
    corrected: Correction | None = None  # shown instead of the query as typed
    suggestion: Correction | None = None  # offered, not applied
    shortened: bool = False  # the text was longer than the search reads
    like_this: bool = False  # read as "documents like this text"
    full_matches: int = 0  # results that match every concept


class SearchBackend(Protocol):
    """What every search backend does (``WhooshBackend``, ``MemoryBackend``)."""

    def replace_asset(self, asset_id: int, pages: list[IndexPage]) -> None:
        """Makes the index hold exactly ``pages`` for the asset (none: the asset is removed)."""

    def replace_assets(self, pages_by_asset: dict[int, list[IndexPage]]) -> None:
        """``replace_asset`` for many assets in one write (the worker's batch of index jobs)."""

    def delete_asset(self, asset_id: int) -> None: ...

    def rebuild(self, batches: Iterable[list[IndexPage]]) -> int:
        """Builds a new index from ``batches`` and switches to it when complete; returns documents written."""

    def candidates(self, plan: QueryPlan, scope: Scope) -> Candidates:
        """Every asset with a page that matches the plan within the scope."""

    def hits(self, plan: QueryPlan, scope: Scope, chosen: Candidates) -> list[AssetHit]:
        """What to show for the chosen candidates, in their order (rating and freshness left to the caller)."""

    def frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """How many pages hold each term (for "like this" searches)."""

    def known(self, word: str) -> bool:
        """Whether a whole word (lower case, ``ё`` as ``е``) is in the published library's vocabulary."""

    def closest(self, word: str) -> str | None:
        """The closest spelling of a word in the vocabulary, or None."""

    def stamps(self) -> dict[int, str]:
        """asset id -> the stamp it was indexed with, for comparing the index with the database."""

    def outdated(self) -> bool:
        """Whether the index was built in an older format (``kb index rebuild`` brings it up to date)."""

    def optimize(self) -> None: ...
