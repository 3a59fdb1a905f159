"""The Whoosh implementation of the search backend: page-sized documents, one writer at a time, a reused searcher.

The index lives in generations under ``KB_INDEX_DIR`` (``gen-000001``, ...); the file ``CURRENT`` names the
one in use. A rebuild writes a new generation and switches ``CURRENT`` when it is complete, so searches keep
working on the old one meanwhile. Every write (an asset's pages, or a rebuild) holds an exclusive file lock,
so only one process writes at a time whatever the number of server and worker processes. Searchers are kept
per process and refreshed only when the index changed, checked at most once a second.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from whoosh import highlight, index, sorting
from whoosh.fields import BOOLEAN, DATETIME, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.query import And, AndNot, Every, NullQuery, Or, Phrase, Prefix, Query, Term

from kb.search.analysis import analyze, mixed_analyzer, spelling_analyzer
from kb.search.backend import AssetHit, PageHit, SearchRequest, SearchResults
from kb.search.documents import IndexPage
from kb.search.query import ParsedQuery, parse

CURRENT = "CURRENT"
LOCK = "write.lock"
LOCK_TIMEOUT_S = 300
REFRESH_CHECK_S = 1.0
PAGES_PER_ASSET = 3
#: Overdue and flagged content stays findable, a little lower.
STALE_FACTOR = {"overdue": 0.85, "flagged": 0.8}
TEXT_FIELDS = {"title": 4.0, "tags": 3.0, "page_title": 1.5, "description": 1.5, "body": 1.0}
FACET_FIELDS = {"kind": "kind", "product": "product", "segment": "segment", "region": "region",
                "language": "language", "freshness": "freshness"}  # fmt: skip


def schema() -> Schema:
    analyzer = mixed_analyzer()
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
        words=TEXT(analyzer=spelling_analyzer(), spelling=True),
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
            writer.commit()
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
            writer = ix.writer(limitmb=256)
            try:
                for batch in batches:
                    for page in batch:
                        writer.add_document(**_document(page))
                        written += 1
            except BaseException:
                writer.cancel()
                shutil.rmtree(self.root / name, ignore_errors=True)
                raise
            writer.commit()
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
        corrector = searcher.corrector("words")
        reader = searcher.reader()
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
        excluded = _excluded_assets(searcher, parsed, scope)
        if excluded is not None:
            scope = AndNot(scope, excluded)
        query = And([text_query, scope])
        window = request.page * request.per_page + request.per_page
        sortedby = {"newest": "updated", "rating": "rating"}.get(request.sort)
        results = searcher.search(
            query,
            limit=window,
            collapse="asset",
            collapse_limit=1,
            sortedby=sortedby,
            reverse=sortedby is not None,
            groupedby={"asset": sorting.FieldFacet("asset")},
        )
        groups = results.groups("asset")
        ranked = []
        for hit in results:
            factor = STALE_FACTOR.get(hit["freshness"], 1.0) if sortedby is None else 1.0
            ranked.append((hit.score * factor, hit.fields()))
        if sortedby is None:
            ranked.sort(key=lambda item: item[0], reverse=True)
        start = (request.page - 1) * request.per_page
        shown = ranked[start : start + request.per_page]
        pages = self._best_pages(searcher, text_query, scope, [int(f["asset"]) for _s, f in shown])
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
        return SearchResults(total=len(groups), hits=hits, facets=_facets(searcher, groups))

    def _best_pages(
        self, searcher: Any, text_query: Query, scope: Query, asset_ids: list[int]
    ) -> dict[int, list[PageHit]]:
        if not asset_ids:
            return {}
        query = And([text_query, scope, Or([Term("asset", str(a)) for a in asset_ids])])
        results = searcher.search(
            query,
            limit=len(asset_ids) * PAGES_PER_ASSET * 2,
            collapse="asset",
            collapse_limit=PAGES_PER_ASSET,
            terms=True,
        )
        results.fragmenter = highlight.ContextFragmenter(maxchars=220, surround=70)
        results.formatter = highlight.HtmlFormatter(tagname="mark", between=" … ")
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


def _phrase_query(phrase: str) -> Query:
    terms = _field_terms(phrase)
    if not terms:
        return NullQuery
    if len(terms) == 1:
        return _word_query(phrase)
    return Or([Phrase(field, terms, boost=boost) for field, boost in TEXT_FIELDS.items()])


def _text_query(parsed: ParsedQuery) -> Query:
    parts = [q for q in (_word_query(w) for w in parsed.words) if q is not NullQuery]
    parts += [q for q in (_phrase_query(p) for p in parsed.phrases) if q is not NullQuery]
    parts += [Or([Prefix(field, prefix) for field in TEXT_FIELDS]) for prefix in parsed.prefixes]
    if not parts:
        return NullQuery
    return parts[0] if len(parts) == 1 else And(parts)


def _excluded_assets(searcher: Any, parsed: ParsedQuery, scope: Query) -> Query | None:
    """Assets any page of which has an excluded word or phrase: ``-word`` leaves out whole assets."""
    excluded = [q for q in (_phrase_query(text) for text in parsed.excluded) if q is not NullQuery]
    if not excluded:
        return None
    results = searcher.search(And([Or(excluded), scope]), limit=1, groupedby={"asset": sorting.FieldFacet("asset")})
    ids = list(results.groups("asset"))
    return Or([Term("asset", asset) for asset in ids]) if ids else None


def _scope(request: SearchRequest, filters: dict[str, str]) -> Query:
    clauses: list[Query] = [Or([Term("status", s) for s in request.statuses])]
    if not request.include_older:
        clauses.append(Term("current", True))
    for name, value in filters.items():
        if name in FACET_FIELDS and value:
            clauses.append(Term(FACET_FIELDS[name], value))
    return And(clauses) if clauses else Every()


def _facets(searcher: Any, groups: dict[Any, list[int]]) -> dict[str, dict[str, int]]:
    """Counts of matching assets per facet value (an asset counts once, whatever its number of pages)."""
    counts: dict[str, dict[str, int]] = {name: {} for name in FACET_FIELDS}
    for docnums in groups.values():
        fields = searcher.stored_fields(docnums[0])
        for name, field in FACET_FIELDS.items():
            values = (
                [v for v in str(fields.get(field) or "").split(",") if v] if name == "segment" else [fields.get(field)]
            )
            for value in values:
                if value:
                    counts[name][value] = counts[name].get(value, 0) + 1
    return {name: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for name, c in counts.items()}
