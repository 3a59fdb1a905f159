"""PostgreSQL search storage: pages and their pre-analyzed terms in the ``kb_search`` schema, written and read.

The tables (migration 0015) hold the index of ``KB_SEARCH_BACKEND=postgres`` in kb's own database:

- ``pages``: one row per page document (``IndexPage``): what a hit shows, the scope and facet values, and each
  text field's length in terms (``lengths``, in ``TEXT_FIELDS`` order) for BM25. ``words`` holds a published
  current version's spelling vocabulary, on its first page only (as the Whoosh index's ``words`` field).
- ``postings``: one row per term and page, the terms analysed here by kb's own analyzer (the same as the Whoosh
  backend's, in index mode): how often the term stands in each text field (``counts``: five big-endian 16-bit
  numbers) and where (``positions``: big-endian 32-bit ``field << 24 | position``, ascending). Its primary key
  (term, page), with the counts in the index too, is the inverted index: all pages of a term and their counts in
  one index range, in page order; a prefix is expanded by walking its terms in that index (the ``C`` collation
  orders them as bytes).
- ``words``: each spelling word with the number of published current assets that hold it ("did you mean").
- ``state`` and ``changes``: a generation number raised by every write, and which assets each generation changed,
  so that every process keeps its table of pages (``PageTable``) in step by reading only what changed.

Writers queue on the ``state`` row (each write first raises the generation), so generations commit in order,
whatever the number of server and worker processes; readers are never blocked (a rebuild deletes and inserts in
one transaction: searches see the old index until it commits). A search reads in one repeatable-read
transaction, so the pages, their postings and the generation agree.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from kb.audiences import EVERYONE
from kb.search.analysis import mixed_analyzer
from kb.search.backend import INDEX_FACETS
from kb.search.documents import IndexPage
from kb.search.whoosh_store import SPELLING_WORD, TEXT_FIELDS

#: The index format this kb writes (``kb index check`` reports an index written in another).
FORMAT = 1
FIELDS = tuple(TEXT_FIELDS)
#: Positions are kept as ``field << POSITION_BITS | position``; a position past the last is kept as the last.
POSITION_BITS = 24
_LAST_POSITION = (1 << POSITION_BITS) - 1
#: Change records kept: a process whose table is older than these reads the pages afresh.
KEEP_CHANGES = 10_000
STATUSES = ("published", "draft", "archived")
T = TypeVar("T")
COUNTS_DTYPE = np.dtype([("page", ">i8"), ("counts", ">u2", (len(FIELDS),))])


class SearchSchemaMissing(Exception):
    """The database lacks the ``kb_search`` tables: its migrations were not applied."""

    def __str__(self) -> str:
        return "the PostgreSQL search tables are missing; run: kb db upgrade (then kb index rebuild)"


# --- writing ------------------------------------------------------------------------------------------------


@dataclass
class _Analyzed:
    page: IndexPage
    lengths: list[int]
    terms: dict[str, tuple[list[int], list[int]]]  # term -> (count per field, position keys)
    words: list[str] | None = None


def _field_text(page: IndexPage, name: str) -> str:
    return ", ".join(page.tags) if name == "tags" else str(getattr(page, name))


def analyze_page(page: IndexPage) -> _Analyzed:
    """A page's terms by field, with positions, and each field's length (as the memory and Whoosh backends)."""
    analyzer = mixed_analyzer()
    lengths: list[int] = []
    terms: dict[str, tuple[list[int], list[int]]] = {}
    for number, name in enumerate(FIELDS):
        count = 0
        base = number << POSITION_BITS
        for token in analyzer(_field_text(page, name), positions=True, mode="index"):
            entry = terms.get(token.text)
            if entry is None:
                entry = terms[token.text] = ([0] * len(FIELDS), [])
            entry[0][number] += 1
            entry[1].append(base | min(token.pos, _LAST_POSITION))
            count += 1
        lengths.append(count)
    return _Analyzed(page, lengths, terms)


def _with_words(pages: list[IndexPage]) -> list[_Analyzed]:
    """The pages analysed; each published current version's spelling words on its first page (drafts', older
    versions' and restricted assets' words are never suggested)."""
    texts: dict[int, list[str]] = {}
    for page in pages:
        if page.current and page.status == "published" and not page.restricted:
            texts.setdefault(page.version_id, [page.title]).extend((page.page_title, page.body))
    analysed = []
    for page in pages:
        item = analyze_page(page)
        text_ = texts.pop(page.version_id, None)
        if text_ is not None:
            item.words = sorted(set(SPELLING_WORD.findall("\n".join(text_).lower().replace("ё", "е"))))
        analysed.append(item)
    return analysed


def _text(value: str) -> str:
    """Text as PostgreSQL stores it: without NUL characters (extracted text may hold them)."""
    return value.replace("\x00", "") if "\x00" in value else value


def _counts_bytes(counts: list[int]) -> bytes:
    return np.minimum(np.array(counts), 65535).astype(">u2").tobytes()


_PAGE_COLUMNS = (
    "id", "doc_id", "asset_id", "version_id", "version", "current", "status", "page", "page_title", "title",
    "description", "body", "tags", "kind", "product", "region", "language", "segments", "owner_id", "owner_name",
    "audiences", "updated", "stamp", "lengths", "words",
)  # fmt: skip
_PAGE_TYPES = (
    "int8", "text", "int4", "int4", "int4", "bool", "text", "int4", "text", "text", "text", "text", "text[]", "text",
    "text", "text", "text", "text[]", "int4", "text", "text[]", "timestamptz", "text", "int4[]", "text[]",
)  # fmt: skip


def _write_pages(connection: Connection, analysed: list[_Analyzed]) -> dict[str, int]:
    """Inserts pages and their postings; returns each spelling word's count of assets added."""
    if not analysed:
        return {}
    ids = (
        connection.execute(
            text("SELECT nextval('kb_search.page_ids') FROM generate_series(1, :n)"), {"n": len(analysed)}
        )
        .scalars()
        .all()
    )
    raw = connection.connection.driver_connection
    assert raw is not None
    words: dict[str, int] = {}
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY kb_search.pages ({', '.join(_PAGE_COLUMNS)}) FROM STDIN") as copy:
            copy.set_types(list(_PAGE_TYPES))
            for page_id, item in zip(ids, analysed, strict=True):
                p = item.page
                copy.write_row((
                    page_id, p.doc_id, p.asset_id, p.version_id, p.version, p.current, p.status, p.page,
                    _text(p.page_title), _text(p.title), _text(p.description), _text(p.body),
                    [_text(t) for t in p.tags], p.kind, p.product, p.region, p.language, list(p.segments), p.owner_id,
                    _text(p.owner_name), list(p.audiences), p.updated, p.stamp, item.lengths, item.words,
                ))  # fmt: skip
                for word in item.words or ():
                    words[word] = words.get(word, 0) + 1
        with cursor.copy("COPY kb_search.postings (term, page_id, asset_id, counts, positions) FROM STDIN") as copy:
            copy.set_types(["text", "int8", "int4", "bytea", "bytea"])
            for page_id, item in zip(ids, analysed, strict=True):
                asset_id = item.page.asset_id
                for term, (counts, keys) in item.terms.items():
                    positions = np.array(sorted(keys), dtype=">u4").tobytes()
                    copy.write_row((term, page_id, asset_id, _counts_bytes(counts), positions))
    return words


def _add_words(connection: Connection, delta: dict[str, int]) -> None:
    changed = {w: d for w, d in delta.items() if d}
    if not changed:
        return
    words, counts = list(changed), list(changed.values())
    connection.execute(
        text(
            "INSERT INTO kb_search.words (word, assets) SELECT * FROM unnest(CAST(:w AS text[]), CAST(:d AS int[])) "
            "ON CONFLICT (word) DO UPDATE SET assets = kb_search.words.assets + EXCLUDED.assets"
        ),
        {"w": words, "d": counts},
    )
    connection.execute(
        text("DELETE FROM kb_search.words WHERE word = ANY(CAST(:w AS text[])) AND assets <= 0"), {"w": words}
    )


class PostgresStore:
    """The ``kb_search`` tables of one database: writes, and each process's table of pages kept in step."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Reads: each statement on its own (one round trip, no BEGIN and COMMIT), a search's in a transaction it
        # begins itself; no ping before each use (a connection the server dropped is retried once, ``_retried``).
        self.reader = create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_pre_ping=False, pool_recycle=3600)
        self._table: PageTable | None = None
        self._table_lock = threading.Lock()
        self._facets = FacetCodes()
        self._fuzzy: str | None | bool = False  # False: not looked up yet; None: not installed; else its schema

    @contextmanager
    def _writing(self) -> Iterator[tuple[Connection, int]]:
        """A write transaction, queued behind any other writer; yields it and its new generation."""
        with self.engine.connect() as connection:
            with connection.begin():
                generation = _guarded(
                    lambda: connection.execute(
                        text("UPDATE kb_search.state SET generation = generation + 1 RETURNING generation")
                    ).scalar_one()
                )
                yield connection, int(generation)

    def replace_assets(self, pages_by_asset: dict[int, list[IndexPage]]) -> None:
        """Each asset's pages replaced by ``pages`` (none: removed), all in one transaction."""
        if not pages_by_asset:
            return
        analysed = _with_words([p for pages in pages_by_asset.values() for p in pages])  # outside the lock
        asset_ids = sorted(pages_by_asset)
        with self._writing() as (connection, generation):
            delta: dict[str, int] = {}
            for (words,) in connection.execute(
                text("SELECT words FROM kb_search.pages WHERE asset_id = ANY(:a) AND words IS NOT NULL"),
                {"a": asset_ids},
            ):
                for word in words:
                    delta[word] = delta.get(word, 0) - 1
            connection.execute(text("DELETE FROM kb_search.postings WHERE asset_id = ANY(:a)"), {"a": asset_ids})
            connection.execute(text("DELETE FROM kb_search.pages WHERE asset_id = ANY(:a)"), {"a": asset_ids})
            for word, added in _write_pages(connection, analysed).items():
                delta[word] = delta.get(word, 0) + added
            _add_words(connection, delta)
            connection.execute(
                text("INSERT INTO kb_search.changes (generation, asset_id) SELECT :g, unnest(CAST(:a AS int[]))"),
                {"g": generation, "a": asset_ids},
            )
            connection.execute(
                text("DELETE FROM kb_search.changes WHERE generation < :g"), {"g": generation - KEEP_CHANGES}
            )

    def rebuild(self, batches: Iterable[list[IndexPage]]) -> int:
        """Everything replaced by ``batches``' pages in one transaction: searches see the old index until it ends."""
        written = 0
        with self._writing() as (connection, generation):
            for table in ("postings", "pages", "words", "changes"):
                connection.execute(text(f"DELETE FROM kb_search.{table}"))
            words: dict[str, int] = {}
            for batch in batches:
                for word, added in _write_pages(connection, _with_words(batch)).items():
                    words[word] = words.get(word, 0) + added
                written += len(batch)
            _add_words(connection, words)
            connection.execute(
                text("UPDATE kb_search.state SET rebuilt = :g, format = :f"), {"g": generation, "f": FORMAT}
            )
        return written

    def optimize(self) -> None:
        """Vacuums and analyses the tables (a rebuild or many re-indexed assets leave dead rows behind)."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in ("postings", "pages", "words", "changes"):
                connection.exec_driver_sql(f"VACUUM ANALYZE kb_search.{table}")

    # reading

    def close(self) -> None:
        self.reader.dispose()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A repeatable-read transaction: everything read in it is of one moment of the index."""
        with self.reader.connect() as connection:
            connection.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield connection
            finally:
                connection.exec_driver_sql("ROLLBACK")

    def read(self, work: Callable[[Connection], T]) -> T:
        """``work`` in a repeatable-read transaction, tried again once on a connection the server had dropped
        (a restarted database: the pool is emptied and connects anew)."""
        for attempt in (1, 2):
            try:
                with self.reading() as connection:
                    return work(connection)
            except DBAPIError as exc:
                if not exc.connection_invalidated or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _single(self, work: Callable[[Connection], T]) -> T:
        """``work``'s statements each on its own, tried again once on a dropped connection (as ``read``)."""
        for attempt in (1, 2):
            try:
                with self.reader.connect() as connection:
                    return work(connection)
            except DBAPIError as exc:
                if not exc.connection_invalidated or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def table(self, connection: Connection) -> PageTable:
        """This process's table of pages, brought up to the generation ``connection`` sees."""
        state = _guarded(lambda: connection.execute(text("SELECT generation, rebuilt FROM kb_search.state")).one())
        generation, rebuilt = int(state[0]), int(state[1])
        with self._table_lock:
            held = self._table
            if held is not None and held.generation == generation:
                return held
            oldest = connection.execute(text("SELECT min(generation) FROM kb_search.changes")).scalar()
            fresh = (
                held is None
                or held.generation > generation  # read in a newer transaction than this one
                or held.generation < rebuilt
                or (held.generation < generation and (oldest is None or oldest > held.generation + 1))
            )
            if fresh:
                table = PageTable.load(connection, generation, self._facets, None, None)
            else:
                assert held is not None
                changed = (
                    connection.execute(
                        text("SELECT DISTINCT asset_id FROM kb_search.changes WHERE generation > :g"),
                        {"g": held.generation},
                    )
                    .scalars()
                    .all()
                )
                table = PageTable.load(connection, generation, self._facets, held, list(changed))
            if self._table is None or table.generation >= self._table.generation:
                self._table = table
            return table

    def stamps(self) -> dict[int, str]:
        def work(connection: Connection) -> dict[int, str]:
            rows = _guarded(
                lambda: connection.execute(text("SELECT DISTINCT asset_id, stamp FROM kb_search.pages WHERE current"))
            )
            return {int(a): s for a, s in rows}

        return self._single(work)

    def outdated(self) -> bool:
        found = self._single(
            lambda connection: _guarded(
                lambda: connection.execute(
                    text("SELECT format, EXISTS (SELECT 1 FROM kb_search.pages) FROM kb_search.state")
                ).one()
            )
        )
        return bool(found[1]) and int(found[0]) != FORMAT

    def postings(self, connection: Connection, terms: Iterable[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each term's pages (ids, ascending) and its count in each text field there (a row per page)."""
        wanted = sorted(set(terms))
        if not wanted:
            return {}
        rows = connection.execute(
            text(
                "SELECT term, string_agg(int8send(page_id) || counts, ''::bytea ORDER BY page_id) "
                "FROM kb_search.postings WHERE term = ANY(:t) GROUP BY term"
            ),
            {"t": wanted},
        )
        found = {}
        for term, data in rows:
            records = np.frombuffer(data, dtype=COUNTS_DTYPE)
            found[term] = (records["page"].astype(np.int64), records["counts"].astype(np.float64))
        return found

    def positions(self, connection: Connection, terms: Iterable[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each term's position keys (``field << 24 | position``), and the page id of each."""
        wanted = sorted(set(terms))
        if not wanted:
            return {}
        rows = connection.execute(
            text(
                "SELECT term, string_agg(int8send(page_id), ''::bytea ORDER BY page_id), "
                "string_agg(int4send(octet_length(positions) / 4), ''::bytea ORDER BY page_id), "
                "string_agg(positions, ''::bytea ORDER BY page_id) "
                "FROM kb_search.postings WHERE term = ANY(:t) GROUP BY term"
            ),
            {"t": wanted},
        )
        found = {}
        for term, pages, sizes, keys in rows:
            page_ids = np.frombuffer(pages, dtype=">i8").astype(np.int64)
            repeat = np.frombuffer(sizes, dtype=">i4").astype(np.intp)
            found[term] = (np.repeat(page_ids, repeat), np.frombuffer(keys, dtype=">u4").astype(np.int64))
        return found

    def expand_prefix(self, connection: Connection, prefix: str, limit: int) -> list[str]:
        """The first ``limit`` terms (in byte order) that begin with ``prefix``: one index step per term."""
        rows = connection.execute(
            text(
                "WITH RECURSIVE found(term) AS ("
                " (SELECT term FROM kb_search.postings WHERE term >= :p ORDER BY term LIMIT 1)"
                " UNION ALL"
                " SELECT (SELECT p.term FROM kb_search.postings p WHERE p.term > found.term ORDER BY p.term LIMIT 1)"
                " FROM found WHERE starts_with(found.term, :p))"
                " SELECT term FROM found WHERE starts_with(term, :p) LIMIT :n"
            ),
            {"p": prefix, "n": limit},
        )
        return [t for (t,) in rows]

    _STORED = (
        "SELECT {distinct} id, asset_id, status, title, kind, product, version, owner_name, updated, page, page_title, "
        "body, current FROM kb_search.pages WHERE {where}"
    )

    def stored(self, pages: list[int]) -> dict[int, dict[str, Any]]:
        """What a hit shows of each page, by page id (pages no longer in the index are left out)."""
        if not pages:
            return {}
        query = text(self._STORED.format(distinct="", where="id = ANY(:ids)"))
        rows = self._single(lambda connection: connection.execute(query, {"ids": pages}).mappings().all())
        return {int(row["id"]): dict(row) for row in rows}

    def first_pages(self, assets: list[int]) -> dict[int, dict[str, Any]]:
        """Each asset's current first page as ``stored`` gives it (for a hit whose page was replaced meanwhile)."""
        if not assets:
            return {}
        where = "asset_id = ANY(:a) ORDER BY asset_id, current DESC, id"
        query = text(self._STORED.format(distinct="DISTINCT ON (asset_id)", where=where))
        rows = self._single(lambda connection: connection.execute(query, {"a": assets}).mappings().all())
        return {int(row["asset_id"]): dict(row) for row in rows}

    # spelling

    def word_count(self, word: str) -> int:
        query = text("SELECT assets FROM kb_search.words WHERE word = :w")
        found = self._single(lambda connection: _guarded(lambda: connection.execute(query, {"w": word}).scalar()))
        return int(found or 0)

    def word_counts(self, words: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(words))
        if not wanted:
            return {}
        query = text("SELECT word, assets FROM kb_search.words WHERE word = ANY(:w)")
        rows = self._single(lambda connection: connection.execute(query, {"w": wanted}).all())
        return {w: int(n) for w, n in rows if n > 0}

    def words_within(self, word: str, distance: int) -> dict[str, int]:
        """Words at most ``distance`` edits from ``word`` that begin with its first letter, with their counts."""
        first = word[:1]
        if not first:
            return {}
        bounds = {"a": first, "b": chr(ord(first) + 1), "w": word, "d": distance,
                  "lo": len(word) - distance, "hi": len(word) + distance}  # fmt: skip
        near = (
            "SELECT word, assets FROM kb_search.words WHERE word >= :a AND word < :b "
            "AND length(word) BETWEEN :lo AND :hi"
        )

        def work(connection: Connection) -> dict[str, int]:
            schema = self._fuzzy_schema(connection)
            if schema:
                distant = f' AND "{schema}".levenshtein_less_equal(word, :w, :d) <= :d'
                return {w: int(n) for w, n in connection.execute(text(near + distant), bounds)}
            rows = connection.execute(text(near), bounds)
            return {w: int(n) for w, n in rows if edit_distance(w, word, distance) <= distance}

        return self._single(work)

    def _fuzzy_schema(self, connection: Connection) -> str | None:
        """The schema of PostgreSQL's fuzzystrmatch, or None when it is not installed (looked up once)."""
        if self._fuzzy is False:
            self._fuzzy = connection.execute(
                text(
                    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                    "WHERE e.extname = 'fuzzystrmatch'"
                )
            ).scalar()
        return self._fuzzy  # type: ignore[return-value]

    def a_title(self) -> str | None:
        query = text("SELECT title FROM kb_search.pages WHERE current AND status = 'published' LIMIT 1")
        return self._single(lambda connection: _guarded(lambda: connection.execute(query).scalar()))


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance of two words, or ``limit + 1`` once it is certain to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def _guarded(read: Any) -> Any:
    """Runs a statement on the ``kb_search`` tables; their absence is told as ``SearchSchemaMissing``."""
    try:
        return read()
    except ProgrammingError as exc:
        if "kb_search" in str(exc):
            raise SearchSchemaMissing() from exc
        raise


# --- the table of pages ----------------------------------------------------------------------------------------


class FacetCodes:
    """Values of each index facet as small numbers (value tuple <-> code), only ever added to."""

    def __init__(self) -> None:
        self.codes: dict[str, dict[tuple[str, ...], int]] = {name: {(): 0} for name in INDEX_FACETS}
        self.values: dict[str, list[tuple[str, ...]]] = {name: [()] for name in INDEX_FACETS}
        self.lock = threading.Lock()

    def code(self, name: str, value: tuple[str, ...]) -> int:
        codes = self.codes[name]
        found = codes.get(value)
        if found is None:
            with self.lock:
                found = codes.get(value)
                if found is None:
                    found = codes[value] = len(self.values[name])
                    self.values[name].append(value)
        return found


@dataclass
class PageTable:
    """Every page of the index at one generation, as arrays in page-id order (never changed once made)."""

    generation: int
    ids: np.ndarray
    assets: np.ndarray
    status: np.ndarray  # index into STATUSES (-1: another)
    current: np.ndarray
    updated: np.ndarray  # seconds since the epoch
    lengths: np.ndarray  # (pages, fields)
    facets: dict[str, np.ndarray]
    facet_codes: FacetCodes
    owners: np.ndarray  # each page's asset's owner
    open_to_all: np.ndarray  # pages of assets for everyone
    #: page id -> (asset id, its audiences' index keys), for the pages of restricted assets (few)
    restricted: dict[int, tuple[int, frozenset[str]]] = field(default_factory=dict)
    _derived: dict[str, Any] = field(default_factory=dict)

    _QUERY = (
        "SELECT id, asset_id, status, current, extract(epoch FROM updated), lengths, kind, product, region, "
        "language, segments, owner_id, audiences FROM kb_search.pages"
    )

    @classmethod
    def load(
        cls,
        connection: Connection,
        generation: int,
        codes: FacetCodes,
        held: PageTable | None,
        changed: list[int] | None,
    ) -> PageTable:
        """The pages at ``generation``: all read afresh, or ``held`` with the ``changed`` assets' pages read again."""
        if held is None or changed is None:
            rows = connection.execute(text(cls._QUERY + " ORDER BY id")).all()
            return cls._of_rows(generation, codes, rows)
        rows = connection.execute(text(cls._QUERY + " WHERE asset_id = ANY(:a) ORDER BY id"), {"a": changed}).all()
        new = cls._of_rows(generation, codes, rows)
        keep = ~np.isin(held.assets, np.array(changed, dtype=np.int64))
        gone = set(changed)
        order = np.argsort(np.concatenate([held.ids[keep], new.ids]), kind="stable")

        def join(old: np.ndarray, added: np.ndarray) -> np.ndarray:
            return np.concatenate([old[keep], added])[order]

        return cls(
            generation=generation,
            ids=join(held.ids, new.ids),
            assets=join(held.assets, new.assets),
            status=join(held.status, new.status),
            current=join(held.current, new.current),
            updated=join(held.updated, new.updated),
            lengths=join(held.lengths, new.lengths),
            facets={name: join(held.facets[name], new.facets[name]) for name in INDEX_FACETS},
            facet_codes=codes,
            owners=join(held.owners, new.owners),
            open_to_all=join(held.open_to_all, new.open_to_all),
            restricted={**{k: v for k, v in held.restricted.items() if v[0] not in gone}, **new.restricted},
        )

    @classmethod
    def _of_rows(cls, generation: int, codes: FacetCodes, rows: list[Any]) -> PageTable:
        count = len(rows)
        status_code = {s: i for i, s in enumerate(STATUSES)}
        facets = {name: np.zeros(count, dtype=np.intp) for name in INDEX_FACETS}
        for at, row in enumerate(rows):
            values = {
                "kind": (row[6],) if row[6] else (),
                "product": (row[7],) if row[7] else (),
                "region": (row[8],) if row[8] else (),
                "language": (row[9],) if row[9] else (),
                "segment": tuple(sorted(row[10] or ())),
            }
            for name in INDEX_FACETS:
                facets[name][at] = codes.code(name, values[name])
        lengths = np.array([row[5] for row in rows], dtype=np.float64).reshape(count, len(FIELDS))
        return cls(
            generation=generation,
            ids=np.array([row[0] for row in rows], dtype=np.int64),
            assets=np.array([row[1] for row in rows], dtype=np.int64),
            status=np.array([status_code.get(row[2], -1) for row in rows], dtype=np.int8),
            current=np.array([bool(row[3]) for row in rows], dtype=bool),
            updated=np.array([float(row[4]) for row in rows], dtype=np.float64),
            lengths=lengths,
            facets=facets,
            facet_codes=codes,
            owners=np.array([row[11] for row in rows], dtype=np.int64),
            open_to_all=np.array([list(row[12]) == [EVERYONE] for row in rows], dtype=bool),
            restricted={
                int(row[0]): (int(row[1]), frozenset(row[12])) for row in rows if list(row[12]) != [EVERYONE]
            },
        )

    def visible(self, audiences: tuple[str, ...] | None, owner_id: int | None) -> np.ndarray:
        """Pages someone may find whose audiences are ``audiences`` (None: all), their own assets' too."""
        if audiences is None:
            return np.ones(self.size, dtype=bool)
        allowed = set(audiences)
        mask = self.open_to_all.copy() if EVERYONE in allowed else np.zeros(self.size, dtype=bool)
        if owner_id is not None:
            mask |= self.owners == owner_id
        members = sorted(pid for pid, (_asset, keys) in self.restricted.items() if keys & allowed)
        if members:
            rows, _held = self.rows_of(np.array(members, dtype=np.int64))
            mask[rows] = True
        return mask

    @property
    def size(self) -> int:
        return int(self.ids.size)

    def rows_of(self, page_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of some page ids (ascending), and which of the ids the table holds."""
        if not self.ids.size:
            return np.zeros(0, dtype=np.intp), np.zeros(page_ids.size, dtype=bool)
        at = np.minimum(np.searchsorted(self.ids, page_ids), self.ids.size - 1)
        held = self.ids[at] == page_ids
        return at[held], held

    def asset_groups(self) -> tuple[np.ndarray, np.ndarray]:
        """The table's assets (sorted) and each page's index among them."""
        if "groups" not in self._derived:
            self._derived["groups"] = np.unique(self.assets, return_inverse=True)
        return self._derived["groups"]  # type: ignore[no-any-return]

    def pages_of(self, asset_id: int) -> np.ndarray:
        if "pages" not in self._derived:
            order = np.argsort(self.assets, kind="stable")
            keys, starts = np.unique(self.assets[order], return_index=True)
            ends = np.append(starts[1:], order.size)
            self._derived["pages"] = {int(k): order[s:e] for k, s, e in zip(keys, starts, ends, strict=True)}
        return self._derived["pages"].get(asset_id, np.zeros(0, dtype=np.intp))  # type: ignore[no-any-return]

    def average_lengths(self) -> np.ndarray:
        if "avg" not in self._derived:
            total = max(self.size, 1)
            avg = self.lengths.sum(axis=0) / total if self.size else np.zeros(len(FIELDS))
            self._derived["avg"] = np.where(avg > 0, avg, 1.0)
        return self._derived["avg"]  # type: ignore[no-any-return]

    def facet_mask(self, name: str, value: str) -> np.ndarray:
        codes = [c for v, c in list(self.facet_codes.codes[name].items()) if value in v]
        return np.isin(self.facets[name], np.array(codes, dtype=np.intp))
