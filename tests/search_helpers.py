"""A search index for tests: the configured backend of a directory, searched through the facade."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kb import search
from kb.search.backend import SearchRequest, SearchResults
from kb.search.signals import Signals


class SearchIndex:
    """``kb.search.get_backend`` for a directory, with ``search`` going through ``kb.search.search``."""

    def __init__(self, root: Path, kind: str = "whoosh", signals: Signals | None = None) -> None:
        self.backend: Any = search.get_backend(root, kind)
        self.signals = signals or Signals()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def search(self, request: SearchRequest, **kwargs: Any) -> SearchResults:
        return search.search(self.backend, request, known=self.signals, **kwargs)

    @staticmethod
    def close_all() -> None:
        search.reset_backend()
