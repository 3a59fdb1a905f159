"""A search index for tests: the configured backend of a directory, searched through the facade.

``KINDS`` are the backends the search tests run against: Whoosh, and PostgreSQL (each index in a database of its
own, dropped when the test process ends; skipped outside CI without ``KB_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import atexit
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from kb import search
from kb.search.backend import SearchRequest, SearchResults
from kb.search.signals import Signals
from postgres_helpers import migrated_database, needs_postgres

KINDS = [pytest.param("whoosh", id="whoosh"), pytest.param("postgres", id="postgres", marks=needs_postgres)]


class SearchIndex:
    """``kb.search.get_backend`` for a directory, with ``search`` going through ``kb.search.search``; a
    ``postgres`` index lives in ``database_url``, else in a new database (a module's index may outlive a test's
    ``close_all``)."""

    _databases = ExitStack()
    atexit.register(_databases.close)

    def __init__(
        self, root: Path, kind: str = "whoosh", signals: Signals | None = None, database_url: str | None = None
    ) -> None:
        url = database_url
        if kind == "postgres" and url is None:
            url = SearchIndex._databases.enter_context(migrated_database())
        self.kind = kind
        self.backend: Any = search.get_backend(root, kind, url)
        self.signals = signals or Signals()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def search(self, request: SearchRequest, **kwargs: Any) -> SearchResults:
        return search.search(self.backend, request, known=self.signals, **kwargs)

    @staticmethod
    def close_all() -> None:
        search.reset_backend()
