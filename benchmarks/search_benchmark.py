#!/usr/bin/env python3
"""Search benchmark (issue 4): a synthetic library loaded through kb's real publishing and indexing path, then
search measured end to end over HTTP against ``kb serve`` and, in the same run, straight on the Whoosh index.

Run by hand, never by the test suite (see benchmarks/README.md)::

    .venv/bin/python benchmarks/search_benchmark.py                  # 1,000 assets, a few minutes
    .venv/bin/python benchmarks/search_benchmark.py --assets 10000   # the full run, about 18 million words

Phases, each timed on its own:

1. generate  N assets (``synthetic_library``, fixed seed) as ODP files, one slide per page of about 300 words;
2. load      ``Publisher.create_asset`` for each file (the publishing path of the web form and the API);
3. index     the ``index_asset`` jobs publishing enqueued, by the real ``Worker`` (assets found by title);
4. extract   the ``extract_version`` jobs, by real ``Worker`` processes (each file in kb's extraction sandbox);
5. index     the ``index_asset`` jobs extraction enqueued: every page's text goes into the index (words/s);
6. rebuild   ``kb index rebuild`` (words/s, peak memory) and the size of the new index generation;
7. serve     ``kb serve --workers 2`` on a free port; a sales user's API token; the query mix over HTTP,
             sequentially and with concurrent clients (latency percentiles, requests/s);
8. floor     the same queries on the same index in this process: plain Whoosh (parser, top hits, snippets of
             the hits shown) and kb's ``kb.search.search``, sequentially;
9. fresh     a new version with a unique word, a real ``kb worker``: time from its extraction until the HTTP
             search API finds the word;
10. memory   the resident memory of each server worker process;
and from ``load_phases`` (issue 12): a varied mix of distinct queries (sequential, then 1, 2, 4, 8 clients), the
first search after an index commit, ingestion of N files through the API while two clients search (with the
memory of ``kb worker``), and the memory at other library sizes (``--memory-sizes``).

Everything runs in its own instance directory (``KB_INSTANCE_DIR`` under ``--workdir``); every ``KB_*`` variable
of the calling shell is ignored. The server and the worker are stopped by their process ids at the end, also
when the run fails.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import http.client
import io
import itertools
import json
import math
import os
import platform
import pstats
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from synthetic_library import LibraryGenerator, SyntheticAsset, odp_bytes  # noqa: E402

# load_phases imports its helpers from this module by name: run as a script, this module is ``__main__``, and
# without the alias it would be loaded a second time (with classes of its own).
sys.modules.setdefault("search_benchmark", sys.modules[__name__])

BIN = Path(sys.executable).parent
KB = str(BIN / "kb")
MARKER = ".kb-search-benchmark"
SECRET_KEY = "search-benchmark-secret-key-" + "k" * 40
PASSWORD = "benchmark-password-1"
PER_PAGE = 20

TARGET_ASSETS = 10_000  # the size every target is set for
TARGETS = {
    "p50_ms": 50.0,
    "p95_ms": 150.0,
    "ratio": 1.5,
    "rebuild_words_per_s": 100_000,
    "fresh_s": 2.0,
}


# --- small helpers ----------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def stats_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "mean": sum(ms) / len(ms) if ms else math.nan,
        "max": max(ms) if ms else math.nan,
    }


def dir_bytes(path: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(folder) / name).stat().st_size
    return total


def proc_status(pid: int) -> dict[str, str]:
    fields: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _sep, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            if ppid == pid:
                found.append(int(entry.name))
    return sorted(found)


def kib(text: str) -> int:
    return int(text.split()[0]) if text else 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def machine() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = kib(line.split(":", 1)[1])
    import whoosh

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "whoosh": whoosh.versionstring(),
        "kernel": platform.release(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "git": _git_head(),
    }


def _git_head() -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


@dataclass
class Measured:
    returncode: int
    output: str
    seconds: float
    max_rss_kib: int


def run_measured(command: list[str], env: dict[str, str], log_path: Path | None = None) -> Measured:
    """Runs a child to its end: its wall time and its peak resident memory (from wait4, for that child alone)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=ROOT, stdin=subprocess.DEVNULL
    )
    assert child.stdout is not None
    output = child.stdout.read().decode("utf-8", errors="replace")
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if log_path is not None:
        with log_path.open("a", encoding="utf-8") as handle:
            handle.write(f"$ {' '.join(command)}\n{output}\n")
    return Measured(child.returncode, output, seconds, int(usage.ru_maxrss))


# --- the isolated instance ------------------------------------------------------------------------------


def bench_environment(instance: Path) -> dict[str, str]:
    """The process environment for this process and its children: kb's settings point at the bench instance."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(
        {
            "KB_INSTANCE_DIR": str(instance),
            "KB_DATABASE_URL": f"sqlite:///{instance / 'kb.sqlite3'}",
            "KB_INDEX_DIR": str(instance / "index"),
            "KB_BLOB_DIR": str(instance / "blobs"),
            "KB_SECRET_KEY": SECRET_KEY,
            # Page images and OCR are measured by preview_speed.py: here the workers extract and index only, as
            # in every earlier run (the library's ODP slides would otherwise each start LibreOffice meanwhile).
            "KB_PREVIEWS": "0",
            "KB_OCR": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env["VIRTUAL_ENV"] = str(BIN.parent)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def prepare_workdir(workdir: Path, reuse: bool) -> None:
    if workdir.exists() and any(workdir.iterdir()):
        if not (workdir / MARKER).exists():
            raise SystemExit(f"{workdir} exists and is not a benchmark work directory; choose another --workdir")
        if reuse:
            return
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER).write_text("created by benchmarks/search_benchmark.py; safe to delete\n")


def make_app() -> Any:
    from kb import create_app

    return create_app()


# --- the query mix --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    name: str
    q: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def page(self) -> int:
        return int(self.params.get("page", 1))

    @property
    def filters(self) -> dict[str, str]:
        return {k: v for k, v in self.params.items() if k not in ("page", "sort", "per_page")}

    def http_params(self) -> dict[str, str]:
        return {"q": self.q, "per_page": str(PER_PAGE), **self.params}


def query_mix(generator: LibraryGenerator) -> list[Query]:
    """A fixed mix: words of both languages (frequent and rare), inflected forms, two words, phrases, codes,
    prefixes, filters, sorting, page 2 and a misspelling (which makes kb look for a suggestion)."""
    nv = generator.codes["НВ"]
    kx = generator.codes["KX"]
    code_with_slash = next(c for c in nv if "/" in c)
    rare_ru = generator.russian.forms[len(generator.russian.forms) // 3]
    rare_en = generator.english.forms[len(generator.english.forms) // 2]
    return [
        Query("ru word, frequent", "насос"),
        Query("ru inflected", "насосами"),
        Query("ru word, medium", "клапана"),
        Query("ru inflected -ия", "станциях"),
        Query("en word, frequent", "pump"),
        Query("en inflected", "pumping"),
        Query("en word, medium", "warranty"),
        Query("two words ru", "насосное оборудование"),
        Query("two words en", "compressor valve"),
        Query("two words mixed", "насос pump"),
        Query("phrase ru", '"технические характеристики"'),
        Query("phrase en", '"total cost of ownership"'),
        Query("code with slash", code_with_slash),
        Query("code", kx[0]),
        Query("code prefix as words", code_with_slash.split("/")[0].replace("-", " ")),
        Query("prefix ru", "насос*"),
        Query("prefix en", "compr*"),
        Query("filter param", "насос", {"kind": "catalog"}),
        Query("filter in query", "kind:datasheet pump"),
        Query("page 2", "насос", {"page": "2"}),
        Query("sort newest", "клапан", {"sort": "newest"}),
        Query("rare ru word", rare_ru),
        Query("rare en word", rare_en),
        Query("misspelt (suggestion)", "нассосы"),
    ]


# --- phases: library, load, jobs ------------------------------------------------------------------------


def generate(workdir: Path, generator: LibraryGenerator, count: int) -> dict[str, Any]:
    files = workdir / "files"
    files.mkdir(exist_ok=True)
    pages = words = size = 0
    with (workdir / "library.jsonl").open("w", encoding="utf-8") as manifest:
        for asset in generator.assets(count):
            data = odp_bytes(asset.pages)
            (files / asset.filename).write_bytes(data)
            pages += len(asset.pages)
            words += asset.words
            size += len(data)
            meta = {k: v for k, v in asset.__dict__.items() if k != "pages"}
            meta["page_count"] = len(asset.pages)
            meta["words"] = asset.words
            manifest.write(json.dumps(meta, ensure_ascii=False) + "\n")
    return {"assets": count, "pages": pages, "words": words, "file_bytes": size}


def create_people(app: Any, owners: int = 5) -> dict[str, Any]:
    from kb import accounts

    db = app.extensions["kb_db"]
    marketing = [
        accounts.create_user(db, f"marketing{n}@bench.kb", PASSWORD, "marketing", f"Маркетолог {n}").id
        for n in range(1, owners + 1)
    ]
    sales = accounts.create_user(db, "sales@bench.kb", PASSWORD, "sales", "Продавец")
    return {"marketing": marketing, "sales": sales.id}


def load(app: Any, workdir: Path, people: dict[str, Any]) -> dict[str, Any]:
    from kb.blobs import BlobStore
    from kb.models import utcnow
    from kb.publishing import AssetFields, FileUpload, Publisher

    settings = app.config["KB_SETTINGS"]
    publisher = Publisher(app.extensions["kb_db"], BlobStore(settings.blob_dir), app.config["MAX_CONTENT_LENGTH"])
    actor = people["marketing"][0]
    now = utcnow()
    per_asset: list[float] = []
    started = time.perf_counter()
    with (workdir / "library.jsonl").open(encoding="utf-8") as manifest:
        for line in manifest:
            meta = json.loads(line)
            t0 = time.perf_counter()
            fields = AssetFields(
                title=meta["title"],
                kind=meta["kind"],
                description=meta["description"],
                product=meta["product"],
                segments=meta["segments"],
                region=meta["region"],
                language=meta["language"],
                owner_id=people["marketing"][meta["number"] % len(people["marketing"])],
                tags=meta["tags"],
            )
            filename = f"asset-{meta['number']:05d}.odp"
            with (workdir / "files" / filename).open("rb") as stream:
                publisher.create_asset(
                    actor,
                    fields,
                    FileUpload(stream, filename),
                    published_at=now - timedelta(days=meta["age_days"]),
                )
            per_asset.append(time.perf_counter() - t0)
            if len(per_asset) % 1000 == 0:
                log(f"  loaded {len(per_asset)} assets")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "assets_per_s": len(per_asset) / seconds, "per_asset_ms": stats_ms(per_asset)}


def job_counts(app: Any, kind: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from kb.models import Job

    with app.extensions["kb_db"].session() as session:
        rows = session.execute(select(Job.status, func.count()).where(Job.kind == kind).group_by(Job.status)).all()
    return {str(status): n for status, n in rows}


def run_jobs(app: Any, env: dict[str, str], workdir: Path, kind: str, processes: int) -> dict[str, Any]:
    """Runs every due job of ``kind`` with ``processes`` real Worker processes (handlers of that kind only)."""
    before = job_counts(app, kind)
    started = time.perf_counter()
    results: list[Measured] = []

    def one(number: int) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "_worker", "--kind", kind, "--number", str(number)]
        results.append(run_measured(command, env, workdir / f"worker-{kind}.log"))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(processes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    after = job_counts(app, kind)
    for result in results:
        if result.returncode != 0:
            raise SystemExit(f"a {kind} worker failed:\n{result.output[-3000:]}")
    done = after.get("done", 0) - before.get("done", 0)
    return {
        "seconds": seconds,
        "jobs": done,
        "processes": processes,
        "failed": after.get("failed", 0),
        "left": after.get("queued", 0) + after.get("running", 0),
        "worker_max_rss_mib": max(r.max_rss_kib for r in results) / 1024,
    }


def worker_main(kind: str, number: int) -> None:
    """Child process: a real kb Worker that takes only jobs of ``kind``, until none is due."""
    from kb.blobs import BlobStore
    from kb.worker import Worker, WorkerContext

    app = make_app()
    settings = app.config["KB_SETTINGS"]
    db = app.extensions["kb_db"]
    worker = Worker(WorkerContext(db, BlobStore(settings.blob_dir), settings), f"bench-{kind}-{number}")
    worker.handlers = {k: v for k, v in worker.handlers.items() if k == kind}
    ran = worker.run_until_idle(max_jobs=10**9)
    print(f"worker {number} ran {ran} {kind} job(s)")
    db.dispose()


def extraction_counts(app: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from kb.models import AssetVersion, ExtractedPage

    with app.extensions["kb_db"].session() as session:
        rows = session.execute(
            select(AssetVersion.extraction_status, func.count()).group_by(AssetVersion.extraction_status)
        ).all()
        pages = session.scalar(select(func.count()).select_from(ExtractedPage))
    counts = {str(status): n for status, n in rows}
    counts["pages"] = int(pages or 0)
    return counts


def assets_in_instance(app: Any) -> int:
    from sqlalchemy import func, select

    from kb.models import Asset

    with app.extensions["kb_db"].session() as session:
        return int(session.scalar(select(func.count()).select_from(Asset)) or 0)


# --- the index ------------------------------------------------------------------------------------------


def index_facts(index_dir: Path) -> dict[str, Any]:
    from whoosh import index

    name = (index_dir / "CURRENT").read_text().strip()
    ix = index.open_dir(str(index_dir / name))
    try:
        segments = ix._segments()
        decoded = index_dir / name / "decoded"
        return {
            "generation": name,
            "documents": ix.doc_count(),
            "segments": len(segments),
            "bytes": dir_bytes(index_dir / name),
            "index_dir_bytes": dir_bytes(index_dir),
            "decoded_files": sum(1 for p in decoded.rglob("*") if p.is_file()) if decoded.is_dir() else 0,
            "decoded_bytes": dir_bytes(decoded) if decoded.is_dir() else 0,
        }
    finally:
        ix.close()


def rebuild(env: dict[str, str], workdir: Path, words: int) -> dict[str, Any]:
    result = run_measured([KB, "index", "rebuild"], env, workdir / "rebuild.log")
    if result.returncode != 0:
        raise SystemExit(f"kb index rebuild failed:\n{result.output[-3000:]}")
    match = re.search(r"indexed (\d+) page", result.output)
    return {
        "seconds": result.seconds,
        "documents": int(match.group(1)) if match else None,
        "words_per_s": words / result.seconds,
        "max_rss_mib": result.max_rss_kib / 1024,
        "output": result.output.strip().splitlines()[-1] if result.output.strip() else "",
    }


# --- the server and HTTP clients --------------------------------------------------------------------------


class Server:
    """``kb serve`` as a child process; stopped by its process id."""

    def __init__(self, env: dict[str, str], workdir: Path, port: int, workers: int) -> None:
        self.port = port
        self.log_path = workdir / "server.log"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [KB, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
        )
        self.workers = workers

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"kb serve exited with {self.process.returncode}; see {self.log_path}")
            try:
                status, _body = request(self.port, "/healthz", None)
                if status == 200 and len(children_of(self.process.pid)) >= self.workers:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"kb serve did not answer /healthz within {timeout:.0f} s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        return children_of(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


def request(port: int, path: str, token: str | None, timeout: float = 120) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@dataclass
class Sample:
    query: str
    seconds: float
    status: int
    total: int = -1
    snippets: int = 0
    marks: int = 0


def timed_search(port: int, token: str, query: Query) -> Sample:
    path = "/api/v1/search?" + urlencode(query.http_params())
    started = time.perf_counter()
    status, body = request(port, path, token)
    seconds = time.perf_counter() - started
    sample = Sample(query.name, seconds, status)
    if status == 200:
        payload = json.loads(body)
        sample.total = payload["total"]
        snippets = [hit["snippet"] for result in payload["results"] for hit in result["hits"]]
        sample.snippets = len(snippets)
        sample.marks = sum("<mark" in s for s in snippets)
    return sample


def http_pass(port: int, token: str, mix: list[Query], clients: int, total: int) -> dict[str, Any]:
    """``total`` requests of the mix (round robin) from ``clients`` threads, each one request at a time."""
    counter = itertools.count()
    lock = threading.Lock()
    samples: list[Sample] = []
    errors: list[str] = []
    start = threading.Barrier(clients + 1)

    def client() -> None:
        start.wait()
        while True:
            with lock:
                number = next(counter)
            if number >= total:
                return
            try:
                sample = timed_search(port, token, mix[number % len(mix)])
            except OSError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                samples.append(sample)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    bad = [s for s in samples if s.status != 200]
    return {
        "clients": clients,
        "requests": len(samples),
        "seconds": seconds,
        "rps": len(samples) / seconds,
        "latency_ms": stats_ms([s.seconds for s in samples]),
        "errors": len(errors) + len(bad),
        "error_examples": (errors + [f"HTTP {s.status} for {s.query}" for s in bad])[:5],
        "samples": samples,
    }


# --- the floor: the same queries straight on the index ----------------------------------------------------


class PlainWhoosh:
    """The floor: what a plain Whoosh setup does with the same query on the same index, and no more.

    Whoosh's query parser over the same text fields with the same field boosts, the same analyzer (the
    index's), the same visibility clauses (published, current version) and filters; whoosh's top-N search
    (``searcher.search(q, limit=page × per_page)``, its default optimizations on) and highlighted snippets of
    the page of hits shown, with kb's snippet settings. No total count, no grouping of pages by asset, no
    facets, no suggestion. The searcher is opened once and reused.
    """

    def __init__(self, index_dir: Path) -> None:
        from whoosh import highlight, index
        from whoosh.qparser import AndGroup, MultifieldParser

        from kb.search.whoosh_store import TEXT_FIELDS

        name = (index_dir / "CURRENT").read_text().strip()
        self.ix = index.open_dir(str(index_dir / name))
        self.searcher = self.ix.searcher()
        self.parser = MultifieldParser(list(TEXT_FIELDS), self.ix.schema, fieldboosts=TEXT_FIELDS, group=AndGroup)
        self.fragmenter = highlight.ContextFragmenter(maxchars=220, surround=70)
        self.formatter = highlight.HtmlFormatter(tagname="mark", between=" … ")

    def query(self, query: Query) -> Any:
        from whoosh.query import And, Term

        from kb.search.whoosh_store import FACET_FIELDS

        clauses = [self.parser.parse(query.q), Term("status", "published"), Term("current", True)]
        clauses += [Term(FACET_FIELDS[k], v) for k, v in query.filters.items() if k in FACET_FIELDS]
        return And(clauses)

    def search(self, query: Query) -> list[str]:
        results = self.searcher.search(self.query(query), limit=query.page * PER_PAGE, terms=True)
        results.fragmenter = self.fragmenter
        results.formatter = self.formatter
        return [hit.highlights("body", top=2) for hit in results[(query.page - 1) * PER_PAGE :]]

    def count(self, query: Query) -> int:
        """Matching pages (not timed)."""
        return len(list(self.query(query).docs(self.searcher)))

    def close(self) -> None:
        self.searcher.close()
        self.ix.close()


def kb_request(query: Query) -> Any:
    from kb.search.backend import SearchRequest

    return SearchRequest(
        text=query.q,
        filters=query.filters,
        statuses=("published",),
        sort=query.params.get("sort", "relevance"),
        page=query.page,
        per_page=PER_PAGE,
    )


def in_process_passes(index_dir: Path, mix: list[Query], rounds: int) -> dict[str, Any]:
    """Sequential passes in this process: plain Whoosh (the floor) and kb's search (``kb.search.search``)."""
    plain = PlainWhoosh(index_dir)
    backend = _Facade(index_dir)
    floor: dict[str, list[float]] = {q.name: [] for q in mix}
    kb_times: dict[str, list[float]] = {q.name: [] for q in mix}
    totals: dict[str, dict[str, int]] = {}
    try:
        for query in mix:  # warm both (file cache, searcher, analyzer caches)
            plain.search(query)
            found = backend.search(kb_request(query))
            totals[query.name] = {"floor_pages": plain.count(query), "kb_assets": found.total}
        for _round in range(rounds):
            for query in mix:
                t0 = time.perf_counter()
                plain.search(query)
                t1 = time.perf_counter()
                backend.search(kb_request(query))
                t2 = time.perf_counter()
                floor[query.name].append(t1 - t0)
                kb_times[query.name].append(t2 - t1)
    finally:
        plain.close()
        _Facade.close_all()
    return {
        "floor": stats_ms([s for v in floor.values() for s in v]),
        "kb": stats_ms([s for v in kb_times.values() for s in v]),
        "per_query": {
            name: {"floor_p50": percentile(floor[name], 50) * 1000, "kb_p50": percentile(kb_times[name], 50) * 1000}
            | totals[name]
            for name in floor
        },
    }


class _Facade:
    """kb's search facade on the index directory, without a database (no ratings or flags: as the floor)."""

    def __init__(self, index_dir: Path) -> None:
        from kb import search

        self.backend = search.get_backend(index_dir)

    def search(self, request: Any) -> Any:
        from kb import search

        return search.search(self.backend, request)

    @staticmethod
    def close_all() -> None:
        from kb import search

        search.reset_backend()


def profile_search(index_dir: Path, mix: list[Query], rounds: int, out: Path) -> str:
    backend = _Facade(index_dir)
    for query in mix:
        backend.search(kb_request(query))
    profiler = cProfile.Profile()
    profiler.enable()
    for _round in range(rounds):
        for query in mix:
            backend.search(kb_request(query))
    profiler.disable()
    _Facade.close_all()
    profiler.dump_stats(str(out))
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(25)
    return text.getvalue()


# --- freshness ------------------------------------------------------------------------------------------


def freshness(
    app: Any,
    env: dict[str, str],
    workdir: Path,
    generator: LibraryGenerator,
    people: dict[str, Any],
    port: int,
    token: str,
    count: int,
    runs: int,
) -> dict[str, Any]:
    """A new version of an existing asset with a unique word; a real ``kb worker`` extracts and indexes it.

    Timed from the moment its extraction is stored (the version leaves "pending"; the same transaction enqueues
    the index job) until the HTTP search API finds the word in that asset.
    """
    from sqlalchemy import select

    from kb.blobs import BlobStore
    from kb.models import AssetVersion, ExtractionStatus
    from kb.publishing import FileUpload, Publisher

    settings = app.config["KB_SETTINGS"]
    db = app.extensions["kb_db"]
    publisher = Publisher(db, BlobStore(settings.blob_dir), app.config["MAX_CONTENT_LENGTH"])
    worker_log = (workdir / "fresh-worker.log").open("ab")
    worker = subprocess.Popen(
        [KB, "worker"], stdout=worker_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=ROOT
    )
    measurements = []
    try:
        for run in range(runs):
            number = (run * 7919 + 13) % count
            asset: SyntheticAsset = generator.asset(number)
            word = "zqfresh" + "".join("abcdefghijklmnopqrstuvwxy"[(run * 7 + i * 3) % 25] for i in range(6))
            title, body = asset.pages[0]
            pages = [(title, f"{body}\nНовая редакция {word}."), *asset.pages[1:]]
            with db.session() as session:
                asset_id = session.scalar(
                    select(AssetVersion.asset_id).where(
                        AssetVersion.original_filename == asset.filename, AssetVersion.number == 1
                    )
                )
            published = time.perf_counter()
            result = publisher.add_version(
                people["marketing"][0],
                asset_id,
                FileUpload(io.BytesIO(odp_bytes(pages)), asset.filename),
                change_note=f"freshness probe {run}",
            )
            deadline = time.monotonic() + 120
            while True:
                with db.session() as session:
                    status = session.scalar(
                        select(AssetVersion.extraction_status).where(AssetVersion.id == result.version_id)
                    )
                if status != ExtractionStatus.PENDING:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("the worker did not extract the new version within 120 s")
                time.sleep(0.005)
            extracted = time.perf_counter()
            polls = 0
            while True:
                sample = timed_search(port, token, Query("fresh", word))
                polls += 1
                if sample.status == 200 and sample.total >= 1:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"the new word {word} was not found within 120 s")
                time.sleep(0.02)
            found = time.perf_counter()
            measurements.append(
                {
                    "asset": asset_id,
                    "word": word,
                    "publish_to_extracted_s": extracted - published,
                    "extracted_to_found_s": found - extracted,
                    "polls": polls,
                }
            )
            log(f"  fresh run {run + 1}: found {found - extracted:.2f} s after extraction")
            time.sleep(1.2)  # let the next probe start with the server's searcher check cycle in any phase
    finally:
        if worker.poll() is None:
            os.kill(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
        worker_log.close()
    values = [m["extracted_to_found_s"] for m in measurements]
    return {
        "runs": measurements,
        "median_s": percentile(values, 50),
        "max_s": max(values),
        "extraction_median_s": percentile([m["publish_to_extracted_s"] for m in measurements], 50),
    }


# --- the report -----------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def format_report(r: dict[str, Any]) -> str:
    import load_phases

    lines: list[str] = []
    add = lines.append
    m, lib, phases = r["machine"], r["library"], r["phases"]
    add("")
    add("=" * 110)
    add(f"kb search benchmark: {lib['assets']:,} assets, seed {r['seed']}")
    add(f"machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, Python {m['python']}, Whoosh {m['whoosh']}")
    add(f"date: {m['date']}, kb {m['git']}; loadavg at start {r['loadavg_start']}, at end {r['loadavg_end']}")
    add(f"command: {r['command']}")
    add("settings: KB_PREVIEWS=0 KB_OCR=0 (page images and OCR: benchmarks/preview_speed.py), other KB_* at defaults")
    add("=" * 110)
    add(
        f"library: {lib['assets']:,} assets, {lib['pages']:,} pages, {lib['words']:,} words "
        f"({lib['pages'] / lib['assets']:.2f} pages/asset, {lib['words'] / lib['pages']:.0f} words/page), "
        f"{lib['file_bytes'] / 1e6:.1f} MB of ODP files"
    )
    if r.get("assets_in_instance", lib["assets"]) != lib["assets"]:
        add(f"the instance holds {r['assets_in_instance']:,} assets: earlier runs published into it (--reuse)")
    add("")
    add(f"{'phase':<44}{'time':>10}  {'throughput':<22}details")

    def phase(label: str, seconds: float, throughput: str, details: str) -> None:
        add(f"{label:<44}{seconds:>9.1f}s  {throughput:<22}{details}")

    def per_job(p: dict[str, Any]) -> str:
        return f"{p['jobs']:,} jobs, {p['processes']} process(es), {1000 * p['seconds'] / max(p['jobs'], 1):.0f} ms/job"

    if "generate" in phases:
        phase("generate ODP files", phases["generate"]["seconds"], "", "")
    if "load" in phases:
        p = phases["load"]
        phase("load (Publisher.create_asset)", p["seconds"], f"{p['assets_per_s']:.1f} assets/s",
              f"p50 {p['per_asset_ms']['p50']:.1f} ms per asset")  # fmt: skip
    if "index_publish" in phases:
        p = phases["index_publish"]
        phase("index jobs after publishing (titles only)", p["seconds"], f"{p['jobs'] / p['seconds']:.1f} jobs/s",
              per_job(p))  # fmt: skip
    if "extract" in phases:
        p = phases["extract"]
        phase("extraction jobs (sandbox process per file)", p["seconds"], f"{p['jobs'] / p['seconds']:.1f} files/s",
              f"{per_job(p)}, {p['failed']} failed")  # fmt: skip
    if "index_text" in phases:
        p = phases["index_text"]
        phase("index jobs after extraction (full text)", p["seconds"], f"{p['words_per_s']:,.0f} words/s", per_job(p))
    if "rebuild" in phases:
        p = phases["rebuild"]
        phase("kb index rebuild", p["seconds"], f"{p['words_per_s']:,.0f} words/s",
              f"{p['documents']:,} documents, peak RSS {p['max_rss_mib']:.0f} MiB")  # fmt: skip
    add("")
    for label, key in (("index built by jobs", "index_after_jobs"), ("index after rebuild", "index_after_rebuild")):
        if key in r:
            f = r[key]
            add(
                f"{label:<22}{f['documents']:>9,} documents {f['segments']:>4} segment(s) {f['bytes'] / 1e6:>8.1f} MB"
                f"  ({f['generation']}; whole index directory {f['index_dir_bytes'] / 1e6:.1f} MB)"
            )
    if r.get("decoded_at_start") is not None:
        d = r["decoded_at_start"]
        add(f"decoded postings on disk when the server started: {d['files']:,} files, {d['bytes'] / 1e6:.1f} MB"
            + (" (removed first: --fresh-decoded)" if d.get("removed") else " (kept from earlier searches and runs)"))
    add("")
    add(f"search latency in ms (per_page {PER_PAGE}, snippets)  {'n':>6}{'p50':>8}{'p95':>8}{'p99':>8}{'mean':>8}"
        f"{'req/s':>8}")  # fmt: skip
    for key, label in r["search_rows"]:
        row = r["search"][key]
        lat = row.get("latency_ms", row)
        rps = f"{row['rps']:>8.1f}" if "rps" in row else ""
        add(f"  {label:<48}{lat['n']:>6}{lat['p50']:>8.1f}{lat['p95']:>8.1f}{lat['p99']:>8.1f}{lat['mean']:>8.1f}{rps}")
    add(f"  first search after the server started: {r['first_request_ms']:.0f} ms")
    add("")
    add(f"per query, p50 in ms{'':<26}{'HTTP':>8}{'kb':>8}{'floor':>8}{'assets':>8}{'pages':>8}")
    for name, q in r["per_query"].items():
        add(f"  {name:<44}{q['http_p50']:>8.1f}{q['kb_p50']:>8.1f}{q['floor_p50']:>8.1f}{q['kb_assets']:>8}"
            f"{q['floor_pages']:>8}")  # fmt: skip
    add("  (HTTP: end to end, sequential; kb: kb.search.search; floor: plain Whoosh; assets: kb's total;")
    add("   pages: matching pages of the floor)")
    if "fresh" in r:
        fr = r["fresh"]
        add("")
        add(f"freshness: extraction stored -> found by the HTTP API: median {fr['median_s']:.2f} s, "
            f"max {fr['max_s']:.2f} s over {len(fr['runs'])} runs")  # fmt: skip
        add(f"           (publish -> extraction stored by the worker: median {fr['extraction_median_s']:.2f} s)")
    lines += load_phases.format_lines(r)
    for key, moment in (("memory_after_queries", "after the query load"), ("memory", "at the end of the run")):
        if key not in r:
            continue
        add("")
        add(f"memory {moment}: VmRSS (peak VmHWM) = RssAnon (own) + RssFile (mapped index files) + shared")
        for w in r[key]:
            add(
                f"  {w['role']:<14} pid {w['pid']:<8} {w['rss_mib']:>7.0f} MiB ({w['hwm_mib']:.0f} MiB)"
                f"   own {w.get('anon_mib', 0):.0f} MiB, mapped files {w.get('file_mib', 0):.0f} MiB"
            )
    add("")
    at_size = lib["assets"] == TARGET_ASSETS
    add(f"{'target (10,000 assets, 2 cores)':<50}{'measured':>14}{'target':>12}   verdict")
    for label, value, target, ok in r["targets"]:
        mark = "" if at_size else f"  (target is for {TARGET_ASSETS:,} assets)"
        add(f"  {label:<48}{value:>14}{target:>12}   {verdict(ok)}{mark}")
    add("")
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=1000, help="assets in the library (default 1000; full run 10000)")
    parser.add_argument("--seed", type=int, default=4, help="seed of the library and the query mix (default 4)")
    parser.add_argument("--workdir", type=Path, default=None, help="default benchmarks/.work/a<assets>-s<seed>")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients (default 8)")
    parser.add_argument("--requests", type=int, default=None, help="requests per concurrent pass (default 20 × mix)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the mix in sequential passes (default 5)")
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument("--server-workers", type=int, default=2, help="kb serve --workers (default 2)")
    parser.add_argument("--extract-workers", type=int, default=2, help="worker processes for extraction (default 2)")
    parser.add_argument("--index-workers", type=int, default=1, help="worker processes for index jobs (default 1)")
    parser.add_argument("--fresh-runs", type=int, default=5, help="freshness probes (default 5)")
    parser.add_argument("--reuse", action="store_true", help="reuse the library of an earlier run in --workdir")
    parser.add_argument("--skip-rebuild", action="store_true", help="with --reuse: keep the index as it is")
    parser.add_argument("--profile", action="store_true", help="also cProfile kb.search.search over the mix")
    parser.add_argument(
        "--fresh-decoded",
        action="store_true",
        help="remove the decoded postings earlier searches left beside the index before serving (every word cold)",
    )
    parser.add_argument("--no-index-jobs", action="store_true", help="development: skip the index jobs (rebuild only)")
    parser.add_argument("--build-only", action="store_true", help="development: stop once the index is built")
    parser.add_argument(
        "--varied-sequential",
        type=int,
        default=300,
        help="distinct queries of the varied mix asked one at a time (default 300; 0: no varied mix)",
    )
    parser.add_argument(
        "--varied-per-level", type=int, default=250, help="new distinct queries at each concurrency level (default 250)"
    )
    parser.add_argument(
        "--levels",
        type=_int_list,
        default=[1, 2, 4, 8],
        help="concurrent clients of the varied mix, comma-separated (default 1,2,4,8)",
    )
    parser.add_argument(
        "--commit-runs", type=int, default=5, help="first search after an index commit: probes (default 5; 0: none)"
    )
    parser.add_argument(
        "--ingest", type=int, default=200, help="files published through the API while searching (default 200; 0: none)"
    )
    parser.add_argument(
        "--memory-sizes",
        type=_int_list,
        default=[],
        help="also measure memory at these library sizes, e.g. 2000,5000 (their own work "
        "directories beside --workdir, built once and reused)",
    )
    parser.add_argument(
        "--sizes-dir",
        type=Path,
        default=None,
        help="where the --memory-sizes libraries live (default: beside --workdir)",
    )
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="stop after the query load and the ingestion (used for --memory-sizes)",
    )
    return parser.parse_args(argv)


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("every number must be at least 1")
    return values


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["_worker"]:
        sub = argparse.ArgumentParser()
        sub.add_argument("--kind", required=True)
        sub.add_argument("--number", type=int, default=0)
        options = sub.parse_args(argv[1:])
        worker_main(options.kind, options.number)
        return 0
    args = parse_args(argv)
    workdir = (args.workdir or HERE / ".work" / f"a{args.assets}-s{args.seed}").resolve()
    report: dict[str, Any] = {
        "seed": args.seed,
        "command": " ".join([Path(sys.executable).name, "benchmarks/search_benchmark.py", *argv]),
        "loadavg_start": loadavg(),
        "machine": machine(),
        "phases": {},
        "search": {},
    }
    log(f"work directory {workdir}; loadavg {report['loadavg_start']}")
    reused = args.reuse and (workdir / "library.json").exists()
    prepare_workdir(workdir, args.reuse)
    instance = workdir / "instance"
    env = bench_environment(instance)
    os.environ.clear()
    os.environ.update(env)

    cleanup: list[Callable[[], None]] = []

    def on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    try:
        return _run(args, workdir, env, report, reused, cleanup)
    finally:
        for stop in reversed(cleanup):
            with contextlib.suppress(Exception):
                stop()


def _run(
    args: argparse.Namespace,
    workdir: Path,
    env: dict[str, str],
    report: dict[str, Any],
    reused: bool,
    cleanup: list[Callable[[], None]],
) -> int:
    import load_phases  # imports from this module: only once it is loaded

    from kb import accounts, migrate

    generator = LibraryGenerator(args.seed)
    phases = report["phases"]
    if reused:
        saved = json.loads((workdir / "library.json").read_text())
        report["library"], people = saved["library"], saved["people"]
        report["reused"] = True
        app = make_app()
        migrate.upgrade(app.extensions["kb_db"])  # a library built by an older kb
        log(f"reusing the library of {workdir}: {report['library']['assets']:,} assets")
    else:
        log(f"generating {args.assets:,} assets (seed {args.seed})")
        t0 = time.perf_counter()
        report["library"] = generate(workdir, generator, args.assets)
        phases["generate"] = {"seconds": time.perf_counter() - t0}
        lib = report["library"]
        log(f"  {lib['pages']:,} pages, {lib['words']:,} words in {phases['generate']['seconds']:.1f} s")

        app = make_app()
        migrate.upgrade(app.extensions["kb_db"])
        people = create_people(app)

        log(f"loading through Publisher.create_asset; loadavg {loadavg()}")
        phases["load"] = load(app, workdir, people)
        log(f"  {phases['load']['seconds']:.1f} s")

        if not args.no_index_jobs:
            log(f"index jobs enqueued by publishing ({args.index_workers} worker process(es)); loadavg {loadavg()}")
            phases["index_publish"] = run_jobs(app, env, workdir, "index_asset", args.index_workers)
            log(f"  {phases['index_publish']['jobs']:,} jobs in {phases['index_publish']['seconds']:.1f} s")

        log(f"extraction jobs ({args.extract_workers} worker processes); loadavg {loadavg()}")
        phases["extract"] = run_jobs(app, env, workdir, "extract_version", args.extract_workers)
        phases["extract"]["versions"] = extraction_counts(app)
        extracted = phases["extract"]
        log(f"  {extracted['jobs']:,} jobs in {extracted['seconds']:.1f} s: {extracted['versions']}")

        if not args.no_index_jobs:
            log(f"index jobs enqueued by extraction ({args.index_workers} worker process(es)); loadavg {loadavg()}")
            phases["index_text"] = run_jobs(app, env, workdir, "index_asset", args.index_workers)
            phases["index_text"]["words_per_s"] = report["library"]["words"] / phases["index_text"]["seconds"]
            log(f"  {phases['index_text']['jobs']:,} jobs in {phases['index_text']['seconds']:.1f} s")
            report["index_after_jobs"] = index_facts(app.config["KB_SETTINGS"].index_dir)
        (workdir / "library.json").write_text(json.dumps({"library": report["library"], "people": people}))

    settings = app.config["KB_SETTINGS"]
    db = app.extensions["kb_db"]
    words = report["library"]["words"]
    if not (reused and args.skip_rebuild):
        log(f"kb index rebuild; loadavg {loadavg()}")
        phases["rebuild"] = rebuild(env, workdir, words)
        log(f"  {phases['rebuild']['output']} ({phases['rebuild']['words_per_s']:,.0f} words/s)")
    report["index_after_rebuild"] = index_facts(settings.index_dir)
    if args.build_only:
        log(f"built: {json.dumps(phases, default=str)}")
        return 0

    report["assets_in_instance"] = assets_in_instance(app)
    if report["assets_in_instance"] != report["library"]["assets"]:
        log(f"the instance holds {report['assets_in_instance']:,} assets (earlier runs published into it)")
    if args.memory_sizes:
        report["memory_sizes"] = load_phases.memory_at_sizes(args, workdir, args.memory_sizes, cleanup)

    with db.session() as session:
        sales_email = accounts.get_user(session, people["sales"]).email
    token = accounts.create_token(db, people["sales"], "search benchmark").secret
    mix = query_mix(generator)
    varied_mix = load_phases.VariedMix(generator, args.seed, report["library"]["assets"])
    used = {load_phases.query_key(q) for q in mix}

    decoded_dirs = list(settings.index_dir.glob("gen-*/decoded"))
    facts = index_facts(settings.index_dir)
    report["decoded_at_start"] = {"files": facts["decoded_files"], "bytes": facts["decoded_bytes"], "removed": False}
    if args.fresh_decoded:
        for folder in decoded_dirs:
            shutil.rmtree(folder, ignore_errors=True)
        report["decoded_at_start"]["removed"] = True
    port = args.port or free_port()
    log(f"kb serve on 127.0.0.1:{port} with {args.server_workers} worker processes ({sales_email})")
    server = Server(env, workdir, port, args.server_workers)
    cleanup.append(server.stop)
    server.wait_ready()
    report["server_pid"] = server.process.pid
    first = timed_search(port, token, mix[0])
    report["first_request_ms"] = first.seconds * 1000

    log("warming up (two rounds of the mix, one client per server worker)")
    http_pass(port, token, mix, args.server_workers, 2 * len(mix))

    search = report["search"]
    log(f"HTTP sequential: {args.rounds} rounds of {len(mix)} queries; loadavg {loadavg()}")
    search["http_seq"] = http_pass(port, token, mix, 1, args.rounds * len(mix))
    for clients in sorted({args.server_workers, args.clients}):
        total = args.requests or 20 * len(mix)
        log(f"HTTP {clients} concurrent clients: {total} requests; loadavg {loadavg()}")
        search[f"http_c{clients}"] = http_pass(port, token, mix, clients, total)
    warm_first = [s.seconds for s in search["http_seq"]["samples"] if s.query == mix[0].name]
    report["first_after_start"] = {
        "query": mix[0].q,
        "first_ms": report["first_request_ms"],
        "warm_p50_ms": percentile(warm_first, 50) * 1000,
    }
    report["first_after_start"]["ratio"] = report["first_request_ms"] / report["first_after_start"]["warm_p50_ms"]

    if args.varied_sequential:
        report["varied"] = load_phases.varied_passes(
            port, token, varied_mix, used, args.varied_sequential, args.levels, args.varied_per_level
        )
    report["memory_after_queries"] = load_phases.server_memory(server.process.pid)
    if args.memory_only:
        if args.ingest:
            report["ingest"] = _ingest(args, app, env, workdir, generator, people, port, token, varied_mix, used,
                                       server, cleanup)  # fmt: skip
        server.stop()
        cleanup.remove(server.stop)
        for key in list(search):
            search[key].pop("samples", None)
        report["loadavg_end"] = loadavg()
        (workdir / "results.json").write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str))
        log(f"memory at {report['library']['assets']:,} assets: {load_phases.memory_row(report)}")
        return 0

    log("in-process: plain Whoosh (floor) and kb kb.search.search, sequential")
    in_process = in_process_passes(settings.index_dir, mix, args.rounds)
    search["floor"] = in_process["floor"]
    search["kb"] = in_process["kb"]
    if args.profile:
        profile_text = profile_search(settings.index_dir, mix, args.rounds, workdir / "search.prof")
        (workdir / "search-profile.txt").write_text(profile_text)
        log(f"profile written to {workdir / 'search-profile.txt'}")

    log("freshness: new versions through a real kb worker")
    report["fresh"] = freshness(
        app, env, workdir, generator, people, port, token, report["library"]["assets"], args.fresh_runs
    )

    if args.commit_runs:
        log(f"first search after an index commit: {args.commit_runs} new versions through a real kb worker")
        report["commit"] = load_phases.commit_probes(
            app, env, workdir, generator, people, port, token, report["library"]["assets"], args.commit_runs,
            mix[0], args.server_workers, cleanup,
        )  # fmt: skip
    if args.ingest:
        report["ingest"] = _ingest(args, app, env, workdir, generator, people, port, token, varied_mix, used, server,
                                   cleanup)  # fmt: skip

    report["memory"] = load_phases.server_memory(server.process.pid)
    server.stop()
    cleanup.remove(server.stop)

    # per-query table and verdicts
    seq_samples: dict[str, list[float]] = {}
    anomalies = []
    for sample in search["http_seq"]["samples"]:
        seq_samples.setdefault(sample.query, []).append(sample.seconds)
        if sample.total > 0 and sample.marks == 0 and not sample.query.startswith("sort"):
            anomalies.append(sample.query)
    report["per_query"] = {
        name: {"http_p50": percentile(seq_samples.get(name, []), 50) * 1000, **values}
        for name, values in in_process["per_query"].items()
    }
    report["snippet_anomalies"] = sorted(set(anomalies))
    report["search_rows"] = [
        ("http_seq", "HTTP end to end, 1 client (sequential)"),
        *[
            (f"http_c{c}", f"HTTP end to end, {c} concurrent clients")
            for c in sorted({args.server_workers, args.clients})
        ],
        ("kb", "kb kb.search.search in process, sequential"),
        ("floor", "floor: plain Whoosh in process, sequential"),
    ]
    seq = search["http_seq"]["latency_ms"]
    ratio = seq["p50"] / search["floor"]["p50"]
    report["ratio"] = ratio
    rebuild_wps = phases.get("rebuild", {}).get("words_per_s")
    report["targets"] = [
        ("end-to-end p50 (HTTP, sequential)", f"{seq['p50']:.1f} ms", "< 50 ms", seq["p50"] < TARGETS["p50_ms"]),
        ("end-to-end p95 (HTTP, sequential)", f"{seq['p95']:.1f} ms", "< 150 ms", seq["p95"] < TARGETS["p95_ms"]),
        ("end-to-end p50 / floor p50", f"{ratio:.2f}×", "≤ 1.5×", ratio <= TARGETS["ratio"]),
    ]
    if rebuild_wps:
        report["targets"].append(
            ("rebuild words/s", f"{rebuild_wps:,.0f}", "≥ 100,000", rebuild_wps >= TARGETS["rebuild_words_per_s"])
        )
    report["targets"].append(
        (
            "new version searchable after extraction (max)",
            f"{report['fresh']['max_s']:.2f} s",
            "< 2 s",
            report["fresh"]["max_s"] < TARGETS["fresh_s"],
        )
    )
    report["targets"] += load_phases.targets(report)
    if "memory_sizes" in report:
        report["memory_sizes"].append({**load_phases.memory_row(report), "workdir": str(workdir)})
        report["memory_sizes"].sort(key=lambda row: row["assets"])
    report["loadavg_end"] = loadavg()
    text = format_report(report)
    print(text)
    for key in list(search):
        search[key].pop("samples", None) if isinstance(search[key], dict) else None
    (workdir / "report.txt").write_text(text, encoding="utf-8")
    (workdir / "results.json").write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    if report["snippet_anomalies"]:
        log(f"queries with hits but no highlighted snippet: {report['snippet_anomalies']}")
    errors = sum(search[k].get("errors", 0) for k in search if k.startswith("http"))
    errors += sum(p.get("errors", 0) for p in [report.get("varied", {}).get("seq", {}),
                                               *report.get("varied", {}).get("levels", {}).values()])  # fmt: skip
    if report.get("ingest"):
        errors += report["ingest"]["search_errors"] + report["ingest"]["publish_error_count"]
    if errors:
        log(f"{errors} HTTP request(s) failed; see {workdir / 'server.log'}")
        return 1
    log(f"report written to {workdir / 'report.txt'} and results.json")
    return 0


def _ingest(
    args: argparse.Namespace,
    app: Any,
    env: dict[str, str],
    workdir: Path,
    generator: LibraryGenerator,
    people: dict[str, Any],
    port: int,
    token: str,
    varied_mix: Any,
    used: set[Any],
    server: Server,
    cleanup: list[Callable[[], None]],
) -> dict[str, Any]:
    import load_phases

    from kb import accounts

    db = app.extensions["kb_db"]
    marketing_token = accounts.create_token(db, people["marketing"][0], "ingestion benchmark").secret
    pool = varied_mix.take(1500, used)
    log(f"ingestion: {args.ingest} files through the API, 1 kb worker, 2 clients searching; loadavg {loadavg()}")
    result = load_phases.ingestion(
        env, workdir, generator, port, marketing_token, token, pool, args.ingest, server.process.pid, cleanup
    )
    log(f"  all {result['found']} of {result['files']} searchable after {result['all_searchable_s']:.1f} s; search "
        f"p95 during it {result['search']['p95']:.1f} ms")  # fmt: skip
    return result


if __name__ == "__main__":
    sys.exit(main())
