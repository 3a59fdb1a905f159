"""The Whoosh implementation of the search backend: page-sized documents, one writer at a time, a reused searcher.

The index lives in generations under ``KB_INDEX_DIR`` (``gen-000001``, ...); the file ``CURRENT`` names the
one in use. A rebuild writes a new generation (one writer process per core, each its own segment) and switches
``CURRENT`` when it is complete, so searches keep working on the old one meanwhile. Every write (an asset's
pages, or a rebuild) holds an exclusive file lock, so only one process writes at a time whatever the number of
server and worker processes; an asset's pages are committed before small segments are merged, and merges
leave big segments alone, so a new version is searchable without waiting for a merge. Searchers are kept per
process and refreshed only when the index changed, checked at most once a second.

A search finds the same results whoosh's own collectors would (see ``_page_scores``) with bounded work: every
matching page's asset is counted from sets of postings, without scoring or reading stored fields; pages are
scored a whole postings list at a time, and pages matched only by a frequent, weakly weighted term are not
scored when they cannot reach the page of results asked for; snippets are made only for the pages shown.
Decoded postings of recent terms and per-segment tables (each page's asset and facet values, field lengths)
are kept in memory, bounded.
"""

from __future__ import annotations

import fcntl
import math
import os
import re
import shutil
import threading
import time
from array import array
from bisect import bisect_left, insort
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from whoosh import highlight, index, sorting
from whoosh.analysis import CompositeAnalyzer, LowercaseFilter, RegexTokenizer, Token
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.fields import BOOLEAN, DATETIME, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.matching.binary import AndNotMatcher, IntersectionMatcher, UnionMatcher
from whoosh.matching.combo import ArrayUnionMatcher
from whoosh.matching.mcore import ListMatcher, NullMatcherClass
from whoosh.matching.wrappers import FilterMatcher, WrappingMatcher
from whoosh.query import And, AndNot, Every, NullQuery, Or, Phrase, Prefix, Query, Term
from whoosh.reading import TermNotFound
from whoosh.scoring import BM25FScorer, WeightScorer
from whoosh.support.levenshtein import distance as edit_distance
from whoosh.util import fib
from whoosh.writing import MERGE_SMALL

from kb.search.analysis import (
    TOKEN_PATTERN,
    CodeFilter,
    MixedStemFilter,
    MixedStopFilter,
    YoFilter,
    analyze,
    mixed_analyzer,
    spelling_analyzer,
)
from kb.search.backend import AssetHit, PageHit, SearchRequest, SearchResults
from kb.search.documents import IndexPage
from kb.search.query import ParsedQuery, parse

CURRENT = "CURRENT"
LOCK = "write.lock"
LOCK_TIMEOUT_S = 300
REFRESH_CHECK_S = 1.0
#: Writer processes for a rebuild, at most one per core.
REBUILD_PROCESSES = 4
#: Decoded postings kept per process (about 8 bytes each), for the terms searched most recently.
POSTINGS_CACHE_SIZE = 4_000_000
#: Segments with more documents than this are never merged after an asset is indexed (a rebuild or
#: ``kb index optimize`` does that): a merge rewrites every posting of its segments, so this bounds its time.
MERGE_MAX_DOCS = 2_000
PAGES_PER_ASSET = 3
#: Overdue and flagged content stays findable, a little lower.
STALE_FACTOR = {"overdue": 0.85, "flagged": 0.8}
TEXT_FIELDS = {"title": 4.0, "tags": 3.0, "page_title": 1.5, "description": 1.5, "body": 1.0}
FACET_FIELDS = {"kind": "kind", "product": "product", "segment": "segment", "region": "region",
                "language": "language", "freshness": "freshness"}  # fmt: skip


def schema() -> Schema:
    analyzer = MixedAnalyzer()
    return Schema(
        doc_id=ID(stored=True, unique=True),
        asset=ID(stored=True, sortable=True),
        version_id=NUMERIC(stored=True),
        version=NUMERIC(stored=True),
        current=BOOLEAN(stored=True),
        status=ID(stored=True),
        page=NUMERIC(stored=True),
        page_title=TEXT(analyzer=analyzer, stored=True, field_boost=TEXT_FIELDS["page_title"]),
        title=TEXT(analyzer=analyzer, stored=True, field_boost=TEXT_FIELDS["title"]),
        tags=TEXT(analyzer=analyzer, stored=True, field_boost=TEXT_FIELDS["tags"]),
        description=TEXT(analyzer=analyzer, field_boost=TEXT_FIELDS["description"]),
        body=TEXT(analyzer=analyzer, stored=True),
        kind=ID(stored=True),
        product=ID(stored=True),
        segment=KEYWORD(stored=True, commas=True),
        region=ID(stored=True),
        language=ID(stored=True),
        owner=ID(stored=True),
        owner_name=STORED,
        freshness=ID(stored=True),
        updated=DATETIME(stored=True, sortable=True),
        # Average stars × 100 as an integer: Whoosh's float columns are broken for sorting.
        rating=NUMERIC(stored=True, sortable=True),
        stamp=STORED,
        # Only the vocabulary and its frequencies matter here (for "did you mean"): no positions.
        words=TEXT(analyzer=spelling_analyzer(), phrase=False, spelling=True),
    )


def _document(page: IndexPage) -> dict[str, Any]:
    return {
        "doc_id": page.doc_id,
        "asset": str(page.asset_id),
        "version_id": page.version_id,
        "version": page.version,
        "current": page.current,
        "status": page.status,
        "page": page.page,
        "page_title": page.page_title,
        "title": page.title,
        "tags": ", ".join(page.tags),
        "description": page.description,
        "body": page.body,
        "kind": page.kind,
        "product": page.product,
        "segment": ",".join(page.segments),
        "region": page.region,
        "language": page.language,
        "owner": str(page.owner_id),
        "owner_name": page.owner_name,
        "freshness": page.freshness,
        "updated": page.updated.replace(tzinfo=None),
        "rating": round(page.rating * 100),
        "stamp": page.stamp,
        "words": f"{page.title}\n{page.page_title}\n{page.body}",
    }


def _small(counts_or_segments: list[Any]) -> list[Any]:
    return [s for s in counts_or_segments if (s if isinstance(s, int) else s.doc_count_all()) <= MERGE_MAX_DOCS]


def _merge_due(counts: list[int]) -> bool:
    """Whether whoosh's MERGE_SMALL policy, applied to the segments of at most MERGE_MAX_DOCS, would merge."""
    total = 0
    for i, count in enumerate(sorted(_small(counts))):
        total += count
        if i > 3 and total < fib(i + 5):
            return True
    return False


def _merge_small_segments(writer: Any, segments: list[Any]) -> list[Any]:
    """whoosh's MERGE_SMALL among the segments of at most MERGE_MAX_DOCS documents; bigger ones stay as they are."""
    small = _small(segments)
    return [s for s in segments if s not in small] + MERGE_SMALL(writer, small)


class WhooshIndex:
    """The search backend on a Whoosh index directory."""

    _searchers: dict[str, tuple[str, Any, float]] = {}
    _searchers_lock = threading.Lock()

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    # generations and locking

    def _current_name(self) -> str | None:
        try:
            return (self.root / CURRENT).read_text(encoding="ascii").strip() or None
        except FileNotFoundError:
            return None

    def _switch_to(self, name: str) -> None:
        tmp = self.root / f".{CURRENT}.tmp"
        tmp.write_text(name + "\n", encoding="ascii")
        os.replace(tmp, self.root / CURRENT)

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        with (self.root / LOCK).open("a") as handle:
            deadline = time.monotonic() + LOCK_TIMEOUT_S
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise TimeoutError("the search index is locked by another writer") from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _new_generation(self) -> tuple[str, Any]:
        existing = sorted(p.name for p in self.root.glob("gen-*"))
        number = int(existing[-1].split("-")[1]) + 1 if existing else 1
        name = f"gen-{number:06d}"
        path = self.root / name
        path.mkdir()
        return name, index.create_in(str(path), schema())

    def _open_for_writing(self) -> Any:
        name = self._current_name()
        if name is None or not (self.root / name).is_dir():
            name, ix = self._new_generation()
            self._switch_to(name)
            return ix
        ix = index.open_dir(str(self.root / name))
        if set(ix.schema.names()) != set(schema().names()):
            raise RuntimeError("the search index was built by an older kb; run: kb index rebuild")
        return ix

    # writing

    def replace_asset(self, asset_id: int, pages: list[IndexPage]) -> None:
        with self._write_lock():
            ix = self._open_for_writing()
            writer = ix.writer()
            try:
                writer.delete_by_term("asset", str(asset_id))
                for page in pages:
                    writer.add_document(**_document(page))
            except BaseException:
                writer.cancel()
                raise
            # The change is committed as a segment of its own, searchable at once; merging small segments is
            # a second commit, so a new version never waits for a merge.
            writer.commit(merge=False)
            self._changed()
            merger = ix.writer()
            if _merge_due([segment.doc_count_all() for segment in merger.segments]):
                merger.commit(mergetype=_merge_small_segments)
            else:
                merger.cancel()
        self._changed()

    def _changed(self) -> None:
        """This process wrote the index: its next search checks for the change at once."""
        with self._searchers_lock:
            cached = self._searchers.get(str(self.root))
            if cached is not None:
                self._searchers[str(self.root)] = (cached[0], cached[1], float("-inf"))

    def rebuild(self, batches: Iterable[list[IndexPage]]) -> int:
        with self._write_lock():
            previous = self._current_name()
            name, ix = self._new_generation()
            written = 0
            # One writer process per core (up to REBUILD_PROCESSES), each writing a segment of its own: indexing
            # is CPU-bound Python, so this scales with the cores; this process reads the database meanwhile.
            processes = min(REBUILD_PROCESSES, os.cpu_count() or 1)
            if processes > 1:
                writer = ix.writer(procs=processes, multisegment=True, limitmb=128)
            else:
                writer = ix.writer(limitmb=256)
            try:
                try:
                    for batch in batches:
                        for page in batch:
                            writer.add_document(**_document(page))
                            written += 1
                except BaseException:
                    writer.cancel()
                    raise
                writer.commit()
                # A writer process that died takes its segment with it without an error: count what arrived.
                indexed = index.open_dir(str(self.root / name)).doc_count()
                if indexed != written:
                    raise RuntimeError(f"the new index holds {indexed} of {written} documents; the old one stays")
            except BaseException:
                shutil.rmtree(self.root / name, ignore_errors=True)
                raise
            self._switch_to(name)
            # Keep the generation just replaced (open searchers may still read it); drop older ones.
            for old in self.root.glob("gen-*"):
                if old.name not in (name, previous):
                    shutil.rmtree(old, ignore_errors=True)
        self._changed()
        return written

    def optimize(self) -> None:
        with self._write_lock():
            self._open_for_writing().optimize()
        self._changed()

    # reading

    def _searcher(self) -> Any:
        key = str(self.root)
        now = time.monotonic()
        with self._searchers_lock:
            cached = self._searchers.get(key)
            if cached is not None and now - cached[2] < REFRESH_CHECK_S:
                return cached[1]
            name = self._current_name()
            if name is None or not (self.root / name).is_dir():
                with self._write_lock():
                    self._open_for_writing()
                name = self._current_name()
            if cached is not None and cached[0] == name and cached[1].up_to_date():
                searcher = cached[1]
            else:
                # A new searcher, not Searcher.refresh(): refresh reuses segment readers and so misses
                # deletions committed to an existing segment (an asset re-indexed with fewer pages).
                if cached is not None:
                    cached[1].close()
                searcher = index.open_dir(str(self.root / str(name))).searcher()
            self._searchers[key] = (str(name), searcher, now)
            return searcher

    @classmethod
    def close_all(cls) -> None:
        with cls._searchers_lock:
            for _name, searcher, _checked in cls._searchers.values():
                searcher.close()
            cls._searchers.clear()

    def suggest(self, text: str) -> str | None:
        """The query with misspelt words replaced by the closest indexed words, or None when nothing changed."""
        searcher = self._searcher()
        if "words" not in searcher.schema.names():
            return None
        reader = searcher.reader()
        # One segment: whoosh's corrector walks the term list with a Levenshtein automaton, quickly. Several:
        # its corrector computes the edit distance to every word of the field; the same, filtered first.
        corrector = searcher.corrector("words") if reader.is_atomic() else _DocTable.of(searcher).vocabulary(searcher)
        parsed = parse(text)
        changed = False
        replacements: dict[str, str] = {}
        for word in parsed.words:
            key = word.lower().replace("ё", "е")
            if len(key) < 4 or not key.isalpha() or reader.frequency("words", key) > 0:
                continue
            candidates = corrector.suggest(key, limit=1, maxdist=2 if len(key) > 6 else 1)
            if candidates:
                replacements[word] = candidates[0]
                changed = True
        if not changed:
            return None
        return " ".join(replacements.get(part, part) for part in text.split())

    def stamps(self) -> dict[int, str]:
        searcher = self._searcher()
        found: dict[int, str] = {}
        for fields in searcher.all_stored_fields():
            if fields.get("current"):
                found[int(fields["asset"])] = fields["stamp"]
        return found

    def search(self, request: SearchRequest) -> SearchResults:
        parsed = parse(request.text)
        filters = {**request.filters, **parsed.filters}
        text_query = _text_query(parsed)
        scope = _scope(request, filters)
        if text_query is NullQuery:
            return SearchResults(total=0, hits=[], facets={})
        searcher = self._searcher()
        table = _DocTable.of(searcher)
        excluded = _excluded_assets(searcher, table, parsed, scope)
        if excluded is not None:
            scope = AndNot(scope, excluded)
        query = And([text_query, scope])
        start = (request.page - 1) * request.per_page
        sortedby = {"newest": "updated", "rating": "rating"}.get(request.sort)
        if sortedby is None:
            scores, matching, trees = _page_scores(searcher, table, query, start + request.per_page)
            best = table.best_page_per_asset(scores)
            ranked = [(final, docnum) for final, docnum, _score in table.ranked_by_relevance(best)]
            first_pages = table.first_page_per_asset(matching)
        else:
            trees = []
            first_pages = table.lowest_page_per_asset(_matching_docs(searcher, query))
            ranked = table.ranked_by_column(searcher, sortedby, first_pages, start + request.per_page)
        shown = [(score, searcher.stored_fields(docnum)) for score, docnum in ranked[start : start + request.per_page]]
        shown_assets = [int(f["asset"]) for _s, f in shown]
        if sortedby is None and all(tree is not None for *_rest, tree in trees):
            pages = _shown_pages(searcher, table, query, trees, scores, matching, shown_assets)
        else:
            pages = self._best_pages(searcher, table, text_query, scope, shown_assets)
        hits = [
            AssetHit(
                asset_id=int(fields["asset"]),
                title=fields["title"],
                kind=fields["kind"],
                product=fields["product"],
                version=fields["version"],
                owner_name=fields["owner_name"],
                updated=fields["updated"].date().isoformat(),
                rating=fields["rating"] / 100,
                freshness=fields["freshness"],
                score=round(score, 4),
                pages=pages.get(int(fields["asset"]), []),
            )
            for score, fields in shown
        ]
        return SearchResults(total=len(first_pages), hits=hits, facets=table.facets_of(first_pages.values()))

    def _best_pages(
        self, searcher: Any, table: _DocTable, text_query: Query, scope: Query, asset_ids: list[int]
    ) -> dict[int, list[PageHit]]:
        if not asset_ids:
            return {}
        query = And([text_query, scope, Or([Term("asset", str(a)) for a in asset_ids])])
        results = searcher.search(
            query,
            limit=len(asset_ids) * PAGES_PER_ASSET * 2,
            # Pages collapse by asset as with collapse="asset", from the table rather than the column.
            collapse=sorting.FunctionFacet(lambda _searcher, docnum: table.assets[docnum]),
            collapse_limit=PAGES_PER_ASSET,
            terms=True,
        )
        results.highlighter = _Highlighter(
            fragmenter=highlight.ContextFragmenter(maxchars=220, surround=70),
            formatter=highlight.HtmlFormatter(tagname="mark", between=" … "),
        )
        found: dict[int, list[PageHit]] = {}
        for hit in results:
            snippet = hit.highlights("body", top=2) or _escape(hit["body"][:200])
            found.setdefault(int(hit["asset"]), []).append(
                PageHit(
                    page=hit["page"],
                    title=hit["page_title"],
                    snippet=snippet,
                    version=hit["version"],
                    current=hit["current"],
                )
            )
        return found


# --- per-segment tables: what search needs of every document, read once from the postings and columns -------


class _Postings:
    """A term's postings in one segment, decoded once: document numbers (deleted ones included) and weights."""

    __slots__ = ("ids", "weights", "_docs")

    def __init__(self, ids: array, weights: array) -> None:
        self.ids = ids
        self.weights = weights
        self._docs: frozenset[int] | None = None

    @property
    def docs(self) -> frozenset[int]:
        if self._docs is None:
            self._docs = frozenset(self.ids)
        return self._docs


class _PostingsCache:
    """Decoded postings of recently used terms, per segment, up to POSTINGS_CACHE_SIZE postings in all.

    Decoding is most of the cost of a query on a frequent word (a block is a zlib-compressed pickle, positions
    included); a segment never changes its postings, so what was decoded stays valid until the segment goes.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.held = 0
        self.entries: OrderedDict[tuple[str, str, bytes], _Postings] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, segment_id: str, matcher: Any) -> _Postings:
        key = (segment_id, *matcher.term())
        with self.lock:
            found = self.entries.get(key)
            if found is not None:
                self.entries.move_to_end(key)
                return found
        postings = _decode(matcher)
        with self.lock:
            if key not in self.entries:
                self.entries[key] = postings
                self.held += len(postings.ids)
                while self.held > self.size and len(self.entries) > 1:
                    _key, old = self.entries.popitem(last=False)
                    self.held -= len(old.ids)
        return postings

    def forget(self, live: set[str]) -> None:
        with self.lock:
            for key in [k for k in self.entries if k[0] not in live]:
                self.held -= len(self.entries.pop(key).ids)


def _decode(matcher: Any) -> _Postings:
    """Every posting of a leaf matcher's term in its segment, from the start, a block at a time."""
    # Back to the first posting (a W3 leaf cannot be copied; the tree it belongs to is evaluated here, not
    # iterated by whoosh, so moving it is harmless).
    matcher = matcher if isinstance(matcher, W3LeafMatcher) else matcher.copy()
    matcher.reset()
    ids, weights = array("i"), array("f")
    if isinstance(matcher, W3LeafMatcher):
        while matcher.is_active():
            matcher._read_ids()
            matcher._read_weights()
            ids.extend(matcher._ids)
            weights.extend(matcher._weights)
            matcher._next_block()
    else:
        while matcher.is_active():
            ids.append(matcher.id())
            weights.append(matcher.weight())
            matcher.next()
    return _Postings(ids, weights)


_POSTINGS = _PostingsCache(POSTINGS_CACHE_SIZE)
#: Values of each facet field as small numbers, the same in every segment: value tuple <-> code.
_FACET_CODES: dict[str, dict[tuple[str, ...], int]] = {name: {(): 0} for name in FACET_FIELDS}
_FACET_VALUES: dict[str, list[tuple[str, ...]]] = {name: [()] for name in FACET_FIELDS}


class _SegmentTable:
    """For one immutable segment: each document's asset and facet values; field lengths and columns on demand.

    Read once per segment and process from the ``asset`` column and the postings of the facet fields (a
    handful of terms each), so a search counts assets and facets without reading stored fields. Deleted
    documents keep their entries; they never appear in a set of matching documents.
    """

    def __init__(self, reader: Any) -> None:
        count = reader.doc_count_all()
        self.doc_count: int = count
        self.segment_id: str = reader.segment().segment_id()
        self.assets: list[int] = [int(v) if v else -1 for v in reader.column_reader("asset")]
        self.facets: dict[str, list[int]] = {}
        for name, field in FACET_FIELDS.items():
            values: list[tuple[str, ...]] = [()] * count
            if field in reader.schema:
                from_bytes = reader.schema[field].from_bytes
                for term in reader.lexicon(field):
                    value = from_bytes(term)
                    if value:
                        for docnum in _term_docs(reader, field, value, deleted=False):
                            values[docnum] = (*values[docnum], value)
            codes = _FACET_CODES[name]
            known = _FACET_VALUES[name]
            for value in set(values):
                if value not in codes:
                    codes[value] = len(known)
                    known.append(value)
            self.facets[name] = [codes[v] for v in values]
        self.freshness: list[str | None] = [
            v[0] if v else None for v in map(_FACET_VALUES["freshness"].__getitem__, self.facets["freshness"])
        ]
        self._columns: dict[str, list[Any]] = {}
        self._lengths: dict[str, list[Any]] = {}
        self._unscored: dict[tuple[str, bytes], _Scores] = {}

    def unscored(self, matcher: Any) -> _Scores:
        """A term of an unscored field (status, current version, a filter): each document scores its weight.

        Kept per segment, deleted documents included (deletions are applied above this): the status and
        current-version terms hold nearly every document and are in every query.
        """
        term = matcher.term()
        if term not in self._unscored:
            postings = _POSTINGS.get(self.segment_id, matcher)
            weights = set(postings.weights)
            if len(weights) <= 1:
                self._unscored[term] = _Same(postings.docs, weights.pop() if weights else 1.0)
            else:
                self._unscored[term] = dict(zip(postings.ids, postings.weights, strict=True))
        found = self._unscored[term]
        return found if isinstance(found, _Same) else dict(found)

    def lengths(self, searcher: Any, fieldname: str) -> list[Any]:
        """Each document's length of a field, as BM25F reads it (``Searcher.doc_field_length(d, field, 1)``)."""
        if fieldname not in self._lengths:
            length = searcher.doc_field_length
            self._lengths[fieldname] = [length(d, fieldname, 1) for d in range(self.doc_count)]
        return self._lengths[fieldname]

    def column(self, reader: Any, field: str) -> list[Any]:
        """The raw sortable values of a column, as whoosh's sorting compares them."""
        if field not in self._columns:
            self._columns[field] = list(reader.column_reader(field, translate=False))
        return self._columns[field]


class _DocTable:
    """The segment tables of one searcher, joined into index-wide lists by document number."""

    _segments: dict[str, _SegmentTable] = {}
    _by_searcher: dict[int, tuple[Any, _DocTable]] = {}
    _lock = threading.Lock()

    def __init__(self, searcher: Any) -> None:
        self.parts: list[tuple[int, _SegmentTable]] = []
        self.assets: list[int] = []
        self.freshness: list[str | None] = []
        self.facets: dict[str, list[int]] = {name: [] for name in FACET_FIELDS}
        self._pages: dict[int, list[int]] | None = None
        self._vocabulary: _Vocabulary | None = None
        for subsearcher, offset in searcher.leaf_searchers():
            table = _DocTable.segment_table(subsearcher.reader())
            self.parts.append((offset, table))
            self.assets += table.assets
            self.freshness += table.freshness
            for name, codes in table.facets.items():
                self.facets[name] += codes

    @classmethod
    def segment_table(cls, reader: Any) -> _SegmentTable:
        key = reader.segment().segment_id()
        table = cls._segments.get(key)
        if table is None:
            table = cls._segments[key] = _SegmentTable(reader)
        return table

    @classmethod
    def of(cls, searcher: Any) -> _DocTable:
        with cls._lock:
            cached = cls._by_searcher.get(id(searcher))
            if cached is not None and cached[0] is searcher:
                return cached[1]
            table = cls(searcher)
            cls._by_searcher = {id(searcher): (searcher, table)}  # one searcher per index in use
            live = {t.segment_id for _offset, t in table.parts}
            cls._segments = {k: v for k, v in cls._segments.items() if k in live}
            _POSTINGS.forget(live)
            return table

    def first_page_per_asset(self, docs: Iterable[int]) -> dict[int, int]:
        """asset id -> one matching page of it (facets are the same on every page of an asset)."""
        docs = list(docs)
        return dict(zip(map(self.assets.__getitem__, docs), docs, strict=True))

    def vocabulary(self, searcher: Any) -> _Vocabulary:
        if self._vocabulary is None:
            self._vocabulary = _Vocabulary(searcher, "words")
        return self._vocabulary

    def pages_of(self, asset_ids: Iterable[int]) -> list[int]:
        """Every document (page) of these assets."""
        if self._pages is None:
            pages: dict[int, list[int]] = {}
            for docnum, asset in enumerate(self.assets):
                pages.setdefault(asset, []).append(docnum)
            self._pages = pages
        return [d for asset in asset_ids for d in self._pages.get(asset, ())]

    def lowest_page_per_asset(self, docs: Iterable[int]) -> dict[int, int]:
        """asset id -> the lowest matching document number of that asset (the page whoosh's collapse keeps)."""
        ordered = sorted(docs, reverse=True)
        return dict(zip(map(self.assets.__getitem__, ordered), ordered, strict=True))

    def best_page_per_asset(self, scores: dict[int, float]) -> dict[int, tuple[float, int]]:
        """asset id -> (score, docnum) of its best page: the highest score, the lowest docnum among equals."""
        assets = self.assets
        best: dict[int, tuple[float, int]] = {}
        for docnum, score in scores.items():
            asset = assets[docnum]
            known = best.get(asset)
            if known is None or score > known[0] or (score == known[0] and docnum < known[1]):
                best[asset] = (score, docnum)
        return best

    def ranked_by_relevance(self, best: dict[int, tuple[float, int]]) -> list[tuple[float, int, float]]:
        """(final score, best page, score) of every asset, best first; overdue and flagged assets a little lower.

        The order of ranking all matching pages by score (ties by document number), keeping each asset's
        first, then sorting by score times the stale factor, equal results keeping that order.
        """
        freshness = self.freshness
        ranked = [
            (score * STALE_FACTOR.get(freshness[docnum], 1.0), docnum, score)  # type: ignore[arg-type]
            for score, docnum in best.values()
        ]
        ranked.sort(key=lambda item: (-item[0], -item[2], item[1]))
        return ranked

    def facets_of(self, docnums: Iterable[int]) -> dict[str, dict[str, int]]:
        """Counts of matching assets per facet value (an asset counts once, whatever its number of pages)."""
        docnums = list(docnums)
        result: dict[str, dict[str, int]] = {}
        for name, codes in self.facets.items():
            counts: dict[str, int] = {}
            values = _FACET_VALUES[name]
            for code, n in Counter(map(codes.__getitem__, docnums)).items():
                for value in values[code]:
                    counts[value] = counts.get(value, 0) + n
            result[name] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        return result

    def ranked_by_column(
        self, searcher: Any, field: str, first_pages: dict[int, int], wanted: int
    ) -> list[tuple[float, int]]:
        """The assets by a column, highest first, as whoosh sorts collapsed results: (value, first page) pairs.

        Whoosh keeps each asset's lowest matching page and sorts (value, page) pairs in reverse.
        """
        column: list[Any] = []
        for subsearcher, _offset in searcher.leaf_searchers():
            column += _DocTable.segment_table(subsearcher.reader()).column(subsearcher.reader(), field)
        items = sorted(((column[d], d) for d in first_pages.values()), reverse=True)
        return [(key * 1.0, docnum) for key, docnum in items[:wanted]]


class _Vocabulary:
    """``whoosh.spelling.ReaderCorrector`` on an index of several segments, the same suggestions, faster.

    There whoosh computes the (Damerau-Levenshtein) edit distance from the word to every term of the field;
    this computes it, with the same function, only for terms that can be close enough: a length within the
    distance, and no more characters missing from either side than the distance (compared as bit masks).
    Suggestions rank as whoosh ranks them: the most frequent term, then the greatest. The terms of each
    segment are listed once per process (segments never change).
    """

    _segments: dict[str, dict[int, list[tuple[str, int]]]] = {}

    def __init__(self, searcher: Any, fieldname: str) -> None:
        self.reader = searcher.reader()
        self.fieldname = fieldname
        self.parts = []
        live = set()
        for subsearcher, _offset in searcher.leaf_searchers():
            reader = subsearcher.reader()
            key = reader.segment().segment_id()
            live.add(key)
            if key not in _Vocabulary._segments:
                from_bytes = reader.schema[fieldname].from_bytes
                by_length: dict[int, list[tuple[str, int]]] = {}
                for btext in reader.lexicon(fieldname):
                    word = from_bytes(btext)
                    by_length.setdefault(len(word), []).append((word, _char_mask(word)))
                _Vocabulary._segments[key] = by_length
            self.parts.append(_Vocabulary._segments[key])
        _Vocabulary._segments = {k: v for k, v in _Vocabulary._segments.items() if k in live}

    def suggest(self, text: str, limit: int = 1, maxdist: int = 2, prefix: int = 0) -> list[str]:
        assert limit == 1 and prefix == 0, "only what WhooshIndex.suggest asks"
        mask = _char_mask(text)
        close: set[str] = set()
        for by_length in self.parts:
            for length in range(len(text) - maxdist, len(text) + maxdist + 1):
                for word, word_mask in by_length.get(length, ()):
                    if (mask & ~word_mask).bit_count() > maxdist or (word_mask & ~mask).bit_count() > maxdist:
                        continue
                    if word not in close and edit_distance(word, text, limit=maxdist) <= maxdist:
                        close.add(word)
        best: tuple[float, str] | None = None
        for word in close:
            f = self.reader.frequency(self.fieldname, word) or 1
            item = (0 - (maxdist + (1.0 / f * 0.5)), word)
            if best is None or item > best:
                best = item
        return [best[1]] if best is not None else []


def _char_mask(word: str) -> int:
    mask = 0
    for char in word:
        mask |= 1 << (ord(char) % 64)
    return mask


def _term_docs(reader: Any, field: str, text: Any, *, deleted: bool = True) -> Iterable[int]:
    """The document numbers of a term in one segment (without deleted ones unless ``deleted``)."""
    try:
        matcher = reader.postings(field, text)
    except TermNotFound:
        return ()
    if isinstance(matcher, FilterMatcher):
        matcher = matcher.child
    docs = _POSTINGS.get(reader.segment().segment_id(), matcher).docs
    if deleted and reader.has_deletions():
        return docs - reader.deleted_docs_set
    return docs


def _segment_docs(searcher: Any, query: Query) -> set[int] | frozenset[int]:
    """The documents of one segment matching ``query``: sets of postings joined by set operations."""
    reader = searcher.reader()
    if isinstance(query, Term):
        return frozenset(_term_docs(reader, query.fieldname, query.text))
    if isinstance(query, And):
        result: set[int] | frozenset[int] | None = None
        for part in sorted(query.subqueries, key=lambda q: not isinstance(q, Term)):
            docs = _segment_docs(searcher, part)
            result = docs if result is None else result & docs
            if not result:
                return set()
        return result or set()
    if isinstance(query, Or):
        union: set[int] = set()
        for part in query.subqueries:
            union |= _segment_docs(searcher, part)
        return union
    if isinstance(query, AndNot):
        positive = _segment_docs(searcher, query.a)
        return positive - _segment_docs(searcher, query.b) if positive else positive
    if isinstance(query, Prefix):
        union = set()
        for term in reader.expand_prefix(query.fieldname, query.text):
            union |= _term_docs(reader, query.fieldname, reader.schema[query.fieldname].from_bytes(term))  # type: ignore[operator]
        return union
    return set(query.docs(searcher))  # phrases and anything else: whoosh's own matcher


def _matching_docs(searcher: Any, query: Query) -> set[int]:
    found: set[int] = set()
    for subsearcher, offset in searcher.leaf_searchers():
        docs = _segment_docs(subsearcher, query)
        found |= {d + offset for d in docs} if offset else docs
    return found


# --- scores for every matching page, a whole postings list at a time ------------------------------------


class _Same:
    """Documents that all score ``value`` (terms of unscored fields: status, current version, filters)."""

    __slots__ = ("docs", "value")

    def __init__(self, docs: Any, value: float) -> None:
        self.docs = docs
        self.value = value

    def as_dict(self) -> dict[int, float]:
        return dict.fromkeys(self.docs, self.value)


_Scores = dict[int, float] | _Same
_LEAVES = (W3LeafMatcher, ListMatcher)
#: Whoosh's Or unions its terms with an ArrayUnionMatcher in segments up to this size when the search need
#: not track the current document (whoosh.query.compound.Or: dc > 5000), else with UnionMatchers.
_ARRAY_UNION_MAX_DOCS = 5000
#: A term with more postings than this, in a field whose scores are small, is scored only where needed.
DEFER_POSTINGS = 2_000


class _Unsupported(Exception):
    """A matcher the set-at-a-time evaluation does not know (phrases): whoosh scores it."""


def _page_scores(
    searcher: Any, table: _DocTable, query: Query, wanted: int
) -> tuple[dict[int, float], set[int], list[Any]]:
    """Scores whoosh's matchers would give, to the last bit, for the pages that can rank, and every match.

    Returns (scores, matching, trees): ``matching`` holds every document matching ``query``; ``scores`` the
    score of every matching document that can belong to the ``wanted`` best assets (all of them, unless
    some could be left out safely, see below); ``trees`` (searcher, offset, segment table, matcher tree or
    None) for each segment, for ``_shown_pages``.

    Whoosh scores one document at a time, walking its tree of matchers in Python: at 60,000 pages a frequent
    word costs a second. This builds the same matchers and evaluates each node for all its documents at
    once: a term's postings are read whole (and kept, see ``_PostingsCache``) and scored with the same BM25F
    arithmetic and parameters, unions and intersections add the scores in the order the matchers do.

    Work is bounded on frequent words: the pages matched only through long postings lists of weakly
    weighted terms (a frequent word in the body) are scored last, and not at all when even their best
    possible score (whoosh's own per-term bound) cannot reach the ``wanted``-th best asset found without them.
    """
    context = searcher.context(needs_current=False)
    segments = []
    for subsearcher, offset in searcher.leaf_searchers():
        segment = _DocTable.segment_table(subsearcher.reader())
        segments.append((subsearcher, offset, segment, query.matcher(subsearcher, context)))
    scores: dict[int, float] = {}
    matching: set[int] = set()
    pending = []
    unsupported: set[int] = set()
    for subsearcher, offset, segment, matcher in segments:
        try:
            deferred = _deferred_leaves(matcher, subsearcher.reader())
            docs = _docs(matcher, segment)
            if deferred:
                kept = [m for m, _boost in _scored_leaves(matcher) if id(m) not in deferred]
                known = set().union(*(_POSTINGS.get(segment.segment_id, m).docs for m in kept))
                within = docs & known
                part = _evaluate(matcher, subsearcher, segment, deferred, within)
                bound = _bound(matcher, segment, deferred) * (1 + 1e-9)
                pending.append((subsearcher, offset, segment, matcher, bound))
            else:
                part = _evaluate(matcher, subsearcher, segment)
        except _Unsupported:
            # A matcher this does not know: whoosh's own evaluation of the whole tree, document by document.
            unsupported.add(offset)
            matcher = query.matcher(subsearcher, context)
            part = {}
            while matcher.is_active():
                part[matcher.id()] = matcher.score()
                matcher.next()
            docs = set(part)
        if isinstance(part, _Same):
            part = part.as_dict()
        if offset:
            scores.update({d + offset: s for d, s in part.items()})
            matching |= {d + offset for d in docs}
        else:
            scores.update(part)
            matching |= docs
    trees = {offset: matcher for _sub, offset, _seg, matcher in segments}
    if pending:
        best = table.best_page_per_asset(scores)
        ranked = table.ranked_by_relevance(best)
        threshold = ranked[wanted - 1][0] if len(ranked) >= wanted else None
        for subsearcher, offset, segment, matcher, bound in pending:
            if threshold is None or bound >= threshold:
                matcher = query.matcher(subsearcher, context)
                trees[offset] = matcher
                part = _evaluate(matcher, subsearcher, segment)
                if isinstance(part, _Same):
                    part = part.as_dict()
                scores.update({d + offset: s for d, s in part.items()} if offset else part)
    return (
        scores,
        matching,
        [(sub, off, seg, None if off in unsupported else trees[off]) for sub, off, seg, _m in segments],
    )


def _shown_pages(
    searcher: Any,
    table: _DocTable,
    query: Query,
    trees: list[Any],
    scores: dict[int, float],
    matching: set[int],
    asset_ids: list[int],
) -> dict[int, list[PageHit]]:
    """The best pages of the assets shown, with snippets: what ``WhooshIndex._best_pages`` finds, from the
    scores already computed instead of a second search.

    ``_best_pages`` searches the query restricted to the shown assets, collapsing to PAGES_PER_ASSET pages an
    asset, and highlights the body with the body terms whoosh recorded at the pages it collected. The same
    walk is made here: the pages of each shown asset in document order, kept while among the asset's best
    (score, then lower document number), and a term recorded for a kept page when the page is in its
    postings (for a phrase, when the phrase matches the page's body).
    """
    if not asset_ids:
        return {}
    shown = set(asset_ids)
    candidates = [d for d in table.pages_of(asset_ids) if d in matching]
    # The scores _best_pages's search gives: the same as the ranking's, except in segments small enough that
    # whoosh unions many terms with an ArrayUnionMatcher when it need not track the current document; its
    # search does, so there each candidate page is scored again with the matchers it would use.
    page_scores: dict[int, float] = {}
    current = searcher.context(needs_current=True)
    for number, (subsearcher, offset, segment, tree) in enumerate(trees):
        end = offset + segment.doc_count
        local = {d - offset for d in candidates if offset <= d < end}
        if not local:
            continue
        if segment.doc_count > _ARRAY_UNION_MAX_DOCS:
            known = {d for d in local if d + offset in scores}
            page_scores.update({d + offset: scores[d + offset] for d in known})
            local -= known
            if not local:
                continue
        else:
            tree = query.matcher(subsearcher, current)
            trees[number] = (subsearcher, offset, segment, tree)
        leaves = {id(m) for m, _boost in _scored_leaves(tree)}
        part = _evaluate(tree, subsearcher, segment, leaves, local)
        part = part.as_dict() if isinstance(part, _Same) else part
        page_scores.update({d + offset: s for d, s in part.items() if d in local})
    scores = page_scores
    # whoosh's collapse: documents in order; an asset keeps its PAGES_PER_ASSET best (-score, docnum)
    kept: dict[int, list[tuple[float, int]]] = {}
    collected: list[int] = []
    for docnum in sorted(candidates):
        key = (-scores[docnum], docnum)
        best = kept.setdefault(table.assets[docnum], [])
        if len(best) < PAGES_PER_ASSET:
            insort(best, key)
        elif key[0] < best[-1][0]:
            best.pop()
            insort(best, key)
        else:
            continue
        collected.append(docnum)
    words = _body_terms(trees, collected)
    results = sorted(key for asset, best in kept.items() if asset in shown for key in best)
    highlighter = _Highlighter(
        fragmenter=highlight.ContextFragmenter(maxchars=220, surround=70),
        formatter=highlight.HtmlFormatter(tagname="mark", between=" … "),
    )
    found: dict[int, list[PageHit]] = {}
    for _key, docnum in results:
        fields = searcher.stored_fields(docnum)
        snippet = highlighter.snippet(fields["body"], words, top=2) or _escape(fields["body"][:200])
        found.setdefault(int(fields["asset"]), []).append(
            PageHit(
                page=fields["page"],
                title=fields["page_title"],
                snippet=snippet,
                version=fields["version"],
                current=fields["current"],
            )
        )
    return found


def _body_terms(trees: list[Any], docnums: list[int]) -> frozenset[str]:
    """The body terms of the query found in any of ``docnums`` (a phrase's words where the phrase is)."""
    words: set[str] = set()
    for _subsearcher, offset, segment, tree in trees:
        end = offset + segment.doc_count
        local = {d - offset for d in docnums if offset <= d < end}
        if not local:
            continue
        from_bytes = _subsearcher.schema["body"].from_bytes
        for node in _text_nodes(tree):
            if isinstance(node, _LEAVES):
                field, text = node.term()
                if field == "body" and not local.isdisjoint(_POSTINGS.get(segment.segment_id, node).docs):
                    words.add(from_bytes(text))
            elif node.phrase is not None and node.phrase.fieldname == "body":
                if not local.isdisjoint(node.scores()):
                    words.update(node.phrase.words)
    return frozenset(words)


def _text_nodes(matcher: Any) -> Iterator[Any]:
    """The leaves and phrases of a tree, but not what an AndNot leaves out."""
    kind = type(matcher)
    if isinstance(matcher, _LEAVES) or kind is _Phrase.Matcher:
        yield matcher
    elif kind in (UnionMatcher, IntersectionMatcher):
        yield from _text_nodes(matcher.a)
        yield from _text_nodes(matcher.b)
    elif kind is AndNotMatcher:
        yield from _text_nodes(matcher.a)
    elif kind is ArrayUnionMatcher:
        for sub in matcher._submatchers:
            yield from _text_nodes(sub)
    elif kind is WrappingMatcher or kind is FilterMatcher:
        yield from _text_nodes(matcher.child)


def _scorer(matcher: Any) -> Any:
    return matcher.scorer if isinstance(matcher, W3LeafMatcher) else matcher._scorer


def _scored_leaves(matcher: Any, boost: float = 1.0) -> Iterator[tuple[Any, float]]:
    """The BM25F leaves of a tree, each with the product of the boosts above it."""
    kind = type(matcher)
    if isinstance(matcher, _LEAVES):
        if type(_scorer(matcher)) is BM25FScorer:
            yield matcher, boost
    elif kind in (UnionMatcher, IntersectionMatcher):
        yield from _scored_leaves(matcher.a, boost)
        yield from _scored_leaves(matcher.b, boost)
    elif kind is AndNotMatcher:
        yield from _scored_leaves(matcher.a, boost)
    elif kind is ArrayUnionMatcher:
        for sub in matcher._submatchers:
            yield from _scored_leaves(sub, boost * matcher._boost)
    elif kind is WrappingMatcher or kind is FilterMatcher:
        yield from _scored_leaves(matcher.child, boost * matcher.boost)


def _deferred_leaves(matcher: Any, reader: Any) -> set[int]:
    """Long postings lists of terms that weigh little next to the others (a frequent word in the body)."""
    leaves = [(m, _scorer(m).max_quality() * boost) for m, boost in _scored_leaves(matcher)]
    if len(leaves) < 2:
        return set()
    top = max(bound for _m, bound in leaves)
    frequency = reader.doc_frequency
    return {id(m) for m, bound in leaves if bound * 4 <= top and frequency(*m.term()) > DEFER_POSTINGS}


def _docs(matcher: Any, segment: _SegmentTable) -> frozenset[int] | set[int]:
    """The documents the tree matches, by set operations on whole postings."""
    kind = type(matcher)
    if isinstance(matcher, _LEAVES):
        return _POSTINGS.get(segment.segment_id, matcher).docs
    if kind is WrappingMatcher:
        return _docs(matcher.child, segment)
    if kind is FilterMatcher and matcher._exclude:
        return _docs(matcher.child, segment) - matcher._ids
    if kind is UnionMatcher:
        return _docs(matcher.a, segment) | _docs(matcher.b, segment)
    if kind is IntersectionMatcher:
        return _docs(matcher.a, segment) & _docs(matcher.b, segment)
    if kind is AndNotMatcher:
        return _docs(matcher.a, segment) - _docs(matcher.b, segment)
    if kind is ArrayUnionMatcher:
        return set().union(*(_docs(sub, segment) for sub in matcher._submatchers))
    if kind is NullMatcherClass:
        return frozenset()
    if kind is _Phrase.Matcher:
        return frozenset(matcher.scores())
    raise _Unsupported(kind.__name__)


def _bound(matcher: Any, segment: _SegmentTable, deferred: set[int]) -> float:
    """The highest score a document matched by no scored term but the deferred ones can have."""
    kind = type(matcher)
    if isinstance(matcher, _LEAVES):
        scorer = _scorer(matcher)
        if isinstance(scorer, WeightScorer):
            return max(_POSTINGS.get(segment.segment_id, matcher).weights, default=0.0)
        return scorer.max_quality() if id(matcher) in deferred else 0.0
    if kind is WrappingMatcher or kind is FilterMatcher:
        return _bound(matcher.child, segment, deferred) * matcher.boost
    if kind in (UnionMatcher, IntersectionMatcher):
        return _bound(matcher.a, segment, deferred) + _bound(matcher.b, segment, deferred)
    if kind is AndNotMatcher:
        return _bound(matcher.a, segment, deferred)
    if kind is ArrayUnionMatcher:
        return sum(_bound(sub, segment, deferred) for sub in matcher._submatchers) * matcher._boost
    if kind is NullMatcherClass:
        return 0.0
    return math.inf  # a phrase: no bound known here, so nothing is left out


def _evaluate(
    matcher: Any,
    searcher: Any,
    segment: _SegmentTable,
    deferred: set[int] | None = None,
    within: set[int] | None = None,
) -> _Scores:
    """The scores of the documents a matcher tree matches; deferred leaves only for documents ``within``."""
    kind = type(matcher)
    if isinstance(matcher, _LEAVES):
        return _leaf_scores(matcher, searcher, segment, within if deferred and id(matcher) in deferred else None)
    if kind is NullMatcherClass:
        return {}
    # Positions do not matter here (leaves are read whole, from their first posting): a node whoosh found
    # empty when it was built evaluates to nothing all the same.
    if kind is WrappingMatcher or (kind is FilterMatcher and matcher._exclude):
        scores = _evaluate(matcher.child, searcher, segment, deferred, within)
        boost = matcher.boost
        if kind is FilterMatcher:
            deleted = matcher._ids
            if isinstance(scores, _Same):
                scores = _Same(scores.docs - deleted, scores.value)
            else:
                scores = {d: s for d, s in scores.items() if d not in deleted}
        if isinstance(scores, _Same):
            return _Same(scores.docs, scores.value * boost)
        return {d: s * boost for d, s in scores.items()}
    if kind is UnionMatcher:
        return _union(
            _evaluate(matcher.a, searcher, segment, deferred, within),
            _evaluate(matcher.b, searcher, segment, deferred, within),
        )
    if kind is IntersectionMatcher:
        return _intersection(
            _evaluate(matcher.a, searcher, segment, deferred, within),
            _evaluate(matcher.b, searcher, segment, deferred, within),
        )
    if kind is ArrayUnionMatcher:  # whoosh's union of many terms in small segments: 0 + s1 × boost + ...
        if not matcher._scored:  # (unscored: every document scores 1)
            return _Same(frozenset(_docs(matcher, segment)), 1.0)
        boost = matcher._boost
        total: dict[int, float] = {}
        for sub in matcher._submatchers:
            part = _evaluate(sub, searcher, segment, deferred, within)
            for d, s in (part.as_dict() if isinstance(part, _Same) else part).items():
                total[d] = total.get(d, 0.0) + s * boost
        return {d: s for d, s in total.items() if s > 0}
    if kind is AndNotMatcher:
        scores = _evaluate(matcher.a, searcher, segment, deferred, within)
        excluded = _evaluate(matcher.b, searcher, segment)  # never partial: it removes
        gone = excluded.docs if isinstance(excluded, _Same) else excluded.keys()
        if isinstance(scores, _Same):
            return _Same(scores.docs - set(gone), scores.value)
        return {d: s for d, s in scores.items() if d not in gone}
    if kind is _Phrase.Matcher:
        return dict(matcher.scores())
    raise _Unsupported(kind.__name__)


def _leaf_scores(matcher: Any, searcher: Any, segment: _SegmentTable, within: set[int] | None) -> _Scores:
    scorer = _scorer(matcher)
    if isinstance(scorer, WeightScorer):  # unscored fields: the score is the weight
        return segment.unscored(matcher)
    if type(scorer) is not BM25FScorer:
        raise _Unsupported(type(scorer).__name__)
    postings = _POSTINGS.get(segment.segment_id, matcher)
    pairs: Iterable[tuple[int, float]] = zip(postings.ids, postings.weights, strict=True)
    if within is not None:
        if len(within) * 8 < len(postings.ids):
            ids, weights = postings.ids, postings.weights
            picked = []
            for d in within:
                at = bisect_left(ids, d)
                if at < len(ids) and ids[at] == d:
                    picked.append((d, weights[at]))
            pairs = picked
        else:
            pairs = [(d, w) for d, w in pairs if d in within]
    lengths = segment.lengths(searcher, matcher.term()[0])
    idf, avgfl, b, k1 = scorer.idf, scorer.avgfl, scorer.B, scorer.K1
    # whoosh.scoring.bm25, operation for operation.
    return {d: idf * ((tf * (k1 + 1)) / (tf + k1 * ((1 - b) + b * lengths[d] / avgfl))) for d, tf in pairs}


def _union(a: _Scores, b: _Scores) -> _Scores:
    """UnionMatcher: a document in both scores a + b (in that order), in one alone its own score."""
    if isinstance(a, _Same) and isinstance(b, _Same) and a.value == b.value and a.docs.isdisjoint(b.docs):
        return _Same(a.docs | b.docs, a.value)
    if isinstance(a, _Same):
        a = a.as_dict()
    if isinstance(b, _Same):
        b = b.as_dict()
    if len(a) >= len(b):
        for d, s in b.items():
            known = a.get(d)
            a[d] = s if known is None else known + s
        return a
    for d, s in a.items():
        known = b.get(d)
        b[d] = s if known is None else s + known
    return b


def _intersection(a: _Scores, b: _Scores) -> _Scores:
    """IntersectionMatcher: documents in both, scoring a + b (in that order)."""
    if isinstance(a, _Same) and isinstance(b, _Same):
        return _Same(a.docs & b.docs, a.value + b.value)
    if isinstance(b, _Same):
        docs, value = b.docs, b.value
        return {d: s + value for d, s in a.items() if d in docs}  # type: ignore[union-attr]
    if isinstance(a, _Same):
        docs, value = a.docs, a.value
        return {d: value + s for d, s in b.items() if d in docs}
    if len(a) <= len(b):
        return {d: s + b[d] for d, s in a.items() if d in b}
    return {d: a[d] + s for d, s in b.items() if d in a}


# --- the analyzer, once per word ------------------------------------------------------------------------

_TOKEN_RE = re.compile(TOKEN_PATTERN)
_PER_TOKEN_FILTERS = (LowercaseFilter, YoFilter, CodeFilter, MixedStopFilter, MixedStemFilter)
_CHAIN = mixed_analyzer()


def _analyzes_per_token(analyzer: Any) -> bool:
    """Whether ``analyzer`` is kb's chain: the word pattern, then filters that each look at one token alone."""
    items = getattr(analyzer, "items", None)
    if not items or not isinstance(items[0], RegexTokenizer) or items[0].gaps:
        return False
    return items[0].expression.pattern == TOKEN_PATTERN and all(type(f) in _PER_TOKEN_FILTERS for f in items[1:])


@lru_cache(maxsize=200_000)
def _word_terms(word: str, mode: str, removestops: bool) -> tuple[tuple[str, bool], ...]:
    """(term, stopped) for each token kb's chain makes of one word, as it meets the word inside a text."""
    return tuple(
        (t.text, t.stopped) for t in CompositeAnalyzer.__call__(_CHAIN, word, mode=mode, removestops=removestops)
    )


class MixedAnalyzer(CompositeAnalyzer):
    """kb's mixed Russian/English analyzer (``kb.search.analysis.mixed_analyzer``), run once per distinct word.

    Every filter of the chain looks at one token alone, so what a word becomes never depends on the words
    around it: a text's tokens are its words' tokens in order, and each word's are computed once per process
    and kept. Same tokens, positions and offsets as the chain gives; indexing and re-tokenizing pages for
    snippets go several times faster. Calls the shortcut does not cover go through the chain itself. Indexes
    pickle their schema with this class, so it must stay importable under this name.
    """

    def __init__(self) -> None:
        super().__init__(*mixed_analyzer().items)

    def __call__(  # type: ignore[no-untyped-def]  # whoosh's analyzer signature
        self,
        value,
        no_morph=False,
        positions=False,
        chars=False,
        keeporiginal=False,
        removestops=True,
        start_pos=0,
        start_char=0,
        tokenize=True,
        mode="",
        boosts=False,  # whoosh's Positions format asks for boosts; every token's boost is 1.0 either way
        **kwargs,
    ):
        if keeporiginal or not tokenize or kwargs or not isinstance(value, str) or not _analyzes_per_token(self):
            return super().__call__(
                value,
                no_morph=no_morph,
                positions=positions,
                chars=chars,
                keeporiginal=keeporiginal,
                removestops=removestops,
                start_pos=start_pos,
                start_char=start_char,
                tokenize=tokenize,
                mode=mode,
                boosts=boosts,
                **kwargs,
            )
        return _tokens(value, positions, chars, removestops, start_pos, start_char, mode)


def _tokens(
    value: str, positions: bool, chars: bool, removestops: bool, start_pos: int, start_char: int, mode: str
) -> Iterator[Token]:
    # Like whoosh's tokenizer, one Token object is reused for every token.
    token = Token(positions, chars, removestops=removestops, mode=mode)
    for pos, match in enumerate(_TOKEN_RE.finditer(value)):
        for text, stopped in _word_terms(match.group(), mode, removestops):
            token.text = text
            token.boost = 1.0
            token.stopped = stopped
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + match.start()
                token.endchar = start_char + match.end()
            yield token


# --- snippets --------------------------------------------------------------------------------------------


class _Highlighter(highlight.Highlighter):
    """Whoosh's highlighter, re-tokenizing pages with kb's analyzer once per word (see ``MixedAnalyzer``).

    The same snippets as whoosh's own, whichever of kb's analyzers the index was built with.
    """

    def snippet(self, text: str, words: frozenset[str], top: int) -> str:
        """``highlight_hit`` for a text and the terms to mark, with this highlighter's fragmenter and formatter."""
        fragments = highlight.top_fragments(
            _context_fragments(text, words, self.fragmenter), top, self.scorer, self.order, minscore=1
        )
        return self.formatter.format(fragments)

    def highlight_hit(  # type: ignore[no-untyped-def]
        self, hitobj, fieldname, text=None, top=3, minscore=1, strict_phrase=False
    ):
        results = hitobj.results
        field = results.searcher.schema[fieldname]
        if strict_phrase or not _analyzes_per_token(field.analyzer) or self.can_load_chars(results, fieldname):
            return super().highlight_hit(hitobj, fieldname, text, top, minscore, strict_phrase)
        if text is None:
            if fieldname not in hitobj:
                raise KeyError(f"Field {fieldname!r} is not stored.")
            text = hitobj[fieldname]
        if results.has_matched_terms():
            bterms = (term for term in results.matched_terms() if term[0] == fieldname)
        else:
            bterms = results.query_terms(expand=True, fieldname=fieldname)
        words = frozenset(field.from_bytes(term[1]) for term in bterms)
        if type(self.fragmenter) is highlight.ContextFragmenter:
            fragments = _context_fragments(text, words, self.fragmenter)
        else:
            retokenized = _tokens(text, True, True, False, 0, 0, "index")
            tokens = self._merge_matched_tokens(highlight.set_matched_filter(retokenized, words))
            fragments = self.fragmenter.fragment_tokens(text, tokens)
        fragments = highlight.top_fragments(fragments, top, self.scorer, self.order, minscore=minscore)
        return self.formatter.format(fragments)


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def _field_terms(text: str) -> list[str]:
    return analyze(text, mode="query")


def _word_query(word: str) -> Query:
    terms = _field_terms(word)
    if not terms:
        return NullQuery
    per_term = [Or([Term(field, term, boost=boost) for field, boost in TEXT_FIELDS.items()]) for term in terms]
    return per_term[0] if len(per_term) == 1 else And(per_term)


class _Phrase(Phrase):
    """A whoosh Phrase whose matcher can be built again from the start (see ``_evaluate``); the same matches
    and scores as Phrase's own, the wrapper multiplying by 1."""

    class Matcher(WrappingMatcher):
        def __init__(self, child: Any, rebuild: Any = None, boost: float = 1.0) -> None:
            super().__init__(child, boost)
            self.rebuild = rebuild
            self.phrase: Phrase | None = None
            self._scores: dict[int, float] | None = None

        def scores(self) -> dict[int, float]:
            """Every match with its score: whoosh's own phrase matcher, one document at a time, built afresh so
            it starts at the first document as the leaves in ``_evaluate`` do."""
            if self._scores is None:
                fresh = self.rebuild()
                self._scores = {}
                while fresh.is_active():
                    self._scores[fresh.id()] = fresh.score()
                    fresh.next()
            return self._scores

        def _replacement(self, newchild: Any) -> Any:
            return self._like(newchild)

        def copy(self) -> Any:
            return self._like(self.child.copy())

        def _like(self, child: Any) -> Any:
            twin = self.__class__(child, self.rebuild, self.boost)
            twin.phrase = self.phrase
            return twin

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        return _Phrase.Matcher(Phrase.matcher(self, searcher, context), lambda: Phrase.matcher(self, searcher, context))


def _phrase_query(phrase: str) -> Query:
    terms = _field_terms(phrase)
    if not terms:
        return NullQuery
    if len(terms) == 1:
        return _word_query(phrase)
    return Or([_Phrase(field, terms, boost=boost) for field, boost in TEXT_FIELDS.items()])


def _text_query(parsed: ParsedQuery) -> Query:
    parts = [q for q in (_word_query(w) for w in parsed.words) if q is not NullQuery]
    parts += [q for q in (_phrase_query(p) for p in parsed.phrases) if q is not NullQuery]
    parts += [Or([Prefix(field, prefix) for field in TEXT_FIELDS]) for prefix in parsed.prefixes]
    if not parts:
        return NullQuery
    return parts[0] if len(parts) == 1 else And(parts)


def _excluded_assets(searcher: Any, table: _DocTable, parsed: ParsedQuery, scope: Query) -> Query | None:
    """Assets any page of which has an excluded word or phrase: ``-word`` leaves out whole assets."""
    excluded = [q for q in (_phrase_query(text) for text in parsed.excluded) if q is not NullQuery]
    if not excluded:
        return None
    ids = sorted({table.assets[d] for d in _matching_docs(searcher, And([Or(excluded), scope]))})
    return Or([Term("asset", str(asset)) for asset in ids]) if ids else None


def _scope(request: SearchRequest, filters: dict[str, str]) -> Query:
    clauses: list[Query] = [Or([Term("status", s) for s in request.statuses])]
    if not request.include_older:
        clauses.append(Term("current", True))
    for name, value in filters.items():
        if name in FACET_FIELDS and value:
            clauses.append(Term(FACET_FIELDS[name], value))
    return And(clauses) if clauses else Every()


def _matched_token(text: str, pos: int, start: int, end: int) -> Token:
    token = Token(positions=True, chars=True, removestops=False, mode="index")
    token.text, token.pos, token.startchar, token.endchar = text, pos, start, end
    token.boost, token.stopped, token.matched = 1.0, False, True
    return token


def _context_fragments(text: str, words: frozenset[str], fragmenter: Any) -> list[Any]:
    """``ContextFragmenter.fragment_tokens`` over kb's tokens of ``text``, matched against ``words`` and merged
    as ``Highlighter._merge_matched_tokens`` merges them: the same fragments, in one loop instead of four
    generators a token."""
    # The token stream after matching and merging: (start, end) for an unmatched token, a Token if matched.
    stream: list[Any] = []
    pending: Token | None = None
    for pos, match in enumerate(_TOKEN_RE.finditer(text)):
        start, end = match.span()
        for term, _stopped in _word_terms(match.group(), "index", False):
            if term not in words:
                if pending is not None:
                    stream.append(pending)
                    pending = None
                stream.append((start, end))
            elif pending is None:
                pending = _matched_token(term, pos, start, end)
            elif start <= pending.endchar:
                if end > pending.endchar:
                    pending.text += term[pending.endchar - end :]
                    pending.endchar = end
            else:
                stream.append(pending)
                pending = None
                stream.append(_matched_token(term, pos, start, end))
    if pending is not None:
        stream.append(pending)

    maxchars, surround, charlimit = fragmenter.maxchars, fragmenter.surround, fragmenter.charlimit
    fragments = []
    first: int | None = None
    firsts: deque[int] = deque()
    countdown = -1
    tks: list[Token] = []
    endchar = None
    currentlen = 0
    for item in stream:
        matched = type(item) is not tuple
        if matched:
            startchar, endchar = item.startchar, item.endchar
        else:
            startchar, endchar = item
        tlength = endchar - startchar
        if charlimit and endchar > charlimit:
            break
        if countdown < 0 and not matched:
            firsts.append(startchar)
            while firsts and endchar - firsts[0] > surround:
                firsts.popleft()
        elif currentlen + tlength > maxchars:
            countdown = 0
        elif matched:
            countdown = surround
            if first is None:
                if firsts:
                    first = firsts[0]
                else:
                    first = startchar
                    countdown += surround
            tks.append(item.copy())
        if countdown >= 0:
            currentlen += tlength
            countdown -= tlength
            if countdown <= 0:
                fragments.append(highlight.mkfrag(text, tks, startchar=first, endchar=endchar))
                tks = []
                firsts = deque()
                first = None
                currentlen = 0
    if tks:
        fragments.append(highlight.mkfrag(text, tks, startchar=first, endchar=endchar))
    return fragments
