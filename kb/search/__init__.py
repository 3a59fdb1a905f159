"""Search: the one door to it. Views, the API, the worker and the CLI use this module and nothing deeper.

``get_backend(index_dir)`` gives the configured backend (``KB_SEARCH_BACKEND``: ``whoosh``, the embedded
default; ``postgres``, the index in kb's PostgreSQL database, shared by every app server; or ``memory`` for fast
tests), one per index directory (or database) and process; ``reset_backend()`` forgets them.
``search(backend, request, session=...)`` runs a search (``service``); ``searched_terms`` and ``marked_spans``
mark a search's words in a whole text (``marking``); query planning (``planner``: analysis, codes, synonyms)
and correction (``correction``) are shared by every backend.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from kb.search import word_cache
from kb.search.backend import (
    FACETS,
    SORTS,
    AssetHit,
    Correction,
    PageHit,
    SearchBackend,
    SearchRequest,
    SearchResults,
)
from kb.search.marking import marked_spans, searched_terms
from kb.search.service import search

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from kb.config import Settings

BACKENDS = ("whoosh", "memory", "postgres")
_backends: dict[tuple[str, str], SearchBackend] = {}
_lock = threading.Lock()


def get_backend(index_dir: Path, kind: str = "whoosh", database_url: str | None = None) -> SearchBackend:
    """The search backend of an index directory, or for ``postgres`` of the database ``database_url`` names (the
    same object for the life of the process)."""
    if kind not in BACKENDS:
        raise ValueError(f"unknown search backend {kind!r}; one of: {', '.join(BACKENDS)}")
    if kind == "postgres" and not database_url:
        raise ValueError("the postgres search backend needs the database's URL")
    key = (kind, str(database_url) if kind == "postgres" else str(index_dir))
    with _lock:
        backend = _backends.get(key)
        if backend is None:
            if kind == "postgres":
                from kb.search.postgres_backend import PostgresBackend

                backend = PostgresBackend(str(database_url))
            elif kind == "memory":
                from kb.search.memory import MemoryBackend

                backend = MemoryBackend()
            else:
                from kb.search.whoosh_backend import WhooshBackend

                backend = WhooshBackend(index_dir)
            _backends[key] = backend
        return backend


def backend_of(settings: Settings) -> SearchBackend:
    """The backend a kb installation's settings name (``KB_SEARCH_BACKEND``, ``KB_INDEX_DIR``), its caches
    sized as they say (``KB_SEARCH_CACHE_MB``, ``KB_ANALYSIS_CACHE_MB``)."""
    backend = get_backend(settings.index_dir, settings.search_backend, settings.database_url)
    word_cache.set_budget(settings.analysis_cache_mb * 1024 * 1024)
    bound = getattr(backend, "bound_cache", None)
    if bound is not None:
        bound(settings.search_cache_mb * 1024 * 1024)
    return backend


def warm(backend: SearchBackend, session: Session | None = None) -> None:
    """Reads the index into this process before its first search (a server process, before it answers anyone);
    a backend with nothing to read does nothing. With a database session, also runs one real search for a
    word the index holds, so the first person's search does not pay for the first time of the rest either
    (its SQL compiled, freshness and synonyms read)."""
    warm_up = getattr(backend, "warm", None)
    word = warm_up() if warm_up is not None else None
    if session is not None and word:
        search(backend, SearchRequest(text=word), session=session)


def reset_backend() -> None:
    """Forgets every backend and closes open searchers (tests, and after a rebuild in another process)."""
    from kb.search.whoosh_backend import WhooshBackend
    from kb.search.whoosh_store import WhooshStore

    with _lock:
        for backend in _backends.values():
            close = getattr(backend, "close", None)
            if close is not None and not isinstance(backend, WhooshBackend):
                close()
        _backends.clear()
    WhooshStore.close_all()


__all__ = [
    "FACETS",
    "SORTS",
    "AssetHit",
    "Correction",
    "PageHit",
    "SearchBackend",
    "SearchRequest",
    "SearchResults",
    "backend_of",
    "get_backend",
    "marked_spans",
    "reset_backend",
    "searched_terms",
    "warm",
    "search",
]
