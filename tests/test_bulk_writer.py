"""The rebuild's writer (``kb.search.bulk_writer``) writes exactly what whoosh's own writer writes.

On the real documents of ``tests/realdocs`` (Russian and English, codes, tables) and on edge cases: the segment
files byte for byte with one writer process, also when the pool is spilled to runs on disk; and a rebuild with
writer processes holds the same stored fields and the same postings (terms, weights, positions) per page.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from whoosh import index
from whoosh.writing import SegmentWriter

from kb.search import bulk_writer
from kb.search.bulk_writer import BulkSegmentWriter
from kb.search.documents import IndexPage
from kb.search.whoosh_store import WhooshStore, _documents, schema

REALDOCS = Path(__file__).parent / "realdocs"


def _page(asset_id: int, version_id: int, number: int, body: str, **overrides: object) -> IndexPage:
    values: dict[str, object] = {
        "doc_id": f"{version_id}:{number}",
        "asset_id": asset_id,
        "version_id": version_id,
        "version": 1,
        "current": True,
        "status": "published",
        "page": number,
        "page_title": "",
        "title": f"Документ {asset_id}",
        "description": "",
        "body": body,
        "kind": "catalog",
        "product": "Насосы НВ",
        "region": "Россия",
        "language": "ru",
        "owner_id": 1,
        "owner_name": "Мария",
        "updated": dt.datetime(2026, 1, 1 + asset_id % 28, tzinfo=dt.UTC),
        "stamp": f"stamp-{asset_id}",
        "segments": ["B2B"],
        "tags": ["насосы"],
    }
    values.update(overrides)
    return IndexPage(**values)  # type: ignore[arg-type]


def _real_pages() -> list[IndexPage]:
    pages: list[IndexPage] = []
    asset_id = 0
    for lang in ("ru", "en"):
        manifest = json.loads((REALDOCS / lang / "manifest.json").read_text(encoding="utf-8"))
        for entry in manifest:
            asset_id += 1
            text = (REALDOCS / lang / "docs" / f"{entry['id']}.md").read_text(encoding="utf-8")
            for number, body in enumerate(text.split("\n\f\n"), start=1):
                pages.append(
                    _page(asset_id, asset_id * 10, number, body, title=entry["title"], language=lang,
                          page_title=body.strip().splitlines()[0][:80] if body.strip() else "")
                )  # fmt: skip
    # edge cases: codes, ё, stop words only, empty text, a word many times, an older version, a draft
    pages += [
        _page(9001, 90010, 1, "НВ-250/4, нв250, HB-250 и ГОСТ 12.2.003-91; KX-200/B. Ёлка, ёж, ЁЖ, еж."),
        _page(9001, 90010, 2, "и в на по the of and a"),
        _page(9001, 90010, 3, ""),
        _page(9001, 90010, 4, " ".join(["насос"] * 300 + ["pump"] * 129 + ["насосы-насосов"] * 3)),
        _page(9001, 90011, 1, "Старая версия каталога", current=False, version=2),
        _page(9002, 90020, 1, "Черновик: задвижки ЗКС", status="draft", tags=[], segments=["B2B", "B2G"]),
    ]
    return pages


@pytest.fixture(scope="module")
def documents() -> list[dict[str, object]]:
    pages = _real_pages()
    assert len(pages) > 400
    return list(_documents(pages))


def _segment_files(path: Path, ix) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    (segment,) = ix._segments()
    return {
        file.name.replace(segment.segid, "SEG"): file.read_bytes()
        for file in path.iterdir()
        if segment.segid in file.name
    }


def _write(path: Path, writer_class, documents, spill_bytes: int | None = None):  # type: ignore[no-untyped-def]
    path.mkdir()
    ix = index.create_in(str(path), schema())
    writer = writer_class(ix, compound=False)
    if spill_bytes is not None:
        writer.pool.limit = spill_bytes
    for document in documents:
        writer.add_document(**document)
    runs = len(getattr(writer.pool, "runs", []))
    writer.commit()
    return _segment_files(path, index.open_dir(str(path))), runs


@pytest.mark.parametrize("spill_bytes", [None, 2_000_000], ids=["in-memory", "spilled"])
def test_segment_files_are_whooshs_byte_for_byte(tmp_path: Path, documents, spill_bytes) -> None:
    bulk_writer._word_cache.clear()
    expected, _ = _write(tmp_path / "whoosh", SegmentWriter, documents)
    written, runs = _write(tmp_path / "bulk", BulkSegmentWriter, documents, spill_bytes)
    if spill_bytes is not None:
        assert runs > 2  # the pool was spilled and its runs merged
    assert sorted(written) == sorted(expected)
    assert {"MAIN_SEG.pst", "MAIN_SEG.trm", "MAIN_SEG._stored.col", "MAIN_SEG._body_len.col"} <= set(expected)
    for name in expected:
        assert written[name] == expected[name], name


def _by_page(ix) -> tuple[dict[str, dict], dict[tuple[str, bytes], dict[str, tuple]]]:  # type: ignore[no-untyped-def]
    """Stored fields by doc_id, and every posting (weight, value) by term and doc_id."""
    with ix.searcher() as searcher:
        reader = searcher.reader()
        doc_ids = {docnum: fields["doc_id"] for docnum, fields in reader.iter_docs()}
        stored = {fields["doc_id"]: fields for _docnum, fields in reader.iter_docs()}
        postings: dict[tuple[str, bytes], dict[str, tuple]] = {}
        for fieldname, text in reader.all_terms():
            matcher = reader.postings(fieldname, text)
            found = postings.setdefault((fieldname, text), {})
            while matcher.is_active():
                found[doc_ids[matcher.id()]] = (matcher.weight(), matcher.value())
                matcher.next()
    return stored, postings


def test_a_rebuild_with_writer_processes_holds_what_whoosh_writes(tmp_path: Path, documents, monkeypatch) -> None:
    monkeypatch.setattr("kb.search.whoosh_store.os.cpu_count", lambda: 2)
    (tmp_path / "whoosh").mkdir()
    expected_ix = index.create_in(str(tmp_path / "whoosh"), schema())
    writer = expected_ix.writer()
    for document in documents:
        writer.add_document(**document)
    writer.commit()

    store = WhooshStore(tmp_path / "index")
    by_asset: dict[int, list[IndexPage]] = {}
    for page in _real_pages():
        by_asset.setdefault(page.asset_id, []).append(page)
    assets = list(by_asset.values())  # a batch holds whole assets, as indexing._batches reads them
    written = store.rebuild([sum(assets[start : start + 10], []) for start in range(0, len(assets), 10)])
    assert written == len(documents)
    name = (tmp_path / "index" / "CURRENT").read_text().strip()
    rebuilt = index.open_dir(str(tmp_path / "index" / name))
    assert len(rebuilt._segments()) == 2  # one per writer process
    try:
        assert _by_page(rebuilt) == _by_page(expected_ix)
    finally:
        WhooshStore.close_all()


def test_the_fast_word_path_gives_the_analyzers_terms() -> None:
    from kb.search.analysis import TOKEN_RE, word_terms

    words = set(TOKEN_RE.findall(" ".join(page.body + " " + page.title for page in _real_pages())))
    words |= {"Ёлка", "İstanbul", "Straße", "ǅemal", "x²", "__init__", "НВ-250/4", "ГОСТ12.2.003", "экран", "THE"}
    bulk_writer._word_cache.clear()
    for word in words:
        expected = tuple(term.encode() for term, stopped in word_terms(word, "index", True) if not stopped)
        assert bulk_writer._word_index_terms(word) == expected, word
