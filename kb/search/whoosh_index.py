"""The Whoosh implementation of the search backend: page-sized documents, one writer at a time, a reused searcher.

The index lives in generations under ``KB_INDEX_DIR`` (``gen-000001``, ...); the file ``CURRENT`` names the
one in use. A rebuild writes a new generation (one writer process per core, each its own segment) and switches
``CURRENT`` when it is complete, so searches keep working on the old one meanwhile. Every write (an asset's
pages, or a rebuild) holds an exclusive file lock, so only one process writes at a time whatever the number of
server and worker processes; an asset's pages are committed before small segments are merged, and merges
leave big segments alone, so a new version is searchable without waiting for a merge. Searchers are kept per
process and refreshed only when the index changed, checked at most once a second.

A search finds the same pages with the same scores as whoosh's own matchers (see ``_page_scores``), but
evaluates each node of the matcher tree for all documents of a segment at once, as numpy arrays, instead of
a document at a time; phrases are matched on cached positions the same way (``_phrase_matches``). Assets
are ranked, counted and their facets tallied from those arrays, without reading stored fields; stored fields
and snippets are read only for the results shown. Decoded postings and positions of recent terms and
per-segment tables (each page's asset and facet values, field lengths) are kept in memory, bounded.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import threading
import time
from array import array
from bisect import bisect_left, insort
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from markupsafe import escape
from whoosh import highlight, index, sorting
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.fields import BOOLEAN, DATETIME, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.matching.binary import AndNotMatcher, IntersectionMatcher, UnionMatcher
from whoosh.matching.combo import ArrayUnionMatcher
from whoosh.matching.mcore import ListMatcher, Matcher, NullMatcher, NullMatcherClass
from whoosh.matching.wrappers import FilterMatcher, WrappingMatcher
from whoosh.query import And, AndNot, Every, NullQuery, Or, Phrase, Prefix, Query, Term
from whoosh.reading import TermNotFound
from whoosh.scoring import BM25FScorer, WeightScorer
from whoosh.util import fib
from whoosh.writing import MERGE_SMALL

from kb.search.analysis import (
    # Indexes pickle their schema with the analyzer: existing ones name it kb.search.whoosh_index.MixedAnalyzer.
    MixedAnalyzer,
    analyze,
    mixed_analyzer,
    spelling_analyzer,
)
from kb.search.backend import AssetHit, PageHit, SearchRequest, SearchResults
from kb.search.documents import IndexPage
from kb.search.query import ParsedQuery, parse
from kb.search.snippets import Highlighter

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
    }


#: A word of the spelling vocabulary: letters only, three or more (as ``analysis.spelling_analyzer``).
_SPELLING_WORD = re.compile(r"[^\W\d_]{3,}")


def _documents(pages: list[IndexPage]) -> Iterator[dict[str, Any]]:
    """The index documents of some assets' pages; each published current version's words once, on its first page.

    "Did you mean" picks from the ``words`` field. Its words come from what sales may find (drafts and older
    versions stay out of suggestions), listed once per asset rather than per page: the vocabulary and its
    frequencies by asset are what suggestions need, and indexing every page's words again would cost nearly
    as much as the body itself.
    """
    texts: dict[int, list[str]] = {}
    for page in pages:
        if page.current and page.status == "published":
            texts.setdefault(page.version_id, [page.title]).extend((page.page_title, page.body))
    for page in pages:
        document = _document(page)
        text = texts.pop(page.version_id, None)
        if text is not None:
            document["words"] = sorted(set(_SPELLING_WORD.findall("\n".join(text).lower().replace("ё", "е"))))
        yield document


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
                for document in _documents(pages):
                    writer.add_document(**document)
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
                writer = ix.writer(procs=processes, multisegment=True, limitmb=256)
            else:
                writer = ix.writer(limitmb=256)
            try:
                try:
                    for batch in batches:
                        for document in _documents(batch):
                            writer.add_document(**document)
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
        vocabulary = _DocTable.of(searcher).vocabulary(searcher)
        parsed = parse(text)
        changed = False
        replacements: dict[str, str] = {}
        for word in parsed.words:
            key = word.lower().replace("ё", "е")
            if len(key) < 4 or not key.isalpha() or reader.frequency("words", key) > 0:
                continue
            found = vocabulary.suggest(key, maxdist=2 if len(key) > 6 else 1)
            if found:
                replacements[word] = found
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
            mask, scores, trees = _page_scores(searcher, query)
            best = table.best_pages(mask, scores)
            ranked = table.ranked_by_relevance(best, scores, start + request.per_page)
            total, facets = int(best.size), table.facets_of(best)
        else:
            trees = []
            first_pages = table.lowest_page_per_asset(_matching_docs(searcher, query))
            ranked = table.ranked_by_column(searcher, sortedby, first_pages, start + request.per_page)
            total, facets = len(first_pages), table.facets_of(first_pages.values())
        shown = [(score, searcher.stored_fields(docnum)) for score, docnum in ranked[start : start + request.per_page]]
        shown_assets = [int(f["asset"]) for _s, f in shown]
        if sortedby is None and all(tree is not None for *_rest, tree in trees):
            pages = _shown_pages(searcher, table, trees, mask, scores, shown_assets)
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
        return SearchResults(total=total, hits=hits, facets=facets)

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
        results.highlighter = Highlighter(
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
    """A term's postings in one segment, decoded once: document numbers (deleted ones included) and weights
    (as float64, the values Python reads from whoosh's float32 weights)."""

    __slots__ = ("ids", "weights", "_docs")

    def __init__(self, ids: np.ndarray, weights: np.ndarray) -> None:
        self.ids = ids
        self.weights = weights
        self._docs: frozenset[int] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.ids, self.weights

    @property
    def docs(self) -> frozenset[int]:
        if self._docs is None:
            self._docs = frozenset(self.ids.tolist())
        return self._docs


class _PostingsCache:
    """Decoded postings and positions of recently used terms, per segment, up to ``size`` entries in all.

    Decoding is most of the cost of a query on a frequent word (a block is a zlib-compressed pickle, positions
    included); a segment never changes its postings, so what was decoded stays valid until the segment goes.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.held = 0
        self.entries: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, segment_id: str, matcher: Any) -> _Postings:
        postings: _Postings = self._cached((segment_id, *matcher.term()), lambda: _decode(matcher))
        return postings

    def positions(self, segment_id: str, matcher: Any) -> np.ndarray:
        """Every position of a term in one segment as ascending keys ``document << 32 | position``."""
        keys: np.ndarray = self._cached((segment_id, "positions", *matcher.term()), lambda: _decode_positions(matcher))
        return keys

    def _cached(self, key: tuple[Any, ...], decode: Callable[[], Any]) -> Any:
        with self.lock:
            found = self.entries.get(key)
            if found is not None:
                self.entries.move_to_end(key)
                return found
        value = decode()
        with self.lock:
            if key not in self.entries:
                self.entries[key] = value
                self.held += len(value)
                while self.held > self.size and len(self.entries) > 1:
                    _key, old = self.entries.popitem(last=False)
                    self.held -= len(old)
        return value

    def forget(self, live: set[str]) -> None:
        with self.lock:
            for key in [k for k in self.entries if k[0] not in live]:
                self.held -= len(self.entries.pop(key))


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
    return _Postings(
        np.frombuffer(ids, dtype=np.int32).astype(np.intp),
        np.frombuffer(weights, dtype=np.float32).astype(np.float64),
    )


def _decode_positions(matcher: Any) -> np.ndarray:
    """Every posting's positions of a leaf matcher's term, from the start, as ``document << 32 | position``."""
    matcher = matcher if isinstance(matcher, W3LeafMatcher) else matcher.copy()
    matcher.reset()
    keys: list[int] = []
    if isinstance(matcher, W3LeafMatcher):
        decode = matcher.format.decode_positions
        while matcher.is_active():
            matcher._read_ids()
            matcher._read_values()
            for docnum, value in zip(matcher._ids, matcher._values, strict=True):
                base = docnum << 32
                keys.extend([base + position for position in decode(value)])
            matcher._next_block()
    else:
        while matcher.is_active():
            base = matcher.id() << 32
            keys.extend([base + position for position in matcher.value_as("positions")])
            matcher.next()
    return np.array(keys, dtype=np.int64)


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
        self._lengths: dict[str, np.ndarray] = {}
        self._unscored: dict[tuple[str, bytes], _Dense] = {}

    def unscored(self, matcher: Any) -> _Dense:
        """A term of an unscored field (status, current version, a filter): each document scores its weight.

        Kept per segment, deleted documents included (deletions are applied above this): the status and
        current-version terms hold nearly every document and are in every query. Never changed in place.
        """
        term = matcher.term()
        if term not in self._unscored:
            ids, weights = _POSTINGS.get(self.segment_id, matcher).arrays()
            mask = np.zeros(self.doc_count, dtype=bool)
            mask[ids] = True
            scores = np.zeros(self.doc_count)
            scores[ids] = weights
            self._unscored[term] = (mask, scores)
        return self._unscored[term]

    def lengths(self, searcher: Any, fieldname: str) -> np.ndarray:
        """Each document's length of a field, as BM25F reads it (``Searcher.doc_field_length(d, field, 1)``)."""
        if fieldname not in self._lengths:
            length = searcher.doc_field_length
            self._lengths[fieldname] = np.array(
                [length(d, fieldname, 1) for d in range(self.doc_count)], dtype=np.float64
            )
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
        # Each page's asset as a small number (0 .. asset_count - 1), for per-asset reductions.
        _ids, self.asset_index = np.unique(np.array(self.assets, dtype=np.int64), return_inverse=True)
        self.asset_count = int(_ids.size)
        self.stale_factor = np.array([STALE_FACTOR.get(f, 1.0) for f in self.freshness], dtype=np.float64)  # type: ignore[arg-type]
        self.facet_arrays = {name: np.array(codes, dtype=np.intp) for name, codes in self.facets.items()}

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

    def best_pages(self, mask: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """The best matching page of each asset: the highest score, the lowest document number among equals."""
        docs = np.flatnonzero(mask)
        if not docs.size:
            return docs
        assets, page_scores = self.asset_index[docs], scores[docs]
        top = np.full(self.asset_count, -np.inf)
        np.maximum.at(top, assets, page_scores)
        winners = page_scores == top[assets]
        docs, assets = docs[winners], assets[winners]
        _assets, first = np.unique(assets, return_index=True)  # docs ascend: the lowest winning page of each
        return docs[first]

    def ranked_by_relevance(self, best: np.ndarray, scores: np.ndarray, wanted: int) -> list[tuple[float, int]]:
        """(final score, best page) of the ``wanted`` best assets; overdue and flagged assets a little lower.

        The order of ranking all matching pages by score (ties by document number), keeping each asset's
        first, then sorting by score times the stale factor, equal results keeping that order.
        """
        if not best.size or wanted <= 0:
            return []
        score = scores[best]
        final = score * self.stale_factor[best]
        if best.size > 4 * wanted:  # only the candidates that can be among the wanted: a partial sort first
            cut = np.partition(final, best.size - wanted)[best.size - wanted]
            keep = final >= cut
            best, score, final = best[keep], score[keep], final[keep]
        order = np.lexsort((best, -score, -final))[:wanted]
        return [(float(f), int(d)) for f, d in zip(final[order], best[order], strict=True)]

    def facets_of(self, docnums: Iterable[int] | np.ndarray) -> dict[str, dict[str, int]]:
        """Counts of matching assets per facet value, from one page of each (facets are the same on every page)."""
        docs = docnums if isinstance(docnums, np.ndarray) else np.fromiter(docnums, dtype=np.intp)
        result: dict[str, dict[str, int]] = {}
        for name, codes in self.facet_arrays.items():
            counts: dict[str, int] = {}
            values = _FACET_VALUES[name]
            tally = np.bincount(codes[docs]) if docs.size else np.zeros(0, dtype=np.intp)
            for code in np.flatnonzero(tally):
                for value in values[code]:
                    counts[value] = counts.get(value, 0) + int(tally[code])
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


_CYRILLIC_LETTERS = "абвгдежзийклмнопрстуфхцчшщъыьэюя"
_LATIN_LETTERS = "abcdefghijklmnopqrstuvwxyz"


class _Vocabulary:
    """Close spellings from the ``words`` field of every segment, as ``whoosh.spelling.ReaderCorrector`` picks.

    Whoosh's corrector tries distance 1, then 2: at the first distance with any word, the most frequent wins
    (then the greatest). On an index of several segments it computes the edit distance to every word of the
    field. Here distance 1 looks up each word one edit away among each segment's words (listed once per process
    and segment); distance 2 walks each segment's terms that share the first letter with whoosh's Levenshtein
    automaton.
    """

    _words: dict[str, frozenset[str]] = {}  # segment id -> its words (segments never change)

    def __init__(self, searcher: Any, fieldname: str) -> None:
        self.reader = searcher.reader()
        self.fieldname = fieldname
        self.readers = [subsearcher.reader() for subsearcher, _offset in searcher.leaf_searchers()]
        live = {reader.segment().segment_id() for reader in self.readers}
        _Vocabulary._words = {k: v for k, v in _Vocabulary._words.items() if k in live}

    def _segment_words(self, reader: Any) -> frozenset[str]:
        key = reader.segment().segment_id()
        words = _Vocabulary._words.get(key)
        if words is None:
            from_bytes = reader.schema[self.fieldname].from_bytes
            words = _Vocabulary._words[key] = frozenset(map(from_bytes, reader.lexicon(self.fieldname)))
        return words

    def suggest(self, text: str, maxdist: int = 2) -> str | None:
        field = self.fieldname
        for distance in range(1, maxdist + 1):
            if distance == 1:
                edits = _one_edit(text)
                close = set().union(*(edits & self._segment_words(reader) for reader in self.readers))
            else:
                # the first letter kept: it is rarely the one mistyped, and the walk is many times shorter
                close = {w for r in self.readers for w in r.terms_within(field, text, distance, prefix=1)}
            close.discard(text)
            if close:
                frequency = self.reader.frequency
                return max(close, key=lambda w: (0 - (distance + (1.0 / (frequency(field, w) or 1) * 0.5)), w))
        return None


def _one_edit(word: str) -> set[str]:
    """Every word one deletion, transposition, replacement or insertion (of a letter of its script) away."""
    letters = _CYRILLIC_LETTERS if any("а" <= c <= "я" for c in word) else _LATIN_LETTERS
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    edits = {a + b[1:] for a, b in splits if b}
    edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    edits |= {a + c + b[1:] for a, b in splits if b for c in letters}
    edits |= {a + c + b for a, b in splits for c in letters}
    return edits


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


#: A segment's documents matching a node of a matcher tree, and their scores: (mask, scores), 0 where no match.
_Dense = tuple[np.ndarray, np.ndarray]
_LEAVES = (W3LeafMatcher, ListMatcher)


class _Unsupported(Exception):
    """A matcher the array evaluation does not know: whoosh scores it, a document at a time."""


def _page_scores(searcher: Any, query: Query) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """Which pages match ``query`` and the score whoosh's matchers give each, for every page of the index.

    Returns (mask, scores, trees): ``mask[d]`` whether document ``d`` matches, ``scores[d]`` its score (0 where
    it does not match); ``trees`` (searcher, offset, segment table, matcher tree or None) for each segment, for
    ``_shown_pages``.

    Whoosh scores one document at a time, walking its tree of matchers in Python: at 60,000 pages a frequent
    word costs a second. This builds the same matchers and evaluates each node for all the documents of a
    segment at once, as arrays (see ``_dense``): a term's postings are read whole (and kept, see
    ``_PostingsCache``) and scored with the same BM25F arithmetic and parameters; unions and intersections add
    the scores in the order the matchers do.
    """
    context = searcher.context(needs_current=False)
    masks, scores, trees = [], [], []
    for subsearcher, offset in searcher.leaf_searchers():
        segment = _DocTable.segment_table(subsearcher.reader())
        matcher = query.matcher(subsearcher, context)
        try:
            mask, score = _dense(matcher, subsearcher, segment)
        except _Unsupported:
            # A matcher this does not know: whoosh's own evaluation of the whole tree, document by document.
            matcher = query.matcher(subsearcher, context)
            mask, score = np.zeros(segment.doc_count, dtype=bool), np.zeros(segment.doc_count)
            while matcher.is_active():
                mask[matcher.id()] = True
                score[matcher.id()] = matcher.score()
                matcher.next()
            matcher = None
        masks.append(mask)
        scores.append(score)
        trees.append((subsearcher, offset, segment, matcher))
    if not masks:
        return np.zeros(0, dtype=bool), np.zeros(0), trees
    return np.concatenate(masks), np.concatenate(scores), trees


def _shown_pages(
    searcher: Any,
    table: _DocTable,
    trees: list[Any],
    mask: np.ndarray,
    all_scores: np.ndarray,
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
    candidates = [d for d in table.pages_of(asset_ids) if mask[d]]
    scores = {d: float(all_scores[d]) for d in candidates}
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
    highlighter = Highlighter(
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
            elif node.phrase.fieldname == "body" and not local.isdisjoint(node._ids):
                words.update(node.phrase.words)
    return frozenset(words)


def _text_nodes(matcher: Any) -> Iterator[Any]:
    """The leaves and phrases of a tree, but not what an AndNot leaves out."""
    kind = type(matcher)
    if isinstance(matcher, _LEAVES) or kind is _PhraseMatcher:
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


def _dense(matcher: Any, searcher: Any, segment: _SegmentTable) -> _Dense:
    """The documents a matcher tree matches in its segment and their scores, every node for all documents at once.

    Each node gives what whoosh's matcher of that kind gives for each document, computed with the same
    floating-point operations in the same order. Arrays returned by a node are never changed in place.
    """
    kind = type(matcher)
    if isinstance(matcher, _LEAVES):
        return _dense_leaf(matcher, searcher, segment)
    if kind is NullMatcherClass:
        return np.zeros(segment.doc_count, dtype=bool), np.zeros(segment.doc_count)
    # Positions do not matter here (leaves are read whole, from their first posting): a node whoosh found
    # empty when it was built evaluates to nothing all the same.
    if kind is WrappingMatcher or (kind is FilterMatcher and matcher._exclude):
        mask, scores = _dense(matcher.child, searcher, segment)
        if kind is FilterMatcher and matcher._ids:  # deleted documents
            mask = mask.copy()
            mask[np.fromiter(matcher._ids, dtype=np.intp, count=len(matcher._ids))] = False
            scores = np.where(mask, scores, 0.0)
        return mask, scores * matcher.boost
    if kind is UnionMatcher:  # a document in both scores a + b (in that order), in one alone its own score
        mask_a, a = _dense(matcher.a, searcher, segment)
        mask_b, b = _dense(matcher.b, searcher, segment)
        return mask_a | mask_b, a + b
    if kind is IntersectionMatcher:
        mask_a, a = _dense(matcher.a, searcher, segment)
        mask_b, b = _dense(matcher.b, searcher, segment)
        mask = mask_a & mask_b
        return mask, np.where(mask, a + b, 0.0)
    if kind is ArrayUnionMatcher:  # whoosh's union of many terms in small segments: 0 + s1 × boost + ...
        union = np.zeros(segment.doc_count, dtype=bool)
        total = np.zeros(segment.doc_count)
        for sub in matcher._submatchers:
            mask, scores = _dense(sub, searcher, segment)
            union |= mask
            total = total + scores * matcher._boost
        if not matcher._scored:  # unscored: every document scores 1
            return union, union * 1.0
        mask = union & (total > 0)
        return mask, np.where(mask, total, 0.0)
    if kind is AndNotMatcher:
        mask_a, a = _dense(matcher.a, searcher, segment)
        mask_b, _b = _dense(matcher.b, searcher, segment)
        mask = mask_a & ~mask_b
        return mask, np.where(mask, a, 0.0)
    if kind is _PhraseMatcher:
        mask, scores = np.zeros(segment.doc_count, dtype=bool), np.zeros(segment.doc_count)
        mask[matcher.docs] = True
        scores[matcher.docs] = matcher.scores
        return mask, scores
    raise _Unsupported(kind.__name__)


def _dense_leaf(matcher: Any, searcher: Any, segment: _SegmentTable) -> _Dense:
    scorer = _scorer(matcher)
    if isinstance(scorer, WeightScorer):  # unscored fields: the score is the weight
        return segment.unscored(matcher)
    if type(scorer) is not BM25FScorer:
        raise _Unsupported(type(scorer).__name__)
    ids, tf = _POSTINGS.get(segment.segment_id, matcher).arrays()
    mask, scores = np.zeros(segment.doc_count, dtype=bool), np.zeros(segment.doc_count)
    mask[ids] = True
    scores[ids] = _bm25(scorer, tf, segment.lengths(searcher, matcher.term()[0])[ids])
    return mask, scores


def _bm25(scorer: BM25FScorer, tf: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """whoosh.scoring.bm25 with a term's scorer, operation for operation, for many documents at once."""
    idf, avgfl, b, k1 = scorer.idf, scorer.avgfl, scorer.B, scorer.K1
    return idf * ((tf * (k1 + 1)) / (tf + k1 * ((1 - b) + b * lengths / avgfl)))


def _escape(text: str) -> str:
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
    """A phrase in one field: its words at the same distances as in the text the person typed.

    ``offsets`` are the words' positions in the phrase as typed, stop words counted: "total cost of ownership"
    is ``total`` +0, ``cost`` +1, ``ownership`` +3, as those words stand in an indexed page (the analyzer drops
    stop words but keeps the positions they held). Matches are found with arrays over cached positions
    (``_phrase_matches``), not a document at a time; a match scores as whoosh's phrase matcher scores it: the
    BM25F scores of its words, added as its tree of intersections adds them, times the boost.
    """

    def __init__(self, fieldname: str, words: list[str], offsets: list[int] | None = None, boost: float = 1.0):
        super().__init__(fieldname, words, slop=1, boost=boost)
        self.offsets = list(offsets) if offsets is not None else list(range(len(words)))

    def normalize(self) -> Query:
        return self

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other) and getattr(other, "offsets", None) == self.offsets

    def __hash__(self) -> int:
        return super().__hash__() ^ hash(tuple(self.offsets))

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        if self.fieldname not in searcher.schema:
            return NullMatcher()
        if searcher.is_atomic():
            docs, scores = _phrase_matches(searcher, self, context)
        else:
            parts = [(_phrase_matches(sub, self, context), offset) for sub, offset in searcher.leaf_searchers()]
            docs = np.concatenate([found + offset for (found, _s), offset in parts] or [np.zeros(0, np.intp)])
            scores = np.concatenate([s for (_d, s), _offset in parts] or [np.zeros(0)])
        return _PhraseMatcher(self, docs, scores)


class _PhraseMatcher(Matcher):
    """Whoosh's matcher protocol over the matches of a phrase found beforehand (document numbers ascending)."""

    def __init__(self, phrase: _Phrase, docs: np.ndarray, scores: np.ndarray, at: int = 0) -> None:
        self.phrase = phrase
        self.docs = docs
        self.scores = scores
        self._ids: list[int] = docs.tolist()
        self._at = at

    def is_active(self) -> bool:
        return self._at < len(self._ids)

    def id(self) -> int:
        return self._ids[self._at]

    def next(self) -> None:
        self._at += 1

    def skip_to(self, id: int) -> None:  # noqa: A002  # whoosh's name
        self._at = bisect_left(self._ids, id, self._at)

    def score(self) -> float:
        return float(self.scores[self._at])

    def weight(self) -> float:
        return self.score()

    def reset(self) -> None:
        self._at = 0

    def copy(self) -> _PhraseMatcher:
        return _PhraseMatcher(self.phrase, self.docs, self.scores, self._at)

    def all_ids(self) -> Iterator[int]:
        yield from self._ids[self._at :]

    def replace(self, minquality: float = 0) -> Any:
        return self if self.is_active() else NullMatcher()

    def supports(self, astype: str) -> bool:
        return False

    def supports_block_quality(self) -> bool:
        return False

    def max_quality(self) -> float:
        return float(self.scores.max()) if self.scores.size else 0.0

    def depth(self) -> int:
        return 0

    def term_matchers(self) -> Iterator[Any]:
        return iter(())

    def matching_terms(self, id: int | None = None) -> Iterator[tuple[str, bytes]]:  # noqa: A002
        """The phrase's words where it matches, so that whoosh's highlighting marks them."""
        if id is None and not self.is_active():
            return
        wanted = self.id() if id is None else id
        at = bisect_left(self._ids, wanted)
        if at < len(self._ids) and self._ids[at] == wanted:
            for word in self.phrase.words:
                yield self.phrase.fieldname, word.encode("utf-8")


def _phrase_matches(searcher: Any, phrase: _Phrase, context: Any) -> tuple[np.ndarray, np.ndarray]:
    """(documents, scores) of a phrase in one segment: the words at their offsets, deleted documents left out."""
    reader = searcher.reader()
    empty = np.zeros(0, dtype=np.intp), np.zeros(0)
    segment = _DocTable.segment_table(reader)
    leaves = []
    excluded: set[int] = set()
    for word in phrase.words:
        matcher = Term(phrase.fieldname, word).matcher(searcher, context)
        if isinstance(matcher, FilterMatcher) and matcher._exclude:
            excluded = matcher._ids
            matcher = matcher.child
        if not isinstance(matcher, _LEAVES):
            return empty  # a word found nowhere in this segment
        leaves.append(matcher)
    found = _POSTINGS.positions(segment.segment_id, leaves[0])
    for leaf, step in zip(leaves[1:], np.diff(phrase.offsets), strict=True):
        if not found.size:
            break
        keys = _POSTINGS.positions(segment.segment_id, leaf)
        wanted = found + int(step)
        at = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
        found = wanted[keys[at] == wanted] if keys.size else keys
    docs = np.unique(found >> 32).astype(np.intp)
    if excluded and docs.size:
        docs = docs[~np.isin(docs, np.fromiter(excluded, dtype=np.intp, count=len(excluded)))]
    if not docs.size:
        return empty
    lengths = segment.lengths(searcher, phrase.fieldname)[docs]
    parts = []
    for leaf in leaves:
        scorer = _scorer(leaf)
        if type(scorer) is not BM25FScorer:
            raise _Unsupported(type(scorer).__name__)
        ids, weights = _POSTINGS.get(segment.segment_id, leaf).arrays()
        parts.append(_bm25(scorer, weights[np.searchsorted(ids, docs)], lengths))
    scores = _tree_sum(parts)
    return docs, scores * phrase.boost if phrase.boost != 1.0 else scores


def _tree_sum(parts: list[np.ndarray]) -> np.ndarray:
    """Adds as whoosh's binary tree of intersection matchers adds its children's scores."""
    if len(parts) == 1:
        return parts[0]
    half = len(parts) // 2
    return _tree_sum(parts[:half]) + _tree_sum(parts[half:])


def _phrase_query(phrase: str) -> Query:
    tokens = [
        (t.text, t.pos)
        for t in mixed_analyzer()(phrase, positions=True, mode="query", removestops=False)
        if not t.stopped
    ]
    if not tokens:
        return NullQuery
    if len(tokens) == 1:
        return _word_query(phrase)
    words = [text for text, _pos in tokens]
    offsets = [pos - tokens[0][1] for _text, pos in tokens]
    return Or([_Phrase(field, words, offsets, boost=boost) for field, boost in TEXT_FIELDS.items()])


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
