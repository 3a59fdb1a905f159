"""The search backend interface: what views and commands may ask of any index, and what they get back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from kb.search.documents import IndexPage

FACETS = ("kind", "product", "segment", "region", "language", "freshness")
SORTS = ("relevance", "newest", "rating")


@dataclass(frozen=True)
class SearchRequest:
    text: str
    filters: dict[str, str] = field(default_factory=dict)  # facet name -> value
    statuses: tuple[str, ...] = ("published",)  # what the asker may see
    include_older: bool = False  # search previous versions too
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20


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


@dataclass(frozen=True)
class SearchResults:
    total: int
    hits: list[AssetHit]
    facets: dict[str, dict[str, int]]


class SearchBackend(Protocol):
    def replace_asset(self, asset_id: int, pages: list[IndexPage]) -> None:
        """Makes the index hold exactly ``pages`` for the asset (none: the asset is removed)."""

    def rebuild(self, batches: Iterable[list[IndexPage]]) -> int:
        """Builds a new index from ``batches`` and switches to it when complete; returns documents written."""

    def search(self, request: SearchRequest) -> SearchResults: ...

    def stamps(self) -> dict[int, str]:
        """asset id -> the stamp it was indexed with, for comparing the index with the database."""

    def optimize(self) -> None: ...
