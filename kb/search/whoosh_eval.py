"""Evaluates a query plan on a Whoosh index, a whole postings list at a time, with numpy arrays.

For each segment, each concept of the plan gets a score for every page at once: its clauses (a term, a
phrase, a prefix) are read from the postings of each text field and scored with BM25 (whole-index document
frequencies, per-field lengths, field boosts), and the concept takes its best clause. A page matches when it
has every required concept and at least ``plan.min_match`` of them; its score is the sum of its concepts'
scores times ``ranking.coverage_factor``. Each asset is then represented by its best page.

Postings (and positions, for phrases) are decoded once per segment and term and kept, bounded in bytes
(``_PostingsCache``), long ones also on disk for every process (``kb.search.decoded``); per-segment tables
hold each page's asset, index facet values, update time and field lengths. This is the one module that reads
Whoosh's internals (``W3LeafMatcher`` blocks): whoosh-reloaded is pinned in pyproject.toml, and the tests run
it on an empty index, one segment, and many with deletions.
"""

from __future__ import annotations

import bisect
import sys
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from markupsafe import escape
from whoosh import highlight
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, W3PerDocReader, _lenfield
from whoosh.columns import NumericColumn
from whoosh.matching.wrappers import FilterMatcher
from whoosh.util.numeric import byte_to_length

from kb.search import decoded
from kb.search.backend import INDEX_FACETS, AssetHit, Candidates, PageHit, Scope
from kb.search.planner import Clause, Concept, QueryPlan
from kb.search.ranking import PAIR_WEIGHT, coverage_factor, pair_counts
from kb.search.snippets import Highlighter
from kb.search.whoosh_store import FACET_FIELDS, TEXT_FIELDS

#: Bytes of decoded postings kept in memory for the terms searched most recently (``KB_SEARCH_CACHE_MB`` sets
#: it; postings mapped from ``decoded`` files count in full: their pages stay resident while they are kept).
POSTINGS_CACHE_BYTES = 64 * 1024 * 1024
#: A prefix stands for at most this many of the terms it begins (the most frequent would be better; these
#: are the first in order, which is what whoosh's own Prefix query does too).
MAX_PREFIX_TERMS = 256
PAGES_PER_ASSET = 3
BM25_B, BM25_K1 = 0.75, 1.2


# --- decoded postings ------------------------------------------------------------------------------------


class _PostingsCache:
    """Decoded postings and positions of recently used terms, per segment, up to ``size`` bytes in all.

    Decoding is most of the cost of a query on a frequent word (a block is a zlib-compressed pickle, positions
    included); a segment never changes its postings, so what was decoded stays valid until the segment goes.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.held = 0
        self.entries: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...], decode: Callable[[], Any]) -> Any:
        with self.lock:
            found = self.entries.get(key)
            if found is not None:
                self.entries.move_to_end(key)
                return found
        value = decode()
        with self.lock:
            if key not in self.entries:
                self.entries[key] = value
                self.held += _cost(value)
                while self.held > self.size and self.entries:
                    _key, old = self.entries.popitem(last=False)
                    self.held -= _cost(old)
        return value

    def forget(self, live: set[str]) -> None:
        with self.lock:
            for key in [k for k in self.entries if k[0] not in live]:
                self.held -= _cost(self.entries.pop(key))

    def resize(self, size: int) -> None:
        if size == self.size:
            return
        with self.lock:
            self.size = size
            while self.held > self.size and self.entries:
                _key, old = self.entries.popitem(last=False)
                self.held -= _cost(old)


def _cost(value: Any) -> int:
    """Bytes a cached value holds in memory: arrays (mapped ones too), or a page's stored fields (its texts)."""
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(sys.getsizeof(v) for v in value.values())
    return decoded.cost(value)


_POSTINGS = _PostingsCache(POSTINGS_CACHE_BYTES)
#: The generation folder of each segment searched, where its ``decoded`` postings are kept.
_ROOTS: dict[str, Path] = {}


def set_cache_bytes(size: int) -> None:
    """Bounds the decoded postings this process keeps in its own memory (``KB_SEARCH_CACHE_MB``)."""
    _POSTINGS.resize(max(0, size))


def _leaf(reader: Any, field: str, term: str) -> Any | None:
    """The raw postings matcher of a term in one segment (deleted documents included), or None."""
    if (field, term) not in reader:
        return None
    matcher = reader.postings(field, term)
    return matcher.child if isinstance(matcher, FilterMatcher) else matcher


def postings(reader: Any, segment_id: str, field: str, term: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(document numbers, weights) of a term in a segment, deleted documents included; None when absent."""
    if (field, term) not in reader:
        return None
    return _POSTINGS.get((segment_id, field, term), lambda: _postings(reader, segment_id, field, term))


def positions(reader: Any, segment_id: str, field: str, term: str) -> np.ndarray | None:
    """Every position of a term in a segment as ascending keys ``document << 32 | position``."""
    if (field, term) not in reader:
        return None
    return _POSTINGS.get((segment_id, field, term, "positions"), lambda: _positions(reader, segment_id, field, term))


def _postings(reader: Any, segment_id: str, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
    """Postings from the segment's ``decoded`` files, or decoded from the index (and kept there when long)."""
    root = _ROOTS.get(segment_id)
    found = decoded.load_postings(root, segment_id, field, term) if root is not None else None
    if found is None:
        found = _decode(_leaf(reader, field, term))
        if root is not None:
            decoded.save_postings(root, segment_id, field, term, *found)
    return found


def _positions(reader: Any, segment_id: str, field: str, term: str) -> np.ndarray:
    root = _ROOTS.get(segment_id)
    found = decoded.load_positions(root, segment_id, field, term) if root is not None else None
    if found is None:
        found = _decode_positions(_leaf(reader, field, term))
        if root is not None:
            decoded.save_positions(root, segment_id, field, term, found)
    return found


def _decode(matcher: Any) -> tuple[np.ndarray, np.ndarray]:
    ids, weights = array("i"), array("f")
    matcher.reset()
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
    return (
        np.frombuffer(ids, dtype=np.int32).astype(np.intp),
        np.frombuffer(weights, dtype=np.float32).astype(np.float64),
    )


def _decode_positions(matcher: Any) -> np.ndarray:
    keys: list[int] = []
    matcher.reset()
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


# --- per-segment and per-searcher tables ------------------------------------------------------------------

#: Values of each index facet as small numbers, the same in every segment: value tuple <-> code.
_FACET_CODES: dict[str, dict[tuple[str, ...], int]] = {name: {(): 0} for name in INDEX_FACETS}
_FACET_VALUES: dict[str, list[tuple[str, ...]]] = {name: [()] for name in INDEX_FACETS}
_FACETS_LOCK = threading.Lock()


class _SegmentTable:
    """For one immutable segment: each page's asset, index facet values and update time; field lengths and
    the pages of status, version and facet terms on demand. Deleted pages keep their entries."""

    def __init__(self, reader: Any) -> None:
        count = reader.doc_count_all()
        self.doc_count: int = count
        self.segment_id: str = reader.segment().segment_id()
        self.assets = np.array([int(v) if v else -1 for v in reader.column_reader("asset")], dtype=np.int64)
        updated = reader.column_reader("updated", translate=False) if "updated" in reader.schema else None
        # whoosh's datetime column holds ticks of 0.1 µs since year 1; only the order matters here
        self.updated = np.array(list(updated) if updated is not None else [0] * count, dtype=np.float64)
        self.facets: dict[str, np.ndarray] = {}
        for name in INDEX_FACETS:
            field = FACET_FIELDS[name]
            values: list[tuple[str, ...]] = [()] * count
            if field in reader.schema:
                from_bytes = reader.schema[field].from_bytes
                for term in reader.lexicon(field):
                    value = from_bytes(term)
                    found = postings(reader, self.segment_id, field, value)
                    if value and found is not None:
                        for docnum in found[0].tolist():
                            values[docnum] = (*values[docnum], value)
            with _FACETS_LOCK:
                codes, known = _FACET_CODES[name], _FACET_VALUES[name]
                for value in set(values):
                    if value not in codes:
                        codes[value] = len(known)
                        known.append(value)
                self.facets[name] = np.array([codes[v] for v in values], dtype=np.intp)
        self._lengths: dict[str, np.ndarray] = {}

    def lengths(self, reader: Any, field: str) -> np.ndarray:
        """Each document's length in ``field`` (as BM25 wants it): read as one block of the segment's length
        column (a byte per document) where whoosh's codec allows it, else document by document."""
        if field not in self._lengths:
            fast = _column_lengths(reader, field, self.doc_count)
            if fast is None:
                length = reader.doc_field_length
                fast = np.array([length(d, field, 1) for d in range(self.doc_count)], dtype=np.float64)
            self._lengths[field] = fast
        return self._lengths[field]


#: A length byte's length (``whoosh.util.numeric.byte_to_length``); byte 0 is what ``doc_field_length`` answers
#: with None for (no length stored), which numpy makes NaN.
_BYTE_LENGTHS = np.array([np.nan] + [byte_to_length(b) for b in range(1, 256)], dtype=np.float64)


def _column_lengths(reader: Any, field: str, doc_count: int) -> np.ndarray | None:
    """``doc_field_length`` for every document at once, from the length column's bytes; None when the reader
    is not the codec this reads (the caller then asks document by document). A first search of a fresh process
    spent 1.6 s of its 1.7 s asking 60,000 documents one by one, per field."""
    perdoc = getattr(reader, "_perdoc", None)
    if not isinstance(perdoc, W3PerDocReader):
        return None
    column = perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN)
    if column is None:
        return np.ones(doc_count, dtype=np.float64)  # no document has the field: the default asked for, 1
    if not isinstance(column, NumericColumn.Reader) or column._fixedlen != 1:
        return None
    raw = np.zeros(doc_count, dtype=np.uint8)
    stored = min(column._count, doc_count)
    if stored:
        raw[:stored] = np.frombuffer(bytes(column._dbfile.get(column._basepos, stored)), dtype=np.uint8)
    return _BYTE_LENGTHS[raw]


class SearcherTable:
    """The segment tables of one searcher, joined by document number, and each page's asset as a small number."""

    _segments: dict[str, _SegmentTable] = {}
    _by_searcher: dict[int, tuple[Any, SearcherTable]] = {}
    _lock = threading.Lock()

    def __init__(self, searcher: Any) -> None:
        #: (leaf searcher, offset, table) of each segment with documents
        self.parts: list[tuple[Any, int, _SegmentTable]] = []
        storage = getattr(getattr(searcher, "_ix", None), "storage", None)
        folder = getattr(storage, "folder", None)
        for subsearcher, offset in searcher.leaf_searchers():
            reader = subsearcher.reader()
            if reader.doc_count_all() == 0 or not hasattr(reader, "segment"):
                continue  # an empty index has a reader without a segment
            key = reader.segment().segment_id()
            if folder is not None:
                _ROOTS[key] = Path(folder)
            table = SearcherTable._segments.get(key)
            if table is None:
                table = SearcherTable._segments[key] = _SegmentTable(reader)
            self.parts.append((subsearcher, offset, table))
        self.doc_count = searcher.doc_count_all()
        self.offsets = [offset for _s, offset, _t in self.parts]
        empty = np.zeros(0, dtype=np.int64)
        self.assets = np.concatenate([t.assets for *_r, t in self.parts]) if self.parts else empty
        self.updated = np.concatenate([t.updated for *_r, t in self.parts]) if self.parts else np.zeros(0)
        self.facets = {
            name: (np.concatenate([t.facets[name] for *_r, t in self.parts]) if self.parts else empty.astype(np.intp))
            for name in INDEX_FACETS
        }
        self.asset_keys, self.asset_index = np.unique(self.assets, return_inverse=True)
        self._pages: dict[int, np.ndarray] | None = None

    @classmethod
    def of(cls, searcher: Any) -> SearcherTable:
        with cls._lock:
            cached = cls._by_searcher.get(id(searcher))
            if cached is not None and cached[0] is searcher:
                return cached[1]
            table = cls(searcher)
            cls._by_searcher = {id(searcher): (searcher, table)}  # one searcher per index in use
            live = {t.segment_id for *_r, t in table.parts}
            cls._segments = {k: v for k, v in cls._segments.items() if k in live}
            for key in [k for k in _ROOTS if k not in live]:
                del _ROOTS[key]
            _POSTINGS.forget(live)
            return table

    def pages_of(self, asset_id: int) -> np.ndarray:
        if self._pages is None:
            order = np.argsort(self.assets, kind="stable")
            keys, starts = np.unique(self.assets[order], return_index=True)
            ends = np.append(starts[1:], order.size)
            self._pages = {int(k): order[s:e] for k, s, e in zip(keys, starts, ends, strict=True)}
        return self._pages.get(asset_id, np.zeros(0, dtype=np.intp))


# --- evaluation -----------------------------------------------------------------------------------------


@dataclass
class _Stats:
    """Whole-index figures BM25 needs: pages, average field lengths, document frequencies (computed once)."""

    searcher: Any

    def __post_init__(self) -> None:
        self.pages = max(self.searcher.doc_count_all(), 1)
        self.avg = {f: self.searcher.avg_field_length(f) or 1.0 for f in TEXT_FIELDS}
        self._idf: dict[tuple[str, str], float] = {}

    def idf(self, field: str, term: str) -> float:
        key = (field, term)
        if key not in self._idf:
            df = self.searcher.doc_frequency(field, term)
            self._idf[key] = float(np.log(self.pages / (df + 1)) + 1.0)
        return self._idf[key]

    def pair_counts(self, clause: Clause) -> bool:
        """Whether both words of a pair are rare enough in every text field for the pair to count."""
        return all(
            pair_counts(self.searcher.doc_frequency(f, t), self.pages) for t in clause.terms for f in TEXT_FIELDS
        )


def _bm25(idf: float, tf: np.ndarray, lengths: np.ndarray, avg: float) -> np.ndarray:
    return idf * (tf * (BM25_K1 + 1)) / (tf + BM25_K1 * ((1 - BM25_B) + BM25_B * lengths / avg))


@dataclass
class _Evaluation:
    mask: np.ndarray  # pages that match
    scores: np.ndarray  # their scores (0 elsewhere)
    matched: np.ndarray  # how many concepts each page has
    has: list[np.ndarray]  # per concept, the pages that have it
    allowed: np.ndarray  # pages in scope with every required concept (however many others they match)
    concept_scores: list[np.ndarray]  # per concept, its score on every page


class _Segment:
    """One segment's view for evaluating a plan: scores of clauses and concepts over all its pages."""

    def __init__(self, subsearcher: Any, table: _SegmentTable, stats: _Stats) -> None:
        self.reader = subsearcher.reader()
        self.table = table
        self.stats = stats
        self.n = table.doc_count

    def term_scores(self, field: str, term: str) -> np.ndarray | None:
        found = postings(self.reader, self.table.segment_id, field, term)
        if found is None:
            return None
        ids, tf = found
        scores = np.zeros(self.n)
        lengths = self.table.lengths(self.reader, field)[ids]
        scores[ids] = _bm25(self.stats.idf(field, term), tf, lengths, self.stats.avg[field]) * TEXT_FIELDS[field]
        return scores

    def phrase_scores(self, field: str, clause: Clause) -> np.ndarray | None:
        keys_of = [positions(self.reader, self.table.segment_id, field, term) for term in clause.terms]
        if any(k is None or not k.size for k in keys_of):
            return None
        found = keys_of[0]
        for keys, step in zip(keys_of[1:], np.diff(clause.offsets), strict=True):
            wanted = found + int(step)
            at = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)  # type: ignore[union-attr]
            found = wanted[keys[at] == wanted]  # type: ignore[index]
            if not found.size:
                return None
        docs = np.unique(found >> 32).astype(np.intp)
        total = np.zeros(self.n)
        for term in clause.terms:
            scores = self.term_scores(field, term)
            if scores is not None:
                total[docs] += scores[docs]
        return total

    def clause_scores(self, clause: Clause) -> np.ndarray | None:
        """The clause's score on every page (summed over the text fields), None where it matches nothing."""
        if clause.all_of:
            return self._all_of_scores(clause)
        total: np.ndarray | None = None
        for field in TEXT_FIELDS:
            if clause.prefix:
                scores = self._prefix_scores(field, clause.terms[0])
            elif clause.phrase:
                scores = self.phrase_scores(field, clause)
            else:
                scores = self.term_scores(field, clause.terms[0])
            if scores is not None:
                total = scores if total is None else total + scores
        return None if total is None else total * clause.weight

    def _all_of_scores(self, clause: Clause) -> np.ndarray | None:
        """Pages with every term of the clause, anywhere: the sum of the terms' scores."""
        total: np.ndarray | None = None
        mask: np.ndarray | None = None
        for term in clause.terms:
            found = [s for s in (self.term_scores(f, term) for f in TEXT_FIELDS) if s is not None]
            if not found:
                return None
            scores = np.sum(found, axis=0)
            total = scores if total is None else total + scores
            mask = scores > 0 if mask is None else mask & (scores > 0)
        if total is None or mask is None:
            return None
        return np.where(mask, total, 0.0) * clause.weight

    def _prefix_scores(self, field: str, prefix: str) -> np.ndarray | None:
        if field not in self.reader.schema:
            return None
        from_bytes = self.reader.schema[field].from_bytes
        best: np.ndarray | None = None
        for count, term in enumerate(self.reader.expand_prefix(field, prefix)):
            if count >= MAX_PREFIX_TERMS:
                break
            scores = self.term_scores(field, from_bytes(term))
            if scores is not None:
                best = scores if best is None else np.maximum(best, scores)
        return best

    def concept_scores(self, concept: Concept) -> np.ndarray:
        best = np.zeros(self.n)
        for clause in concept.clauses:
            scores = self.clause_scores(clause)
            if scores is not None:
                np.maximum(best, scores, out=best)
        return best

    def term_mask(self, field: str, term: str) -> np.ndarray:
        mask = np.zeros(self.n, dtype=bool)
        found = postings(self.reader, self.table.segment_id, field, term)
        if found is not None:
            mask[found[0]] = True
        return mask

    def scope_mask(self, scope: Scope) -> np.ndarray:
        mask = np.zeros(self.n, dtype=bool)
        for status in scope.statuses:
            mask |= self.term_mask("status", status)
        if not scope.include_older:
            mask &= self.term_mask("current", "t")
        for name, value in scope.filters.items():
            if name in FACET_FIELDS and value:
                mask &= self.term_mask(FACET_FIELDS[name], value)
        if scope.audiences is not None:
            allowed = np.zeros(self.n, dtype=bool)
            for key in scope.audiences:
                allowed |= self.term_mask("audience", key)
            if scope.owner_id is not None:
                allowed |= self.term_mask("owner", str(scope.owner_id))
            mask &= allowed
        if self.reader.has_deletions():
            deleted = np.fromiter(self.reader.deleted_docs_set, dtype=np.intp)
            mask[deleted] = False
        return mask

    def evaluate(self, plan: QueryPlan, scope: Scope) -> _Evaluation:
        """Which pages match, their scores, and which concepts each page has."""
        mask = self.scope_mask(scope)
        matched = np.zeros(self.n, dtype=np.int32)
        total = np.zeros(self.n)
        has: list[np.ndarray] = []
        per_concept: list[np.ndarray] = []
        for concept in plan.concepts:
            scores = self.concept_scores(concept)
            per_concept.append(scores)
            hit = scores > 0
            has.append(hit)
            if concept.required:
                mask &= hit
            matched += hit
            total += scores
        for pair in plan.pairs:
            if self.stats.pair_counts(pair):
                bonus = self.clause_scores(pair)
                if bonus is not None:
                    total += PAIR_WEIGHT * bonus
        allowed = mask.copy()
        mask &= matched >= plan.min_match
        share = matched / max(len(plan.concepts), 1)
        scored = np.where(mask, total * coverage_factor(share, plan.like_this), 0.0)
        return _Evaluation(mask, scored, matched, has, allowed, per_concept)

    def excluded_assets(self, plan: QueryPlan, scope: Scope) -> np.ndarray:
        if not plan.excluded:
            return np.zeros(0, dtype=np.int64)
        mask = self.scope_mask(scope)
        hit = np.zeros(self.n, dtype=bool)
        for concept in plan.excluded:
            hit |= self.concept_scores(concept) > 0
        return np.unique(self.table.assets[mask & hit])


def candidates(searcher: Any, plan: QueryPlan, scope: Scope) -> Candidates:
    """Every asset with a matching page: its best page, that page's score and share of concepts matched."""
    table = SearcherTable.of(searcher)
    if plan.empty or not table.parts:
        return Candidates.empty()
    stats = _Stats(searcher)
    evaluations: dict[int, _Evaluation] = {}
    masks, scores, matched, excluded = [], [], [], []
    for subsearcher, offset, segment_table in table.parts:
        segment = _Segment(subsearcher, segment_table, stats)
        evaluation = evaluations[offset] = segment.evaluate(plan, scope)
        masks.append(evaluation.mask)
        scores.append(evaluation.scores)
        matched.append(evaluation.matched)
        excluded.append(segment.excluded_assets(plan, scope))
    mask, score, count = np.concatenate(masks), np.concatenate(scores), np.concatenate(matched)
    out = np.concatenate(excluded)
    if out.size:
        mask &= ~np.isin(table.assets, out)
    if plan.like_this:
        return _documents_like_this(searcher, table, plan, evaluations, out)
    return _best_pages(searcher, table, evaluations, np.flatnonzero(mask), score, count / max(len(plan.concepts), 1))


def _best_pages(
    searcher: Any,
    table: SearcherTable,
    evaluations: dict[int, _Evaluation],
    docs: np.ndarray,
    page_score: np.ndarray,
    page_coverage: np.ndarray,
    asset_score: np.ndarray | None = None,
) -> Candidates:
    """Each asset of some pages, at its best page (the highest score, the lowest document number among
    equals); scored by that page, or by ``asset_score`` (indexed like ``table.asset_keys``) when given."""
    if not docs.size:
        return Candidates.empty()
    best = best_of_each(docs, table.asset_index[docs], page_score[docs])
    return Candidates(
        asset_ids=table.assets[best],
        scores=page_score[best] if asset_score is None else asset_score[table.asset_index[best]],
        coverage=page_coverage[best],
        updated=table.updated[best],
        refs=best.astype(np.int64),
        facet_codes={name: table.facets[name][best] for name in INDEX_FACETS},
        facet_values=_FACET_VALUES,
        # ``hits`` reads the documents of this searcher and these evaluations: the refs mean nothing in another
        source=(searcher, evaluations),
    )


def best_of_each(docs: np.ndarray, groups: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """For each group (an asset) of ``docs`` (ascending), its document of the highest score, the lowest among
    equals; ordered by group. One stable sort by group, not a three-key ``lexsort`` (a third of the time)."""
    order = np.argsort(groups, kind="stable")
    grouped, scored = groups[order], scores[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    tops = np.repeat(np.maximum.reduceat(scored, starts), np.diff(np.r_[starts, grouped.size]))
    at = np.flatnonzero(scored == tops)
    first = at[np.r_[True, grouped[at][1:] != grouped[at][:-1]]]
    return docs[order[first]]


def _documents_like_this(
    searcher: Any, table: SearcherTable, plan: QueryPlan, evaluations: dict[int, _Evaluation], out: np.ndarray
) -> Candidates:
    """A "like this" search matches documents, not pages: a pasted request's terms are spread over a whole
    specification. Each concept counts at the asset's best page for it; the asset needs ``min_match`` of them
    anywhere in it and is shown at the page that scores most."""
    parts = [evaluations[offset] for _s, offset, _t in table.parts]
    allowed = np.concatenate([e.allowed for e in parts])
    if out.size:
        allowed &= ~np.isin(table.assets, out)
    per_asset = np.zeros((table.asset_keys.size, len(plan.concepts)))
    page_total = np.zeros(table.assets.size)
    for number in range(len(plan.concepts)):
        scores = np.where(allowed, np.concatenate([e.concept_scores[number] for e in parts]), 0.0)
        np.maximum.at(per_asset[:, number], table.asset_index, scores)
        page_total += scores
    matched = np.count_nonzero(per_asset > 0, axis=1)
    share = matched / max(len(plan.concepts), 1)
    asset_score = per_asset.sum(axis=1) * coverage_factor(share, like_this=True)
    docs = np.flatnonzero((page_total > 0) & (matched >= plan.min_match)[table.asset_index])
    return _best_pages(searcher, table, evaluations, docs, page_total, share[table.asset_index], asset_score)


def hits(searcher: Any, plan: QueryPlan, scope: Scope, chosen: Candidates) -> list[AssetHit]:
    """The chosen assets as results: stored fields of the best page, up to three matching pages with
    snippets, and the concepts the best page lacks. Rating and freshness are filled in by the caller."""
    if not len(chosen):
        return []
    evaluations: dict[int, _Evaluation] = {}
    if chosen.source is not None:
        searcher, evaluations = chosen.source
    table = SearcherTable.of(searcher)
    stats = _Stats(searcher)
    wanted = {int(a) for a in chosen.asset_ids}
    docs = np.concatenate([table.pages_of(a) for a in wanted])
    per_segment: dict[int, tuple[Any, int, _SegmentTable]] = {}
    for part in table.parts:
        per_segment[part[1]] = part
    offsets = np.array(sorted(per_segment))
    # each candidate page's score and the concepts it matches, segment by segment
    page_score: dict[int, float] = {}
    page_concepts: dict[int, list[bool]] = {}
    page_body_terms: dict[int, set[str]] = {}
    for offset in offsets.tolist():
        subsearcher, _off, segment_table = per_segment[offset]
        local = docs[(docs >= offset) & (docs < offset + segment_table.doc_count)] - offset
        if not local.size:
            continue
        segment = _Segment(subsearcher, segment_table, stats)
        evaluation = evaluations.get(offset) or segment.evaluate(plan, scope)
        body = _body_terms(segment, plan, local)
        listed, scores = evaluation.mask, evaluation.scores
        if plan.like_this:  # any page with some of the text's words (the asset as a whole had enough)
            scores = np.sum(evaluation.concept_scores, axis=0) * evaluation.allowed
            listed = scores > 0
        for d in local.tolist():
            if listed[d]:
                page_score[d + offset] = float(scores[d])
                page_concepts[d + offset] = [bool(has[d]) for has in evaluation.has]
                page_body_terms[d + offset] = body.get(d, set())
    highlighter = Highlighter(
        fragmenter=highlight.ContextFragmenter(maxchars=220, surround=70),
        formatter=highlight.HtmlFormatter(tagname="mark", between=" … "),
    )
    results: list[AssetHit] = []
    for asset_id, score, ref in zip(
        chosen.asset_ids.tolist(), chosen.scores.tolist(), chosen.refs.tolist(), strict=True
    ):
        fields = _stored_fields(searcher, table, ref)
        pages = sorted(
            (d for d in table.pages_of(asset_id).tolist() if d in page_score), key=lambda d: (-page_score[d], d)
        )
        shown = []
        for docnum in pages[:PAGES_PER_ASSET]:
            stored = _stored_fields(searcher, table, docnum)
            words = frozenset(page_body_terms.get(docnum, set()))
            snippet = highlighter.snippet(stored["body"], words, top=2) if words else ""
            shown.append(
                PageHit(
                    page=stored["page"],
                    title=stored["page_title"],
                    snippet=snippet or str(escape(stored["body"][:200])),
                    version=stored["version"],
                    current=stored["current"],
                )
            )
        flags = page_concepts.get(ref, [True] * len(plan.concepts))
        # a "like this" search expects no document to have every word of the text
        missing = [] if plan.like_this else [c.label for c, hit in zip(plan.concepts, flags, strict=True) if not hit]
        results.append(
            AssetHit(
                asset_id=asset_id,
                status=fields["status"],
                title=fields["title"],
                kind=fields["kind"],
                product=fields["product"],
                version=fields["version"],
                owner_name=fields["owner_name"],
                updated=fields["updated"].date().isoformat(),
                rating=0.0,
                freshness="fresh",
                score=round(score, 4),
                pages=shown,
                missing=missing,
            )
        )
    return results


def _stored_fields(searcher: Any, table: SearcherTable, docnum: int) -> dict[str, Any]:
    """A page's stored fields, kept with the decoded postings: each is a compressed pickle of the whole page,
    its text included, and the best pages of frequent words are shown again and again."""
    at = bisect.bisect_right(table.offsets, docnum) - 1
    subsearcher, offset, segment = table.parts[at]
    local = docnum - offset
    return _POSTINGS.get((segment.segment_id, "stored", local), lambda: subsearcher.reader().stored_fields(local))


def _body_terms(segment: _Segment, plan: QueryPlan, local: np.ndarray) -> dict[int, set[str]]:
    """For each of some pages, the body terms of the plan it holds (a phrase's words where the phrase is)."""
    found: dict[int, set[str]] = {}
    wanted = set(local.tolist())
    local = np.sort(local)
    for concept in plan.concepts:
        for clause in concept.clauses:
            if clause.phrase:
                scores = segment.phrase_scores("body", clause)
                if scores is None:
                    continue
                for d in np.flatnonzero(scores).tolist():
                    if d in wanted:
                        found.setdefault(d, set()).update(clause.terms)
                continue
            terms: Iterable[str] = clause.terms
            if clause.prefix:
                schema = segment.reader.schema
                terms = [schema["body"].from_bytes(t) for t in segment.reader.expand_prefix("body", clause.terms[0])][
                    :MAX_PREFIX_TERMS
                ]
            for term in terms:
                got = postings(segment.reader, segment.table.segment_id, "body", term)
                if got is None:
                    continue
                for d in _held(got[0], local).tolist():
                    found.setdefault(d, set()).add(term)
    return found


def _held(ids: np.ndarray, local: np.ndarray) -> np.ndarray:
    """The pages of ``local`` (sorted) among a posting list's ``ids`` (sorted): a binary search for each of the
    few shown pages, not a sort of the whole list (``np.intersect1d`` took a third of a frequent word's search)."""
    if not ids.size:
        return local[:0]
    at = np.minimum(np.searchsorted(ids, local), ids.size - 1)
    return local[ids[at] == local]


def frequencies(searcher: Any, terms: Iterable[str]) -> dict[str, int]:
    """Pages holding each term in any text field (the largest field count)."""
    return {t: max(searcher.doc_frequency(f, t) for f in TEXT_FIELDS) for t in terms}


def a_title_word(searcher: Any) -> str | None:
    """A word of four letters or more that some title holds (for a search ahead of the first), or None."""
    if "title" not in searcher.schema:
        return None
    for term in searcher.reader().lexicon("title"):
        word = term.decode("utf-8", "replace")
        if len(word) >= 4 and word.isalpha():
            return word
    return None
