"""The PostgreSQL search backend: the index in kb's own database (``postgres_store``), plans evaluated here.

A search reads, in one repeatable-read transaction, the postings of the plan's terms (a prefix's terms found
in the term index first) and, for phrases and pairs of words typed together, their positions; the pages the
process keeps as arrays (``PageTable``) give each page's asset, scope, facets and field lengths. Scores are
computed here with numpy by the same formulas as the other backends (BM25 per field with its boost, the best
clause of each concept, required concepts, ``min_match``, pairs, coverage, each asset at its best page), so
every backend ranks alike. Hits read the shown pages' stored text and cut snippets as the Whoosh backend does.
Nothing another server would need is kept in a process: the table of pages follows the database's generation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from markupsafe import escape
from sqlalchemy import Connection
from whoosh import highlight

from kb.db import create_db_engine
from kb.search.analysis import analyze
from kb.search.backend import INDEX_FACETS, AssetHit, Candidates, PageHit, Scope
from kb.search.documents import IndexPage
from kb.search.planner import Clause, Concept, QueryPlan
from kb.search.postgres_store import FIELDS, STATUSES, PageTable, PostgresStore
from kb.search.ranking import PAIR_WEIGHT, coverage_factor, pair_counts
from kb.search.snippets import Highlighter
from kb.search.speller import one_edit
from kb.search.whoosh_eval import best_of_each
from kb.search.whoosh_store import TEXT_FIELDS

#: A prefix stands for at most this many of the terms it begins (the first in order, as the Whoosh backend).
MAX_PREFIX_TERMS = 256
PAGES_PER_ASSET = 3
BM25_B, BM25_K1 = 0.75, 1.2
BOOSTS = np.array([TEXT_FIELDS[f] for f in FIELDS])
BODY = FIELDS.index("body")


def _bm25(idf: float, tf: np.ndarray, lengths: np.ndarray, avg: float) -> np.ndarray:
    return idf * (tf * (BM25_K1 + 1)) / (tf + BM25_K1 * ((1 - BM25_B) + BM25_B * lengths / avg))


@dataclass
class _Evaluation:
    mask: np.ndarray  # pages that match
    scores: np.ndarray  # their scores (0 elsewhere)
    matched: np.ndarray  # how many concepts each page has
    has: list[np.ndarray]  # per concept, the pages that have it
    allowed: np.ndarray  # pages in scope with every required concept
    concept_scores: list[np.ndarray]


@dataclass
class _Query:
    """One plan's postings and positions, read in one transaction, over the table of pages of that moment."""

    table: PageTable
    prefixes: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # term -> (rows, counts)
    df: dict[str, np.ndarray] = field(default_factory=dict)  # term -> pages holding it, per field
    keys: dict[str, np.ndarray] = field(default_factory=dict)  # term -> ascending row << 32 | field << 24 | pos
    evaluation: _Evaluation | None = None

    @classmethod
    def read(cls, store: PostgresStore, plan: QueryPlan) -> _Query:
        return store.read(lambda connection: cls._read(store, plan, connection))

    @classmethod
    def _read(cls, store: PostgresStore, plan: QueryPlan, connection: Connection) -> _Query:
        query = cls(store.table(connection))
        clauses = [c for concept in (*plan.concepts, *plan.excluded) for c in concept.clauses]
        terms: set[str] = set()
        for clause in clauses:
            if clause.prefix:
                expanded = store.expand_prefix(connection, clause.terms[0], MAX_PREFIX_TERMS)
                query.prefixes[clause.terms[0]] = expanded
                terms.update(expanded)
            else:
                terms.update(clause.terms)
        for pair in plan.pairs:
            terms.update(pair.terms)
        query._take_counts(store.postings(connection, terms))
        placed = {t for c in clauses if c.phrase for t in c.terms}
        placed.update(t for pair in plan.pairs if query.pair_counts(pair) for t in pair.terms)
        query._take_positions(connection, store, placed)
        return query

    def _take_counts(self, found: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        for term, (page_ids, counts) in found.items():
            self.df[term] = np.count_nonzero(counts, axis=0)
            rows, held = self.table.rows_of(page_ids)
            self.counts[term] = (rows, counts[held])

    def _take_positions(self, connection: Connection, store: PostgresStore, terms: set[str]) -> None:
        for term, (page_ids, keys) in store.positions(connection, terms).items():
            rows, held = self.table.rows_of(page_ids)
            self.keys[term] = (rows.astype(np.int64) << 32) | keys[held]

    # --- figures BM25 needs

    def idf(self, number: int, term: str) -> float:
        df = self.df.get(term)
        return float(np.log(max(self.table.size, 1) / ((0 if df is None else int(df[number])) + 1)) + 1.0)

    def pair_counts(self, clause: Clause) -> bool:
        """Whether both words of a pair are rare enough in every text field for the pair to count."""
        pages = max(self.table.size, 1)
        fields = range(len(FIELDS))
        return all(pair_counts(int(self.df[t][f]) if t in self.df else 0, pages) for t in clause.terms for f in fields)

    # --- scores of clauses and concepts, over every page

    def term_scores(self, number: int, term: str) -> np.ndarray | None:
        found = self.counts.get(term)
        if found is None:
            return None
        rows, counts = found
        present = counts[:, number] > 0
        if not present.any():
            return None
        rows = rows[present]
        tf = counts[present, number] * BOOSTS[number]
        scores = np.zeros(self.table.size)
        lengths = self.table.lengths[rows, number]
        avg = float(self.table.average_lengths()[number])
        scores[rows] = _bm25(self.idf(number, term), tf, lengths, avg) * BOOSTS[number]
        return scores

    def _field_keys(self, number: int, term: str) -> np.ndarray | None:
        keys = self.keys.get(term)
        if keys is None:
            return None
        mine = keys[((keys >> 24) & 0xFF) == number]
        # row << 32 | position: ascending, as the keys were
        return ((mine >> 32) << 32) | (mine & 0xFFFFFF)

    def phrase_scores(self, number: int, clause: Clause) -> np.ndarray | None:
        keys_of = [self._field_keys(number, term) for term in clause.terms]
        if any(k is None or not k.size for k in keys_of):
            return None
        found = keys_of[0]
        assert found is not None
        for keys, step in zip(keys_of[1:], np.diff(clause.offsets), strict=True):
            assert keys is not None
            wanted = found + int(step)
            at = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
            found = wanted[keys[at] == wanted]
            if not found.size:
                return None
        rows = np.unique(found >> 32).astype(np.intp)
        total = np.zeros(self.table.size)
        for term in clause.terms:
            scores = self.term_scores(number, term)
            if scores is not None:
                total[rows] += scores[rows]
        return total

    def _prefix_scores(self, number: int, prefix: str) -> np.ndarray | None:
        best: np.ndarray | None = None
        for term in self.prefixes.get(prefix, ()):
            scores = self.term_scores(number, term)
            if scores is not None:
                best = scores if best is None else np.maximum(best, scores)
        return best

    def clause_scores(self, clause: Clause) -> np.ndarray | None:
        if clause.all_of:
            return self._all_of_scores(clause)
        total: np.ndarray | None = None
        for number in range(len(FIELDS)):
            if clause.prefix:
                scores = self._prefix_scores(number, clause.terms[0])
            elif clause.phrase:
                scores = self.phrase_scores(number, clause)
            else:
                scores = self.term_scores(number, clause.terms[0])
            if scores is not None:
                total = scores if total is None else total + scores
        return None if total is None else total * clause.weight

    def _all_of_scores(self, clause: Clause) -> np.ndarray | None:
        total: np.ndarray | None = None
        mask: np.ndarray | None = None
        for term in clause.terms:
            found = [s for s in (self.term_scores(n, term) for n in range(len(FIELDS))) if s is not None]
            if not found:
                return None
            scores = np.sum(found, axis=0)
            total = scores if total is None else total + scores
            mask = scores > 0 if mask is None else mask & (scores > 0)
        if total is None or mask is None:
            return None
        return np.where(mask, total, 0.0) * clause.weight

    def concept_scores(self, concept: Concept) -> np.ndarray:
        best = np.zeros(self.table.size)
        for clause in concept.clauses:
            scores = self.clause_scores(clause)
            if scores is not None:
                np.maximum(best, scores, out=best)
        return best

    def scope_mask(self, scope: Scope) -> np.ndarray:
        codes = [STATUSES.index(s) for s in scope.statuses if s in STATUSES]
        mask = np.isin(self.table.status, np.array(codes, dtype=np.int8))
        if not scope.include_older:
            mask &= self.table.current
        for name, value in scope.filters.items():
            if name in INDEX_FACETS and value:
                mask &= self.table.facet_mask(name, value)
        if scope.audiences is not None:
            mask &= self.table.visible(scope.audiences, scope.owner_id)
        return mask

    def evaluate(self, plan: QueryPlan, scope: Scope) -> _Evaluation:
        """Which pages match, their scores, and which concepts each page has (as ``whoosh_eval``)."""
        n = self.table.size
        mask = self.scope_mask(scope)
        matched = np.zeros(n, dtype=np.int32)
        total = np.zeros(n)
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
            if self.pair_counts(pair):
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
        hit = np.zeros(self.table.size, dtype=bool)
        for concept in plan.excluded:
            hit |= self.concept_scores(concept) > 0
        return np.unique(self.table.assets[self.scope_mask(scope) & hit])

    def body_terms(self, plan: QueryPlan, rows: np.ndarray) -> dict[int, set[str]]:
        """For each of some pages, the body terms of the plan it holds (a phrase's words where the phrase is)."""
        found: dict[int, set[str]] = {}
        wanted = set(rows.tolist())
        for concept in plan.concepts:
            for clause in concept.clauses:
                if clause.phrase:
                    scores = self.phrase_scores(BODY, clause)
                    if scores is not None:
                        for row in np.flatnonzero(scores).tolist():
                            if row in wanted:
                                found.setdefault(row, set()).update(clause.terms)
                    continue
                terms = self.prefixes.get(clause.terms[0], []) if clause.prefix else clause.terms
                for term in terms:
                    got = self.counts.get(term)
                    if got is None:
                        continue
                    for row in got[0][got[1][:, BODY] > 0].tolist():
                        if row in wanted:
                            found.setdefault(row, set()).add(term)
        return found


class PostgresBackend:
    """kb's search index in its PostgreSQL database (``KB_SEARCH_BACKEND=postgres``)."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_db_engine(database_url)
        if self.engine.dialect.name != "postgresql":
            raise ValueError("the postgres search backend needs a PostgreSQL KB_DATABASE_URL")
        self.store = PostgresStore(self.engine)

    def close(self) -> None:
        self.store.close()
        self.engine.dispose()

    # writing

    def replace_asset(self, asset_id: int, pages: list[IndexPage]) -> None:
        self.store.replace_assets({asset_id: pages})

    def replace_assets(self, pages_by_asset: dict[int, list[IndexPage]]) -> None:
        self.store.replace_assets(pages_by_asset)

    def delete_asset(self, asset_id: int) -> None:
        self.store.replace_assets({asset_id: []})

    def rebuild(self, batches: Iterable[list[IndexPage]]) -> int:
        return self.store.rebuild(batches)

    def optimize(self) -> None:
        self.store.optimize()

    def stamps(self) -> dict[int, str]:
        return self.store.stamps()

    def outdated(self) -> bool:
        return self.store.outdated()

    # searching

    def candidates(self, plan: QueryPlan, scope: Scope) -> Candidates:
        if plan.empty:
            return Candidates.empty()
        query = _Query.read(self.store, plan)
        if not query.table.size:
            return Candidates.empty()
        evaluation = query.evaluation = query.evaluate(plan, scope)
        mask = evaluation.mask.copy()
        out = query.excluded_assets(plan, scope)
        if out.size:
            mask &= ~np.isin(query.table.assets, out)
        if plan.like_this:
            return self._documents_like_this(query, plan, out)
        coverage = evaluation.matched / max(len(plan.concepts), 1)
        return self._best_pages(query, np.flatnonzero(mask), evaluation.scores, coverage)

    @staticmethod
    def _best_pages(
        query: _Query,
        rows: np.ndarray,
        page_score: np.ndarray,
        page_coverage: np.ndarray,
        asset_score: np.ndarray | None = None,
    ) -> Candidates:
        """Each asset of some pages at its best page (the highest score, the first among equals)."""
        if not rows.size:
            return Candidates.empty()
        table = query.table
        _keys, groups = table.asset_groups()
        best = best_of_each(rows, groups[rows], page_score[rows])
        return Candidates(
            asset_ids=table.assets[best],
            scores=page_score[best] if asset_score is None else asset_score[groups[best]],
            coverage=page_coverage[best],
            updated=table.updated[best],
            refs=best.astype(np.int64),
            facet_codes={name: table.facets[name][best] for name in INDEX_FACETS},
            facet_values=table.facet_codes.values,
            source=query,  # the refs are rows of this query's table of pages
        )

    def _documents_like_this(self, query: _Query, plan: QueryPlan, out: np.ndarray) -> Candidates:
        """A "like this" search matches documents: each concept at the asset's best page for it (``whoosh_eval``)."""
        evaluation = query.evaluation
        assert evaluation is not None
        table = query.table
        keys, groups = table.asset_groups()
        allowed = evaluation.allowed.copy()
        if out.size:
            allowed &= ~np.isin(table.assets, out)
        per_asset = np.zeros((keys.size, len(plan.concepts)))
        page_total = np.zeros(table.size)
        for number in range(len(plan.concepts)):
            scores = np.where(allowed, evaluation.concept_scores[number], 0.0)
            np.maximum.at(per_asset[:, number], groups, scores)
            page_total += scores
        matched = np.count_nonzero(per_asset > 0, axis=1)
        share = matched / max(len(plan.concepts), 1)
        asset_score = per_asset.sum(axis=1) * coverage_factor(share, like_this=True)
        rows = np.flatnonzero((page_total > 0) & (matched >= plan.min_match)[groups])
        return self._best_pages(query, rows, page_total, share[groups], asset_score)

    def hits(self, plan: QueryPlan, scope: Scope, chosen: Candidates) -> list[AssetHit]:
        if not len(chosen):
            return []
        query = chosen.source if isinstance(chosen.source, _Query) else None
        if query is None:
            query = _Query.read(self.store, plan)
        evaluation = query.evaluation or query.evaluate(plan, scope)
        query.evaluation = evaluation
        table = query.table
        listed, scores = evaluation.mask, evaluation.scores
        if plan.like_this:  # any page with some of the text's words (the asset as a whole had enough)
            scores = np.sum(evaluation.concept_scores, axis=0) * evaluation.allowed
            listed = scores > 0
        shown: dict[int, list[int]] = {}
        for asset_id in chosen.asset_ids.tolist():
            rows = [r for r in table.pages_of(asset_id).tolist() if listed[r]]
            shown[asset_id] = sorted(rows, key=lambda r: (-scores[r], r))[:PAGES_PER_ASSET]
        wanted = np.array(sorted({r for rows in shown.values() for r in rows} | set(chosen.refs.tolist())))
        body = query.body_terms(plan, wanted) if wanted.size else {}
        stored = self.store.stored([int(table.ids[r]) for r in wanted.tolist()])
        missing_assets = [a for a, ref in zip(chosen.asset_ids.tolist(), chosen.refs.tolist(), strict=True)
                          if int(table.ids[ref]) not in stored]  # fmt: skip
        replaced = self.store.first_pages(missing_assets)  # pages re-indexed since the candidates were read
        highlighter = Highlighter(
            fragmenter=highlight.ContextFragmenter(maxchars=220, surround=70),
            formatter=highlight.HtmlFormatter(tagname="mark", between=" … "),
        )
        results: list[AssetHit] = []
        for asset_id, score, ref in zip(
            chosen.asset_ids.tolist(), chosen.scores.tolist(), chosen.refs.tolist(), strict=True
        ):
            fields = stored.get(int(table.ids[ref])) or replaced.get(asset_id) or _gone(asset_id)
            pages = []
            for row in shown[asset_id]:
                page = stored.get(int(table.ids[row]))
                if page is None:
                    continue
                words = frozenset(body.get(row, set()))
                snippet = highlighter.snippet(page["body"], words, top=2) if words else ""
                pages.append(
                    PageHit(
                        page=page["page"],
                        title=page["page_title"],
                        snippet=snippet or str(escape(page["body"][:200])),
                        version=page["version"],
                        current=page["current"],
                    )
                )
            flags = [bool(has[ref]) for has in evaluation.has]
            lacking = [c.label for c, hit in zip(plan.concepts, flags, strict=True) if not hit]
            missing = [] if plan.like_this else lacking
            results.append(
                AssetHit(
                    asset_id=asset_id,
                    status=fields["status"],
                    title=fields["title"],
                    kind=fields["kind"],
                    product=fields["product"],
                    version=fields["version"],
                    owner_name=fields["owner_name"],
                    updated=fields["updated"].date().isoformat() if fields["updated"] else "",
                    rating=0.0,
                    freshness="fresh",
                    score=round(score, 4),
                    pages=pages,
                    missing=missing,
                )
            )
        return results

    def frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """Pages holding each term in any text field (the largest field count)."""
        wanted = list(terms)
        found = self.store.read(lambda connection: self.store.postings(connection, wanted))
        return {t: int(np.count_nonzero(found[t][1], axis=0).max()) if t in found else 0 for t in wanted}

    def warm(self) -> str | None:
        """Reads the table of pages now, rather than at the first search; returns a title word to search for."""
        self.store.read(self.store.table)
        title = self.store.a_title()
        for term in analyze(title or ""):
            if len(term) >= 4 and term.isalpha():
                return term
        return None

    # spelling

    def known(self, word: str) -> bool:
        return self.store.word_count(word) > 0

    def closest(self, word: str) -> str | None:
        """Distance 1 before 2 (two only for words longer than six letters, the first letter kept), then the word
        most assets hold, then the greatest (as the Whoosh backend's speller)."""
        for distance in (1, 2) if len(word) > 6 else (1,):
            if distance == 1:
                close = self.store.word_counts(one_edit(word))
            else:
                close = self.store.words_within(word, distance)
            close.pop(word, None)
            if close:
                return max(close, key=lambda w: (close[w], w))
        return None


def _gone(asset_id: int) -> dict[str, object]:
    """What a hit shows of an asset removed from the index since its candidates were read."""
    return {"status": "published", "title": "", "kind": "", "product": "", "version": 0, "owner_name": "",
            "updated": None}  # fmt: skip
