"""An in-memory search backend, for fast tests of views and domain code: the same analyzer, planner and
ranking as the Whoosh backend, postings in dictionaries, nothing on disk, nothing shared between processes."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from markupsafe import escape

from kb.search.analysis import mixed_analyzer
from kb.search.backend import INDEX_FACETS, AssetHit, Candidates, PageHit, Scope
from kb.search.documents import IndexPage
from kb.search.planner import Clause, Concept, QueryPlan
from kb.search.ranking import PAIR_WEIGHT, coverage_factor, pair_counts
from kb.search.speller import one_edit
from kb.search.whoosh_store import SPELLING_WORD, TEXT_FIELDS

_B, _K1 = 0.75, 1.2


@dataclass
class _Doc:
    page: IndexPage
    positions: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # field -> term -> positions
    lengths: dict[str, int] = field(default_factory=dict)


def _field_text(page: IndexPage, name: str) -> str:
    return ", ".join(page.tags) if name == "tags" else str(getattr(page, name))


class MemoryBackend:
    """Pages in a list; a search reads them all. Fine for the tens of pages a test holds."""

    def __init__(self) -> None:
        self.docs: dict[str, _Doc] = {}
        self.lock = threading.Lock()

    # writing

    def replace_asset(self, asset_id: int, pages: list[IndexPage]) -> None:
        analyzer = mixed_analyzer()
        with self.lock:
            self.docs = {k: d for k, d in self.docs.items() if d.page.asset_id != asset_id}
            for page in pages:
                doc = _Doc(page)
                for name in TEXT_FIELDS:
                    terms: dict[str, list[int]] = {}
                    count = 0
                    for token in analyzer(_field_text(page, name), positions=True, mode="index"):
                        terms.setdefault(token.text, []).append(token.pos)
                        count += 1
                    doc.positions[name] = terms
                    doc.lengths[name] = count
                self.docs[page.doc_id] = doc

    def replace_assets(self, pages_by_asset: dict[int, list[IndexPage]]) -> None:
        for asset_id, pages in pages_by_asset.items():
            self.replace_asset(asset_id, pages)

    def delete_asset(self, asset_id: int) -> None:
        self.replace_asset(asset_id, [])

    def rebuild(self, batches: Iterable[list[IndexPage]]) -> int:
        with self.lock:
            self.docs = {}
        written = 0
        for batch in batches:
            by_asset: dict[int, list[IndexPage]] = {}
            for page in batch:
                by_asset.setdefault(page.asset_id, []).append(page)
            for asset_id, pages in by_asset.items():
                self.replace_asset(asset_id, pages)
                written += len(pages)
        return written

    def optimize(self) -> None:
        """Nothing to merge: the pages live in one dictionary."""

    def stamps(self) -> dict[int, str]:
        return {d.page.asset_id: d.page.stamp for d in self.docs.values() if d.page.current}

    def outdated(self) -> bool:
        return False

    # reading

    def _visible(self, scope: Scope) -> list[_Doc]:
        docs = []
        for doc in self.docs.values():
            page = doc.page
            if page.status not in scope.statuses or (not scope.include_older and not page.current):
                continue
            if any(not _facet_has(page, name, value) for name, value in scope.filters.items() if value):
                continue
            if not _audience_allows(page, scope):
                continue
            docs.append(doc)
        return docs

    def _stats(self) -> tuple[int, dict[str, float]]:
        total = max(len(self.docs), 1)
        avg = {f: (sum(d.lengths.get(f, 0) for d in self.docs.values()) / total) or 1.0 for f in TEXT_FIELDS}
        return total, avg

    def _df(self, name: str, term: str) -> int:
        return sum(1 for d in self.docs.values() if term in d.positions.get(name, {}))

    def _clause(self, doc: _Doc, clause: Clause, total: int, avg: dict[str, float]) -> float:
        if clause.all_of:
            per_term = [
                sum(self._term(doc, name, t, total, avg) * boost for name, boost in TEXT_FIELDS.items())
                for t in clause.terms
            ]
            return sum(per_term) * clause.weight if all(s > 0 for s in per_term) else 0.0
        score = 0.0
        for name, boost in TEXT_FIELDS.items():
            postings = doc.positions.get(name, {})
            if clause.prefix:
                terms = [t for t in postings if t.startswith(clause.terms[0])]
                best = max((self._term(doc, name, t, total, avg) for t in terms), default=0.0)
                score += best * boost
                continue
            if clause.phrase:
                starts = set(postings.get(clause.terms[0], []))
                for term, offset in zip(clause.terms[1:], clause.offsets[1:], strict=True):
                    starts &= {p - offset for p in postings.get(term, [])}
                if not starts:
                    continue
            score += sum(self._term(doc, name, t, total, avg) for t in clause.terms if t in postings) * boost
        return score * clause.weight

    def _term(self, doc: _Doc, name: str, term: str, total: int, avg: dict[str, float]) -> float:
        tf = len(doc.positions[name].get(term, ())) * TEXT_FIELDS[name]
        if not tf:
            return 0.0
        idf = math.log(total / (self._df(name, term) + 1)) + 1.0
        return idf * tf * (_K1 + 1) / (tf + _K1 * ((1 - _B) + _B * doc.lengths[name] / avg[name]))

    def _concept(self, doc: _Doc, concept: Concept, total: int, avg: dict[str, float]) -> float:
        return max((self._clause(doc, clause, total, avg) for clause in concept.clauses), default=0.0)

    def _allowed(self, plan: QueryPlan, scope: Scope) -> list[tuple[_Doc, list[float]]]:
        """Pages in scope, not excluded, with every required concept: each concept's score on them."""
        total, avg = self._stats()
        visible = self._visible(scope)
        out_assets = {
            d.page.asset_id for d in visible if any(self._concept(d, c, total, avg) > 0 for c in plan.excluded)
        }
        allowed = []
        for doc in visible:
            if doc.page.asset_id in out_assets:
                continue
            scores = [self._concept(doc, c, total, avg) for c in plan.concepts]
            if any(c.required and s <= 0 for c, s in zip(plan.concepts, scores, strict=True)):
                continue
            allowed.append((doc, scores))
        return allowed

    def _evaluate(
        self, plan: QueryPlan, scope: Scope, allowed: list[tuple[_Doc, list[float]]] | None = None
    ) -> list[tuple[_Doc, float, list[bool]]]:
        """The matching pages, their scores and which concepts each has (a "like this" search: every page with
        some of the words, its plain sum, of an asset that has enough of them in all)."""
        if allowed is None:
            allowed = self._allowed(plan, scope)
        if plan.like_this:
            enough = set(self._like_this_assets(plan, allowed))
            return [
                (doc, sum(scores), [s > 0 for s in scores])
                for doc, scores in allowed
                if doc.page.asset_id in enough and sum(scores) > 0
            ]
        total, avg = self._stats()
        pairs = [p for p in plan.pairs if all(pair_counts(self._df(f, t), total) for t in p.terms for f in TEXT_FIELDS)]
        matches = []
        for doc, scores in allowed:
            has = [s > 0 for s in scores]
            if sum(has) < plan.min_match:
                continue
            share = sum(has) / max(len(plan.concepts), 1)
            together = sum(self._clause(doc, pair, total, avg) for pair in pairs)
            score = (sum(scores) + PAIR_WEIGHT * together) * float(coverage_factor(share, plan.like_this))
            matches.append((doc, score, has))
        return matches

    @staticmethod
    def _like_this_assets(plan: QueryPlan, allowed: list[tuple[_Doc, list[float]]]) -> dict[int, tuple[float, float]]:
        """A "like this" search matches documents: each concept at the asset's best page for it; the asset's
        score and share of concepts, for assets with at least ``min_match`` of them."""
        best: dict[int, list[float]] = {}
        for doc, scores in allowed:
            held = best.setdefault(doc.page.asset_id, [0.0] * len(scores))
            best[doc.page.asset_id] = [max(a, b) for a, b in zip(held, scores, strict=True)]
        result = {}
        for asset_id, scores in best.items():
            matched = sum(1 for s in scores if s > 0)
            if matched >= plan.min_match:
                share = matched / max(len(plan.concepts), 1)
                result[asset_id] = (sum(scores) * float(coverage_factor(share, like_this=True)), share)
        return result

    def candidates(self, plan: QueryPlan, scope: Scope) -> Candidates:
        if plan.empty:
            return Candidates.empty()
        best: dict[int, tuple[float, str, list[bool], _Doc]] = {}
        allowed = self._allowed(plan, scope)
        for doc, score, has in self._evaluate(plan, scope, allowed):
            key = doc.page.asset_id
            if key not in best or (score, -_order(doc)) > (best[key][0], -_order(best[key][3])):
                best[key] = (score, doc.page.doc_id, has, doc)
        if not best:
            return Candidates.empty()
        assets = self._like_this_assets(plan, allowed) if plan.like_this else {}
        values: dict[str, list[tuple[str, ...]]] = {name: [()] for name in INDEX_FACETS}
        codes: dict[str, list[int]] = {name: [] for name in INDEX_FACETS}
        items = sorted(best.items())
        for _asset, (_score, _doc_id, _has, doc) in items:
            for name in INDEX_FACETS:
                value = _facet_values(doc.page, name)
                if value not in values[name]:
                    values[name].append(value)
                codes[name].append(values[name].index(value))
        refs = list(self.docs)
        count = max(len(plan.concepts), 1)
        return Candidates(
            asset_ids=np.array([a for a, _v in items], dtype=np.int64),
            scores=np.array([assets[a][0] if assets else v[0] for a, v in items]),
            coverage=np.array([assets[a][1] if assets else sum(v[2]) / count for a, v in items]),
            updated=np.array([v[3].page.updated.timestamp() for _a, v in items]),
            refs=np.array([refs.index(v[1]) for _a, v in items], dtype=np.int64),
            facet_codes={name: np.array(c, dtype=np.intp) for name, c in codes.items()},
            facet_values=values,
        )

    def hits(self, plan: QueryPlan, scope: Scope, chosen: Candidates) -> list[AssetHit]:
        matches = self._evaluate(plan, scope)
        refs = list(self.docs)
        result = []
        for asset_id, score, ref in zip(chosen.asset_ids.tolist(), chosen.scores.tolist(), chosen.refs.tolist(),
                                        strict=True):  # fmt: skip
            best = self.docs[refs[ref]]
            pages = sorted(
                ((s, d) for d, s, _h in matches if d.page.asset_id == asset_id), key=lambda sd: (-sd[0], _order(sd[1]))
            )
            has = next((h for d, _s, h in matches if d is best), [True] * len(plan.concepts))
            page = best.page
            result.append(
                AssetHit(
                    asset_id=asset_id,
                    status=page.status,
                    title=page.title,
                    kind=page.kind,
                    product=page.product,
                    version=page.version,
                    owner_name=page.owner_name,
                    updated=page.updated.date().isoformat(),
                    rating=0.0,
                    freshness="fresh",
                    score=round(score, 4),
                    pages=[
                        PageHit(
                            d.page.page,
                            d.page.page_title,
                            str(escape(d.page.body[:200])),
                            d.page.version,
                            d.page.current,
                        )  # fmt: skip
                        for _s, d in pages[:3]
                    ],
                    missing=[]
                    if plan.like_this
                    else [c.label for c, h in zip(plan.concepts, has, strict=True) if not h],
                )
            )
        return result

    def frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        return {t: max(self._df(f, t) for f in TEXT_FIELDS) for t in terms}

    def _vocabulary(self) -> dict[str, int]:
        words: dict[str, int] = {}
        for doc in self.docs.values():
            page = doc.page
            if page.current and page.status == "published" and not page.restricted:
                text = "\n".join((page.title, page.page_title, page.body)).lower().replace("ё", "е")
                for word in set(SPELLING_WORD.findall(text)):
                    words[word] = words.get(word, 0) + 1
        return words

    def known(self, word: str) -> bool:
        return word in self._vocabulary()

    def closest(self, word: str) -> str | None:
        vocabulary = self._vocabulary()
        close = [w for w in one_edit(word) if w in vocabulary and w != word]
        return max(close, key=lambda w: (vocabulary[w], w)) if close else None


def _order(doc: _Doc) -> int:
    return doc.page.version_id * 10_000 + doc.page.page


def _facet_values(page: IndexPage, name: str) -> tuple[str, ...]:
    if name == "segment":
        return tuple(sorted(page.segments))
    value = str(getattr(page, name))
    return (value,) if value else ()


def _audience_allows(page: IndexPage, scope: Scope) -> bool:
    """Whether the scope's audiences (or its owner) may find the page (as ``whoosh_eval`` scope_mask)."""
    if scope.audiences is None:
        return True
    return bool(set(page.audiences) & set(scope.audiences)) or page.owner_id == scope.owner_id


def _facet_has(page: IndexPage, name: str, value: str) -> bool:
    return value in _facet_values(page, name)
