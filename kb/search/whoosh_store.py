"""Whoosh index storage: the schema, page documents, generations, one writer at a time, a searcher per process.

The index lives in generations under ``KB_INDEX_DIR`` (``gen-000001``, ...); the file ``CURRENT`` names the
one in use, and each generation's ``FORMAT`` file the format it was written in. A rebuild writes a new
generation (one writer process per core, each its own segment) and switches ``CURRENT`` when it is complete,
so searches keep working on the old one meanwhile. Every write (an asset's pages, or a rebuild) holds an
exclusive file lock, so only one process writes at a time whatever the number of server and worker
processes; an asset's pages are committed before small segments are merged, and merges leave big segments
alone, so a new version is searchable without waiting for a merge. Searchers are kept per process and
refreshed only when the index changed, checked at most once a second.

The index holds what changes with a version or an edit only: ratings, flags and review dates are read from
the database when searching (``kb.search.signals``), so feedback never re-indexes an asset.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from whoosh import index
from whoosh.fields import BOOLEAN, DATETIME, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.filedb import structfile
from whoosh.util import fib
from whoosh.writing import MERGE_SMALL

from kb.search import decoded
from kb.search.analysis import MixedAnalyzer, spelling_analyzer
from kb.search.bulk_writer import BulkMpWriter, BulkSegmentWriter
from kb.search.documents import IndexPage

CURRENT = "CURRENT"
LOCK = "write.lock"
LOCK_TIMEOUT_S = 300
REFRESH_CHECK_S = 1.0
#: A replaced searcher is closed this long after: no search lasts that long, and one may still be reading it
#: (each searcher maps the index files anew: keeping them longer costs memory when versions are published often).
RETIRE_AFTER_S = 10.0
#: The index format this kb writes: 2 added code keys and moved ratings and freshness out of the index; 3 added
#: each page's audiences (restricted assets are found only by their audiences, owner and admins).
FORMAT = 3
FORMAT_FILE = "FORMAT"
#: Writer processes for a rebuild, at most one per core.
REBUILD_PROCESSES = 4
#: Postings each rebuild writer process keeps in memory (estimated MB) before it sorts them into a run on disk.
REBUILD_POOL_MB = 256
#: Segments with more documents than this are never merged after an asset is indexed (a rebuild or
#: ``kb index optimize`` does that): a merge rewrites every posting of its segments, so this bounds its time.
MERGE_MAX_DOCS = 2_000
#: ...but past this many segments in all (each costs every search a little), the smallest are merged into one
#: until half that many are left: a bulk import writes segments bigger than MERGE_MAX_DOCS one after another.
MAX_SEGMENTS = 10
TEXT_FIELDS = {"title": 4.0, "tags": 3.0, "page_title": 1.5, "description": 1.5, "body": 1.0}
FACET_FIELDS = {"kind": "kind", "product": "product", "segment": "segment", "region": "region",
                "language": "language"}  # fmt: skip


class _ViewReader:
    """A read-only file over a memoryview of the mapped index, without copying it.

    Whoosh reads the parts of a compound segment file through ``BufferFile``, which wraps each part's
    memoryview in a ``BytesIO``: a private copy of the whole part. At 10,000 assets that was about 430 MB per
    searcher on top of the mapped file itself. This reader serves the same reads from the mapping."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._at = 0

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(self._at + size, len(self._view))
        data = bytes(self._view[self._at : end])
        self._at = end
        return data

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        limit = len(self._view) if size is None or size < 0 else min(self._at + size, len(self._view))
        end = self._at
        while end < limit and self._view[end] != 0x0A:
            end += 1
        return self.read(min(end + 1, limit) - self._at)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._at, os.SEEK_END: len(self._view)}[whence]
        self._at = max(0, base + offset)
        return self._at

    def tell(self) -> int:
        return self._at

    def flush(self) -> None:
        """Nothing to flush: the file is read-only."""

    def close(self) -> None:
        self._view = memoryview(b"")


def _buffer_file_init(self: Any, buf: Any, name: str | None = None, onclose: Any = None) -> None:
    # whoosh.filedb.structfile.BufferFile.__init__, reading through _ViewReader instead of a BytesIO copy
    self._buf = buf
    self._name = name
    self.file = _ViewReader(memoryview(buf))
    self.onclose = onclose
    self.is_real = False
    self.is_closed = False


structfile.BufferFile.__init__ = _buffer_file_init  # whoosh-reloaded is pinned (pyproject.toml)


class IndexOutdated(Exception):
    """The index was written in an older format: ``kb index rebuild`` writes it anew."""

    def __str__(self) -> str:
        return "the search index was built by an older kb; run: kb index rebuild"


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
        # "everyone", or the ids of the audiences the asset is restricted to (kb.audiences.index_keys).
        audience=KEYWORD(stored=True, commas=True),
        owner_name=STORED,
        updated=DATETIME(stored=True, sortable=True),
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
        "audience": ",".join(page.audiences),
        "owner_name": page.owner_name,
        "updated": page.updated.replace(tzinfo=None),
        "stamp": page.stamp,
    }


#: A word of the spelling vocabulary: letters only, three or more (as ``analysis.spelling_analyzer``).
SPELLING_WORD = re.compile(r"[^\W\d_]{3,}")


def _documents(pages: list[IndexPage]) -> Iterator[dict[str, Any]]:
    """The index documents of some assets' pages; each published current version's words once, on its first page.

    "Did you mean" picks from the ``words`` field. Its words come from what everyone may find (drafts, older
    versions and assets restricted to audiences stay out of suggestions), listed once per asset rather than per
    page: the vocabulary and its frequencies by asset are what suggestions need, and indexing every page's words
    again would cost nearly as much as the body itself.
    """
    texts: dict[int, list[str]] = {}
    for page in pages:
        if page.current and page.status == "published" and not page.restricted:
            texts.setdefault(page.version_id, [page.title]).extend((page.page_title, page.body))
    for page in pages:
        document = _document(page)
        text = texts.pop(page.version_id, None)
        if text is not None:
            document["words"] = sorted(set(SPELLING_WORD.findall("\n".join(text).lower().replace("ё", "е"))))
        yield document


def _small(counts_or_segments: list[Any]) -> list[Any]:
    return [s for s in counts_or_segments if (s if isinstance(s, int) else s.doc_count_all()) <= MERGE_MAX_DOCS]


def _merge_due(counts: list[int]) -> bool:
    """Whether whoosh's MERGE_SMALL policy, applied to the segments of at most MERGE_MAX_DOCS, would merge, or
    there are more than MAX_SEGMENTS segments."""
    if len(counts) > MAX_SEGMENTS:
        return True
    total = 0
    for i, count in enumerate(sorted(_small(counts))):
        total += count
        if i > 3 and total < fib(i + 5):
            return True
    return False


def _merge_small_segments(writer: Any, segments: list[Any]) -> list[Any]:
    """whoosh's MERGE_SMALL among the segments of at most MERGE_MAX_DOCS documents, bigger ones as they are; and
    with more than MAX_SEGMENTS segments, the smallest merged into one until half that many are left."""
    if len(segments) > MAX_SEGMENTS:
        from whoosh.reading import SegmentReader

        by_size = sorted(segments, key=lambda s: s.doc_count_all())
        merged = by_size[: len(segments) - MAX_SEGMENTS // 2 + 1]
        for segment in merged:
            reader = SegmentReader(writer.storage, writer.schema, segment)
            writer.add_reader(reader)
            reader.close()
        return by_size[len(merged) :]
    small = _small(segments)
    return [s for s in segments if s not in small] + MERGE_SMALL(writer, small)


class WhooshStore:
    """A Whoosh index directory: its generations, its one writer at a time, and a searcher per process."""

    _searchers: dict[str, tuple[str, Any, float]] = {}
    _retired: list[tuple[Any, float]] = []  # replaced searchers, closed after RETIRE_AFTER_S
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
        ix = index.create_in(str(path), schema())
        (path / FORMAT_FILE).write_text(f"{FORMAT}\n", encoding="ascii")
        return name, ix

    def _format(self, name: str) -> int:
        try:
            return int((self.root / name / FORMAT_FILE).read_text(encoding="ascii").strip())
        except (FileNotFoundError, ValueError):
            return 1

    def outdated(self) -> bool:
        """Whether the index in use was built in an older format than this kb writes."""
        name = self._current_name()
        return name is not None and (self.root / name).is_dir() and self._format(name) != FORMAT

    def _open_for_writing(self) -> Any:
        name = self._current_name()
        if name is None or not (self.root / name).is_dir():
            name, ix = self._new_generation()
            self._switch_to(name)
            return ix
        if self._format(name) != FORMAT:
            raise IndexOutdated()
        ix = index.open_dir(str(self.root / name))
        return ix

    # writing

    def delete_asset(self, asset_id: int) -> None:
        self.replace_asset(asset_id, [])

    def replace_asset(self, asset_id: int, pages: list[IndexPage]) -> None:
        self.replace_assets({asset_id: pages})

    def replace_assets(self, pages_by_asset: dict[int, list[IndexPage]]) -> None:
        """Each asset's documents replaced by its ``pages`` (none: removed), all in one commit."""
        if not pages_by_asset:
            return
        with self._write_lock():
            ix = self._open_for_writing()
            writer = ix.writer()
            try:
                for asset_id, pages in pages_by_asset.items():
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
                self._forget_decoded(ix)
            else:
                merger.cancel()
        self._changed()

    def _forget_decoded(self, ix: Any) -> None:
        """Drops the decoded postings of the segments a merge replaced (the caller holds the write lock)."""
        decoded.forget(Path(ix.storage.folder), (segment.segment_id() for segment in ix._segments()))

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
            # BulkSegmentWriter writes the segments whoosh's writer would, a few times faster (bulk_writer).
            if processes > 1:
                writer = BulkMpWriter(ix, procs=processes, limitmb=REBUILD_POOL_MB)
            else:
                writer = BulkSegmentWriter(ix, limitmb=REBUILD_POOL_MB)
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
            ix = self._open_for_writing()
            ix.optimize()
            self._forget_decoded(ix)
        self._changed()

    # reading

    def searcher(self) -> Any:
        """This process's searcher of the index in use, refreshed when the index changed (checked once a second)."""
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
                    # A search under way may still read the old searcher (its candidates carry it): close it
                    # only once no search can be that old.
                    self._retired.append((cached[1], now))
                self._close_retired(now)
                searcher = index.open_dir(str(self.root / str(name))).searcher()
            self._searchers[key] = (str(name), searcher, now)
            return searcher

    @classmethod
    def _close_retired(cls, now: float) -> None:
        """Closes the searchers replaced more than ``RETIRE_AFTER_S`` ago (the caller holds the lock)."""
        keep = []
        for searcher, retired_at in cls._retired:
            if now - retired_at > RETIRE_AFTER_S:
                searcher.close()
            else:
                keep.append((searcher, retired_at))
        cls._retired[:] = keep

    @classmethod
    def close_all(cls) -> None:
        with cls._searchers_lock:
            for _name, searcher, _checked in cls._searchers.values():
                searcher.close()
            cls._searchers.clear()
            for searcher, _retired_at in cls._retired:
                searcher.close()
            cls._retired.clear()

    def stamps(self) -> dict[int, str]:
        searcher = self.searcher()
        found: dict[int, str] = {}
        for fields in searcher.all_stored_fields():
            if fields.get("current"):
                found[int(fields["asset"])] = fields["stamp"]
        return found
