#!/usr/bin/env python3
"""Search quality on real public documents (``tests/realdocs``): kb's search against a plain SQLite FTS5 baseline.

Run by hand or with ``make relevance``; ``tests/test_relevance_real.py`` runs the same evaluation with floors::

    .venv/bin/python benchmarks/relevance_real.py                      # everything, about a minute or two
    .venv/bin/python benchmarks/relevance_real.py --only typos         # one category of queries
    .venv/bin/python benchmarks/relevance_real.py --json figures.json  # the figures, for comparing runs
    .venv/bin/python benchmarks/relevance_real.py --work /tmp/rr       # keep the instance (--reuse: search it again)

In one run:

1. build    every document of ``tests/realdocs/{ru,en}/manifest.json`` as a real file of its format
            (``tests/realdocs/build.py``; cached between runs in ``--files``);
2. publish  each file as an asset of a new kb instance through ``kb.publishing.Publisher`` (title and language
            from the manifest, kind from the format and the source), as a marketing user;
3. worker   real ``kb.worker.Worker``s (``--workers``, side by side) run the extraction jobs (kb's sandboxed
            extraction) and the index jobs; then the index is optimized (``kb index optimize``), so the figures
            do not depend on the order the jobs ran in;
4. kb       every query through ``kb.search.search`` (the one search facade, corrections included), first page
            of 10;
5. fts5     the baseline: SQLite FTS5 (``unicode61 remove_diacritics 2``) over the same text kb extracted (one row
            per document: its title and every page of its current version), the query's words each quoted
            and joined by spaces (all must match), ordered by ``bm25()``;
6. report   per category and overall, for both: MRR@10 (first grade-2 document), nDCG@10 (gains 2 and 1, ideal
            from the grades), recall@10 (of the grade-2 documents) and the share of queries whose first page
            is empty; then kb's misses (queries whose first result is not a grade-2 document).

Every ``KB_*`` variable of the calling shell is ignored: the instance has its own directory and settings.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TESTS = ROOT / "tests"
for _path in (ROOT, TESTS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from realdocs import build as realdocs  # noqa: E402  (tests/realdocs/build.py)

PER_PAGE = 10
K = 10
#: Built files are cached here between runs (the build skips files whose source did not change).
DEFAULT_FILES = Path(tempfile.gettempdir()) / "kb-realdocs-files"
MARKER = ".kb-relevance-real"
#: Real workers running the extraction and index jobs side by side (threads; extraction runs in child processes).
DEFAULT_WORKERS = 2
SECRET_KEY = "relevance-real-secret-key-" + "r" * 40
PASSWORD = "relevance-real-password-1"
#: Categories in the order the report lists them; any other category follows, in order of appearance.
CATEGORY_ORDER = (
    "word-forms",
    "phrases",
    "questions",
    "long",
    "mixed",
    "typos",
    "layout",
    "yo",
    "codes",
    "codes-variant",
)
#: Sources whose documents are contracts, procurement templates and tax law: published as tender templates.
TENDER_SOURCES = ("CommonPaper/", "18F/acq-templates", "bronxtc52/nalogovyy-kodeks-2025")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the instance -------------------------------------------------------------------------------------------


@dataclass
class Instance:
    """A kb instance holding the real documents: its app, settings, database, and asset id -> document id."""

    work: Path
    app: Any
    settings: Any
    db: Any
    doc_of_asset: dict[int, str]
    titles: dict[str, str]  # document id -> title
    timings: dict[str, float] = field(default_factory=dict)

    def close(self) -> None:
        from kb.search import reset_backend

        reset_backend()
        self.db.dispose()


def kind_of(entry: dict[str, Any]) -> str:
    """The asset kind a person would choose: decks are presentations, workbooks catalogues, contracts and
    procurement texts tender templates, case studies case studies, the rest (product documentation) datasheets."""
    if entry["format"] == "pptx":
        return "presentation"
    if entry["format"] == "xlsx":
        return "catalog"
    if "case stud" in entry["title"].lower():
        return "case_study"
    if entry["source"]["repo"].startswith(TENDER_SOURCES):
        return "tender_template"
    return "datasheet"


def filename_of(doc: realdocs.Doc) -> str:
    """The name a person would upload the file under: its title, made file-safe."""
    stem = re.sub(r"[^\w\-]+", "-", doc.title).strip("-")[:80] or doc.id
    return f"{stem}.{doc.format}"


def kb_config(instance: Path, postgres: str | None = None) -> dict[str, object]:
    """The instance's settings: SQLite and Whoosh, or with ``postgres`` (an empty database's URL) kb on PostgreSQL
    and its search backend."""
    return {
        "KB_INSTANCE_DIR": str(instance),
        "KB_DATABASE_URL": postgres or f"sqlite:///{instance / 'kb.sqlite3'}",
        "KB_INDEX_DIR": str(instance / "index"),
        "KB_BLOB_DIR": str(instance / "blobs"),
        "KB_SEARCH_BACKEND": "postgres" if postgres else "whoosh",
        "KB_SECRET_KEY": SECRET_KEY,
        "TESTING": True,
    }


def _without_kb_environment() -> dict[str, str]:
    """Removes the shell's ``KB_*`` variables (they would configure this instance); returns them."""
    removed = {k: v for k, v in os.environ.items() if k.startswith("KB_")}
    for key in removed:
        del os.environ[key]
    return removed


def prepare(
    work: Path, files: Path = DEFAULT_FILES, *, reuse: bool = False, workers: int = 1, postgres: str | None = None
) -> Instance:
    """A kb instance in ``work/instance`` with every real document published, extracted and indexed (with
    ``postgres``, an empty PostgreSQL database's URL: kb and its search index in that database).

    With ``reuse`` and an instance from an earlier run in ``work``, nothing is published again: the index is
    rebuilt from that instance's database (so changes to indexing apply) and searched. ``workers`` real
    workers run the jobs side by side, each in a thread of its own (extraction runs in child processes).
    """
    from sqlalchemy import select

    from kb import accounts, create_app, migrate
    from kb.blobs import BlobStore
    from kb.models import Asset, Role
    from kb.publishing import AssetFields, FileUpload, Publisher
    from kb.search import backend_of
    from kb.search.indexing import rebuild
    from kb.worker import WorkerContext

    timings: dict[str, float] = {}
    started = time.perf_counter()
    docs = realdocs.build(files)
    entries = {entry["id"]: entry for entry in realdocs.manifest()}
    timings["build"] = time.perf_counter() - started

    instance_dir = work / "instance"
    reusing = reuse and not postgres and (work / MARKER).is_file() and (instance_dir / "kb.sqlite3").is_file()
    if not reusing:
        if instance_dir.exists():
            if not (work / MARKER).is_file():
                raise SystemExit(f"{work} holds an instance this command did not make; choose another --work")
            shutil.rmtree(instance_dir)
        instance_dir.mkdir(parents=True)
        (work / MARKER).write_text("made by benchmarks/relevance_real.py; safe to delete\n", encoding="utf-8")

    app = create_app(kb_config(instance_dir, postgres))
    db = app.extensions["kb_db"]
    settings = app.config["KB_SETTINGS"]
    blobs = BlobStore(settings.blob_dir)
    titles = {doc.id: doc.title for doc in docs}

    if reusing:
        started = time.perf_counter()
        migrate.upgrade(db)
        rebuild(db, backend_of(settings))
        timings["rebuild"] = time.perf_counter() - started
    else:
        started = time.perf_counter()
        migrate.upgrade(db)
        owner = accounts.create_user(db, "marketing@relevance.kb", PASSWORD, Role.MARKETING, "Realdocs Marketing")
        publisher = Publisher(db, blobs)
        for doc in docs:
            entry = entries[doc.id]
            fields = AssetFields(title=doc.title, kind=kind_of(entry), language=doc.lang, owner_id=owner.id)
            with doc.path.open("rb") as handle:
                publisher.create_asset(owner.id, fields, FileUpload(handle, filename_of(doc)))
        timings["publish"] = time.perf_counter() - started
        started = time.perf_counter()
        run_workers(WorkerContext(db, blobs, settings), workers)
        timings["worker"] = time.perf_counter() - started
        # The index is built from the database in one pass, as ``kb index rebuild`` does: the same documents the
        # index jobs would write, without a commit and merge per asset (the job pipeline has tests of its own).
        started = time.perf_counter()
        rebuild(db, backend_of(settings))
        timings["rebuild"] = time.perf_counter() - started
    # One segment, as ``kb index optimize`` leaves it: deleted documents (each asset's title-only document, replaced
    # once its text was extracted) no longer count in the statistics, so the figures do not depend on the order
    # in which the workers happened to run the jobs.
    started = time.perf_counter()
    backend_of(settings).optimize()
    timings["optimize"] = time.perf_counter() - started

    by_title = {doc.title: doc.id for doc in docs}
    with db.session() as session:
        doc_of_asset = {asset.id: by_title[asset.title] for asset in session.scalars(select(Asset))}
    missing = sorted(set(by_title.values()) - set(doc_of_asset.values()))
    if missing:
        raise RuntimeError(f"documents not in the instance: {', '.join(missing)}")
    return Instance(work, app, settings, db, doc_of_asset, titles, timings)


def run_workers(context: Any, count: int) -> None:
    """Runs every job with ``count`` real workers side by side, then once more until none is left (a job one
    worker enqueued after the others stopped)."""
    from kb.search.indexing import INDEX_JOB
    from kb.worker import Worker as KbWorker

    class Worker(KbWorker):
        """A real worker that leaves index jobs alone: the index is rebuilt in one pass afterwards."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.handlers = {kind: handler for kind, handler in self.handlers.items() if kind != INDEX_JOB}

    if count > 1:
        failures: list[BaseException] = []

        def run(number: int) -> None:
            try:
                Worker(context, f"relevance-real-{number}").run_until_idle()
            except BaseException as exc:  # noqa: BLE001  (re-raised in the calling thread)
                failures.append(exc)

        threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(1, count + 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]
    Worker(context, "relevance-real").run_until_idle()


def extraction_problems(instance: Instance) -> list[str]:
    """Documents whose text kb could not extract (they can only be found by title)."""
    from sqlalchemy import select

    from kb.models import Asset, AssetVersion

    with instance.db.session() as session:
        rows = session.execute(
            select(Asset.id, AssetVersion.extraction_status, AssetVersion.extraction_error).join(
                AssetVersion, AssetVersion.id == Asset.current_version_id
            )
        ).all()
    return [
        f"{instance.doc_of_asset[asset_id]}: {status} {error or ''}".strip()
        for asset_id, status, error in rows
        if status != "done"
    ]


# --- searching ----------------------------------------------------------------------------------------------


@dataclass
class Answer:
    """What one engine returned for a query: document ids of the first page, best first."""

    docs: list[str]
    corrected: str = ""  # the text kb searched instead, when it corrected the query
    seconds: float = 0.0


def search_kb(instance: Instance, text: str) -> Answer:
    from kb.search import SearchRequest, backend_of, search

    started = time.perf_counter()
    with instance.db.session() as session:
        results = search(backend_of(instance.settings), SearchRequest(text=text, per_page=PER_PAGE), session=session)
    seconds = time.perf_counter() - started
    docs = [instance.doc_of_asset.get(hit.asset_id, f"asset-{hit.asset_id}") for hit in results.hits]
    return Answer(docs[:K], results.corrected.text if results.corrected else "", seconds)


class Fts5:
    """The baseline a plain integration would write: SQLite FTS5 over the text kb extracted and stored."""

    def __init__(self, instance: Instance) -> None:
        from sqlalchemy import select

        from kb.models import Asset, ExtractedPage

        self.connection = sqlite3.connect(":memory:")
        self.connection.execute(
            "CREATE VIRTUAL TABLE documents USING fts5("
            "doc_id UNINDEXED, title, body, tokenize='unicode61 remove_diacritics 2')"
        )
        rows = []
        with instance.db.session() as session:
            for asset in session.scalars(select(Asset).order_by(Asset.id)):
                texts = session.scalars(
                    select(ExtractedPage.text)
                    .where(ExtractedPage.version_id == asset.current_version_id)
                    .order_by(ExtractedPage.number)
                ).all()
                rows.append((instance.doc_of_asset[asset.id], asset.title, "\n\n".join(texts)))
        self.connection.executemany("INSERT INTO documents (doc_id, title, body) VALUES (?, ?, ?)", rows)
        self.connection.commit()

    @staticmethod
    def query_of(text: str) -> str:
        """Each word of the query quoted (so FTS5 syntax in it is plain text), joined by OR: bm25 ranks the
        documents with more (and rarer) words first, as a plain integration for typed questions would."""
        return " OR ".join('"' + token.replace('"', '""') + '"' for token in re.findall(r"\w+", text))

    def search(self, text: str) -> Answer:
        started = time.perf_counter()
        query = self.query_of(text)
        docs: list[str] = []
        if query:
            try:
                docs = [
                    row[0]
                    for row in self.connection.execute(
                        "SELECT doc_id FROM documents WHERE documents MATCH ? ORDER BY bm25(documents) LIMIT ?",
                        (query, K),
                    )
                ]
            except sqlite3.Error:
                docs = []
        return Answer(docs, "", time.perf_counter() - started)

    def close(self) -> None:
        self.connection.close()


# --- metrics ------------------------------------------------------------------------------------------------


def first_relevant_rank(docs: list[str], grades: dict[str, int]) -> int | None:
    """The 1-based rank of the first grade-2 document in the top ``K``, or None."""
    for rank, doc_id in enumerate(docs[:K], start=1):
        if grades.get(doc_id) == 2:
            return rank
    return None


def ndcg(docs: list[str], grades: dict[str, int]) -> float:
    """nDCG@K with gains 2 and 1 (the grades), the ideal ranking taken from the grades."""
    dcg = sum(grades.get(doc_id, 0) / math.log2(rank + 1) for rank, doc_id in enumerate(docs[:K], start=1))
    ideal = sorted(grades.values(), reverse=True)[:K]
    best = sum(gain / math.log2(rank + 1) for rank, gain in enumerate(ideal, start=1))
    return dcg / best if best else 0.0


def recall(docs: list[str], grades: dict[str, int]) -> float:
    wanted = {doc_id for doc_id, grade in grades.items() if grade == 2}
    return len(wanted & set(docs[:K])) / len(wanted) if wanted else 0.0


def scores(answer: Answer, grades: dict[str, int]) -> dict[str, float]:
    rank = first_relevant_rank(answer.docs, grades)
    return {
        "mrr": 1.0 / rank if rank else 0.0,
        "ndcg": ndcg(answer.docs, grades),
        "recall": recall(answer.docs, grades),
        "empty": 0.0 if answer.docs else 1.0,
    }


METRICS = ("mrr", "ndcg", "recall", "empty")
ENGINES = ("kb", "fts5")


def mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


# --- the evaluation -----------------------------------------------------------------------------------------


@dataclass
class QueryResult:
    q: str
    category: str
    lang: str
    grades: dict[str, int]
    kb: Answer
    fts5: Answer
    kb_scores: dict[str, float]
    fts5_scores: dict[str, float]

    @property
    def kb_rank(self) -> int | None:
        return first_relevant_rank(self.kb.docs, self.grades)


@dataclass
class Report:
    results: list[QueryResult]
    titles: dict[str, str]
    corpus: dict[str, Any]
    timings: dict[str, float]
    extraction_problems: list[str]

    def categories(self) -> list[str]:
        present = list(dict.fromkeys(r.category for r in self.results))
        return [c for c in CATEGORY_ORDER if c in present] + [c for c in present if c not in CATEGORY_ORDER]

    def group(self, name: str) -> list[QueryResult]:
        """The results of a category, of a language (``ru``, ``en``) or ``all``."""
        if name == "all":
            return self.results
        if name in realdocs.LANGUAGES:
            return [r for r in self.results if r.lang == name]
        return [r for r in self.results if r.category == name]

    def figures(self, name: str) -> dict[str, Any]:
        group = self.group(name)
        return {
            "n": len(group),
            **{
                engine: {m: round(mean(getattr(r, f"{engine}_scores")[m] for r in group), 4) for m in METRICS}
                for engine in ENGINES
            },
        }

    def rows(self) -> list[str]:
        return [*self.categories(), *realdocs.LANGUAGES, "all"]

    def misses(self) -> list[QueryResult]:
        """kb's answers whose first result is not a grade-2 document, by category."""
        order = {c: i for i, c in enumerate(self.categories())}
        missed = [r for r in self.results if r.kb_rank != 1]
        return sorted(missed, key=lambda r: (order[r.category], r.lang, r.kb_rank or K + 1))

    def to_json(self) -> dict[str, Any]:
        return {
            "when": datetime.now().astimezone().isoformat(timespec="seconds"),
            "k": K,
            "corpus": self.corpus,
            "timings_s": {k: round(v, 2) for k, v in self.timings.items()},
            "extraction_problems": self.extraction_problems,
            "figures": {name: self.figures(name) for name in self.rows()},
            "queries": [
                {
                    "q": r.q,
                    "category": r.category,
                    "lang": r.lang,
                    "grades": r.grades,
                    "kb": {**asdict(r.kb), "scores": r.kb_scores, "rank": r.kb_rank},
                    "fts5": {**asdict(r.fts5), "scores": r.fts5_scores},
                }
                for r in self.results
            ],
        }


def corpus_facts() -> dict[str, Any]:
    entries = realdocs.manifest()
    queries = realdocs.queries()
    return {
        "documents": len(entries),
        "by_language": {lang: sum(e["lang"] == lang for e in entries) for lang in realdocs.LANGUAGES},
        "by_format": dict(sorted(_count(e["format"] for e in entries).items())),
        "sources": len({e["source"]["repo"] for e in entries}),
        "queries": len(queries),
        "queries_by_language": {lang: sum(q["lang"] == lang for q in queries) for lang in realdocs.LANGUAGES},
        "queries_by_category": dict(sorted(_count(q["category"] for q in queries).items())),
    }


def _count(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def check_queries(queries: list[dict[str, Any]], known: set[str]) -> None:
    for query in queries:
        unknown = sorted(set(query["grades"]) - known)
        if unknown:
            raise ValueError(f"query {query['q']!r} grades unknown documents: {', '.join(unknown)}")
        if 2 not in query["grades"].values():
            raise ValueError(f"query {query['q']!r} has no grade-2 document")


def evaluate(
    work: Path,
    files: Path = DEFAULT_FILES,
    *,
    only: str | None = None,
    reuse: bool = False,
    workers: int = 1,
    progress: Callable[[str], None] = log,
    postgres: str | None = None,
) -> Report:
    """Prepares the instance in ``work`` (on PostgreSQL with ``postgres``), runs every query (of category
    ``only``) on kb and on FTS5."""
    started = time.perf_counter()
    queries = realdocs.queries()
    check_queries(queries, {e["id"] for e in realdocs.manifest()})
    if only:
        queries = [q for q in queries if q["category"] == only]
        if not queries:
            raise SystemExit(f"no queries of category {only!r}")
    progress("building the documents and loading them into kb ...")
    instance = prepare(work, files, reuse=reuse, workers=workers, postgres=postgres)
    try:
        timings = dict(instance.timings)
        progress("  " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items()))
        problems = extraction_problems(instance)
        t0 = time.perf_counter()
        fts = Fts5(instance)
        timings["fts5_index"] = time.perf_counter() - t0
        results = []
        t0 = time.perf_counter()
        for query in queries:
            kb_answer = search_kb(instance, query["q"])
            fts_answer = fts.search(query["q"])
            results.append(
                QueryResult(
                    q=query["q"],
                    category=query["category"],
                    lang=query["lang"],
                    grades=dict(query["grades"]),
                    kb=kb_answer,
                    fts5=fts_answer,
                    kb_scores=scores(kb_answer, query["grades"]),
                    fts5_scores=scores(fts_answer, query["grades"]),
                )
            )
        fts.close()
        timings["queries"] = time.perf_counter() - t0
        timings["kb_search"] = sum(r.kb.seconds for r in results)
        timings["fts5_search"] = sum(r.fts5.seconds for r in results)
        timings["total"] = time.perf_counter() - started
        return Report(results, instance.titles, corpus_facts(), timings, problems)
    finally:
        instance.close()


# --- the printed report -------------------------------------------------------------------------------------


def format_table(report: Report) -> str:
    names = {"mrr": "MRR@10", "ndcg": "nDCG@10", "recall": "R@10", "empty": "empty"}
    width = max(14, *(len(name) for name in report.rows()))
    head_engines = f"{'':<{width}} {'':>4}  " + "  ".join(f"{'-- ' + e + ' ':-<31}" for e in ENGINES)
    head = f"{'category':<{width}} {'n':>4}  " + "  ".join(" ".join(f"{names[m]:>7}" for m in METRICS) for _ in ENGINES)
    lines = [head_engines, head, "-" * len(head)]
    for name in report.rows():
        if name in (realdocs.LANGUAGES[0], "all"):
            lines.append("-" * len(head))
        figures = report.figures(name)
        cells = "  ".join(" ".join(f"{figures[e][m]:>7.3f}" for m in METRICS) for e in ENGINES)
        lines.append(f"{name:<{width}} {figures['n']:>4}  {cells}")
    return "\n".join(lines)


def format_misses(report: Report, limit: int | None = None) -> str:
    misses = report.misses()
    lines = [f"kb misses: {len(misses)} of {len(report.results)} queries without a grade-2 document first"]
    for result in misses[:limit]:
        rank = str(result.kb_rank) if result.kb_rank else "-"
        query = result.q if len(result.q) <= 90 else result.q[:87] + "..."
        corrected = f"  (searched as {result.kb.corrected!r})" if result.kb.corrected else ""
        wanted = ", ".join(d for d, g in result.grades.items() if g == 2)
        lines.append(f"[{result.category}/{result.lang}] rank {rank:>2}  {query!r}{corrected}  wants {wanted}")
        if not result.kb.docs:
            lines.append("      (no results)")
        for doc_id in result.kb.docs[:3]:
            grade = result.grades.get(doc_id, 0)
            title = report.titles.get(doc_id, "?")
            lines.append(f"      {grade} {doc_id}  {title[:80]}")
    return "\n".join(lines)


def format_report(report: Report) -> str:
    c = report.corpus
    langs = ", ".join(f"{n} {lang}" for lang, n in c["by_language"].items())
    parts = [
        f"Real documents: {c['documents']} ({langs}) from {c['sources']} sources; {len(report.results)} queries.",
        "",
        format_table(report),
        "",
        format_misses(report),
    ]
    if report.extraction_problems:
        parts += ["", "Extraction problems:", *("  " + p for p in report.extraction_problems)]
    t = report.timings
    parts += [
        "",
        "Time: "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in t.items() if name != "total")
        + f"; total {t['total']:.1f} s",
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures (and every query's answers) to this file")
    parser.add_argument("--work", type=Path, help="directory for the kb instance, kept after the run (default: temp)")
    parser.add_argument("--reuse", action="store_true", help="with --work: search the instance of an earlier run")
    parser.add_argument("--only", metavar="CATEGORY", help="only the queries of this category")
    parser.add_argument(
        "--workers", type=int, default=DEFAULT_WORKERS, help=f"workers running the jobs (default {DEFAULT_WORKERS})"
    )
    parser.add_argument("--files", type=Path, default=DEFAULT_FILES, help=f"built files (default {DEFAULT_FILES})")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="kb and its search index in this empty PostgreSQL database (postgresql+psycopg://...)",
    )
    args = parser.parse_args(argv)
    if args.reuse and not args.work:
        parser.error("--reuse needs --work")
    if args.reuse and args.postgres:
        parser.error("--reuse is for a SQLite instance; --postgres builds a new one")
    _without_kb_environment()
    started = time.perf_counter()
    temporary = None
    if args.work:
        work = args.work.resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        temporary = tempfile.TemporaryDirectory(prefix="kb-relevance-real-")
        work = Path(temporary.name)
    try:
        report = evaluate(
            work, args.files, only=args.only, reuse=args.reuse, workers=max(1, args.workers), postgres=args.postgres
        )
    finally:
        if temporary is not None:
            temporary.cleanup()
    print(format_report(report))
    if args.work:
        print(f"The instance is kept in {work / 'instance'}.")
    if args.json:
        data = report.to_json()
        data["timings_s"]["command"] = round(time.perf_counter() - started, 2)
        args.json.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"Figures written to {args.json}.")
    print(f"Run time of the command: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
