"""Phases of the search benchmark that measure what users feel (issue 12), imported by ``search_benchmark``.

- ``varied_queries``: hundreds of distinct queries drawn from the library's vocabulary, seeded, each asked once;
- ``varied_passes``: that mix over HTTP, sequentially and at 1, 2, 4 and 8 concurrent clients (fresh queries
  at each level: the server caches decoded postings, so a query asked twice measures the cache);
- ``commit_probes``: the first search of a frequent word right after an index commit, against the same
  query warm;
- ``ingestion``: N files published through ``POST /api/v1/assets`` while a real ``kb worker`` runs and two
  clients search: the time until every file is found, search latency during it, and the worker's memory;
- ``memory_at_sizes``: the same query load on libraries of other sizes (child runs of this script), for the
  growth of the server workers' and ``kb worker``'s memory with the library.

Every process started here is stopped by its process id, also when the run fails.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from search_benchmark import (
    KB,
    ROOT,
    Query,
    Sample,
    children_of,
    http_pass,
    kib,
    log,
    percentile,
    proc_status,
    stats_ms,
    timed_search,
)
from synthetic_library import KINDS, LANGUAGES, PRODUCTS, REGIONS, LibraryGenerator, odp_bytes

MIB = 1024
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def letters(number: int, width: int = 5) -> str:
    """``number`` written in latin letters only (a code word must stay one token: no digits)."""
    out = []
    for _ in range(width):
        number, digit = divmod(number, 26)
        out.append(LETTERS[digit])
    return "".join(reversed(out))


# --- the varied query mix -------------------------------------------------------------------------------


def query_key(query: Query) -> tuple[str, tuple[tuple[str, str], ...]]:
    return query.q.casefold(), tuple(sorted(query.params.items()))


class VariedMix:
    """Distinct queries of every kind people type, drawn from the library's vocabulary with a fixed seed.

    Single words come from frequency bands of each language (the forms ordered by their weight in the
    generator: frequent = the 150 heaviest forms, medium = the next 2,000, rare = the next 30,000, most of
    which a small library never uses: a search that finds nothing is asked too). Phrases are 2 or 3
    consecutive words of a page of a random asset of the library, so they exist.
    """

    CATEGORIES: tuple[tuple[str, int], ...] = (
        ("ru word, frequent", 8),
        ("ru word, medium", 8),
        ("ru word, rare", 5),
        ("en word, frequent", 5),
        ("en word, medium", 5),
        ("en word, rare", 3),
        ("ru inflected", 7),
        ("en inflected", 3),
        ("two words ru", 7),
        ("two words en", 4),
        ("two words mixed", 3),
        ("three words", 5),
        ("phrase", 6),
        ("code", 5),
        ("code variant", 5),
        ("prefix ru", 3),
        ("prefix en", 2),
        ("filter param", 4),
        ("filter in query", 2),
        ("sort", 2),
        ("page 2", 3),
        ("misspelt", 5),
    )
    RU_CASE_ENDINGS = ("ами", "ах", "ой", "ом", "ию", "ием", "ого", "ому", "ых", "ыми", "иях", "ией", "ами")
    EN_ENDINGS = ("s", "ing", "ed")

    def __init__(self, generator: LibraryGenerator, seed: int, assets: int) -> None:
        self.generator = generator
        self.assets = assets
        self.rng = random.Random(f"varied:{seed}")
        self.ru = self._by_weight(generator.russian)
        self.en = self._by_weight(generator.english)
        self.known = set(self.ru) | set(self.en)
        self.ru_inflected = [f for f in self.ru[:2150] if f.endswith(self.RU_CASE_ENDINGS)]
        self.en_inflected = [f for f in self.en[:2150] if f.endswith(self.EN_ENDINGS) and len(f) > 4]

    @staticmethod
    def _by_weight(language: Any) -> list[str]:
        cumulative = language.cumulative
        weights = [cumulative[0]] + [b - a for a, b in zip(cumulative, cumulative[1:], strict=False)]
        order = sorted(range(len(weights)), key=lambda i: -weights[i])
        return list(dict.fromkeys(language.forms[i] for i in order))

    def _band(self, forms: list[str], band: str) -> str:
        low, high = {"frequent": (0, 150), "medium": (150, 2150), "rare": (2150, 32150)}[band]
        return self.rng.choice(forms[low : min(high, len(forms))])

    def _word(self, language: str | None = None) -> str:
        forms = self.ru if (language or self.rng.choice("rre")) in ("r", "ru") else self.en
        return self._band(forms, self.rng.choice(("frequent", "frequent", "medium")))

    def _code(self) -> str:
        _name, prefix = self.rng.choice(PRODUCTS)
        return self.rng.choice(self.generator.codes[prefix])

    def _code_variant(self) -> str:
        code = self._code()
        prefix, _dash, rest = code.partition("-")
        number = rest.split("/")[0]
        return self.rng.choice(
            (
                code.lower(),
                f"{prefix}{rest}",
                f"{prefix} {rest}",
                f"{prefix}-{number}",
                f"{prefix}{number}",
                f"{code} {self._word()}",
            )
        )

    def _phrase(self) -> str:
        asset = self.generator.asset(self.rng.randrange(self.assets))
        _title, body = self.rng.choice(asset.pages)
        words = [w.strip(".,;:") for w in body.split()]
        size = self.rng.choice((2, 2, 3))
        at = self.rng.randrange(max(1, len(words) - size))
        return '"' + " ".join(words[at : at + size]).lower() + '"'

    def _misspelt(self) -> str:
        while True:
            word = self._word()
            if len(word) < 5:
                continue
            at = self.rng.randrange(1, len(word) - 1)
            edit = self.rng.choice(("swap", "drop", "double", "replace"))
            if edit == "swap":
                wrong = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
            elif edit == "drop":
                wrong = word[:at] + word[at + 1 :]
            elif edit == "double":
                wrong = word[:at] + word[at] + word[at:]
            else:
                alphabet = "абвгдеиклмнопрстуя" if word[0] >= "а" else "abcdeiklmnoprstu"
                wrong = word[:at] + self.rng.choice(alphabet) + word[at + 1 :]
            if wrong != word and wrong not in self.known:
                return wrong

    def make(self, category: str) -> Query:  # noqa: C901 - one branch per category, read as a table
        rng = self.rng
        if category.startswith(("ru word", "en word")):
            forms = self.ru if category.startswith("ru") else self.en
            return Query(category, self._band(forms, category.split(", ")[1]))
        if category == "ru inflected":
            return Query(category, rng.choice(self.ru_inflected))
        if category == "en inflected":
            return Query(category, rng.choice(self.en_inflected))
        if category == "two words ru":
            return Query(category, f"{self._word('ru')} {self._word('ru')}")
        if category == "two words en":
            return Query(category, f"{self._word('en')} {self._word('en')}")
        if category == "two words mixed":
            return Query(category, f"{self._word('ru')} {self._word('en')}")
        if category == "three words":
            return Query(category, " ".join(self._word() for _ in range(3)))
        if category == "phrase":
            return Query(category, self._phrase())
        if category == "code":
            return Query(category, self._code())
        if category == "code variant":
            return Query(category, self._code_variant())
        if category.startswith("prefix"):
            word = self._word("ru" if category.endswith("ru") else "en")
            return Query(category, word[: rng.randint(3, max(3, min(6, len(word) - 1)))] + "*")
        if category == "filter param":
            facet, value = rng.choice(
                (
                    ("kind", rng.choice(KINDS)),
                    ("product", rng.choice(PRODUCTS)[0]),
                    ("region", rng.choice(REGIONS)),
                    ("language", rng.choice(LANGUAGES)),
                    ("segment", rng.choice(("B2B", "B2G", "B2C"))),
                )
            )
            return Query(category, self._word(), {facet: value})
        if category == "filter in query":
            return Query(category, f"kind:{rng.choice(KINDS)} {self._word()}")
        if category == "sort":
            return Query(category, self._word(), {"sort": rng.choice(("newest", "rating"))})
        if category == "page 2":
            return Query(category, self._band(rng.choice((self.ru, self.en)), "frequent"), {"page": "2"})
        if category == "misspelt":
            return Query(category, self._misspelt())
        raise ValueError(category)

    def take(self, count: int, used: set[Any]) -> list[Query]:
        """``count`` queries never asked before in the run (``used`` is updated)."""
        names = [name for name, _w in self.CATEGORIES]
        weights = [w for _n, w in self.CATEGORIES]
        out: list[Query] = []
        attempts = 0
        while len(out) < count:
            attempts += 1
            if attempts > count * 200:
                raise SystemExit(f"could not draw {count} distinct queries from the vocabulary")
            query = self.make(self.rng.choices(names, weights)[0])
            key = query_key(query)
            if key in used:
                continue
            used.add(key)
            out.append(query)
        return out


def _strip(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "samples"}


def by_category(samples: list[Sample]) -> dict[str, dict[str, float]]:
    grouped: dict[str, list[float]] = {}
    for sample in samples:
        grouped.setdefault(sample.query, []).append(sample.seconds)
    return {name: stats_ms(values) for name, values in sorted(grouped.items())}


def varied_passes(
    port: int, token: str, mix: VariedMix, used: set[Any], sequential: int, levels: list[int], per_level: int
) -> dict[str, Any]:
    """The varied mix over HTTP: ``sequential`` queries one at a time, then ``per_level`` new ones per level."""
    queries = mix.take(sequential, used)
    log(f"HTTP varied mix, sequential: {len(queries)} distinct queries")
    seq = http_pass(port, token, queries, 1, len(queries))
    empty = sum(1 for s in seq["samples"] if s.total == 0)
    result: dict[str, Any] = {
        "seq": _strip(seq),
        "by_category": by_category(seq["samples"]),
        "empty_share": empty / max(len(seq["samples"]), 1),
        "levels": {},
    }
    for clients in levels:
        batch = mix.take(per_level, used)
        log(f"HTTP varied mix, {clients} concurrent client(s): {len(batch)} new distinct queries")
        result["levels"][str(clients)] = _strip(http_pass(port, token, batch, clients, len(batch)))
    return result


# --- processes --------------------------------------------------------------------------------------------


class KbWorker:
    """A real ``kb worker`` process, stopped by its process id; its memory and its children's sampled."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self._offset = log_path.stat().st_size
        self.process = subprocess.Popen(
            [KB, "worker"], stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=ROOT
        )
        self.pid = self.process.pid

    def wait_started(self, timeout: float = 60) -> float:
        started = time.perf_counter()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"kb worker exited with {self.process.returncode}; see {self.log_path}")
            with self.log_path.open("rb") as handle:
                handle.seek(self._offset)
                if b" started" in handle.read():
                    return time.perf_counter() - started
            time.sleep(0.05)
        raise SystemExit(f"kb worker did not start within {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


def children(pid: int) -> list[int]:
    """The children of ``pid`` from ``/proc/PID/task/TID/children`` (a child is listed under the thread that
    forked it), which is quick enough to sample short-lived processes; a scan of ``/proc`` where it is missing."""
    tasks = Path(f"/proc/{pid}/task")
    found: list[int] = []
    try:
        for task in tasks.iterdir():
            found += [int(n) for n in (task / "children").read_text().split()]
    except FileNotFoundError:
        if not tasks.exists():
            return []
        return children_of(pid)
    except OSError:
        return found
    return found


def descendants(pid: int) -> list[tuple[int, int]]:
    """(pid, depth) of every process below ``pid``: depth 1 its children, 2 their children, ..."""
    found: list[tuple[int, int]] = []
    frontier = [(pid, 0)]
    while frontier:
        parent, depth = frontier.pop()
        for child in children(parent):
            found.append((child, depth + 1))
            frontier.append((child, depth + 1))
    return found


class MemorySampler:
    """Samples VmRSS/VmHWM of a process, of its descendants and of other watched processes every ``interval``."""

    def __init__(self, worker_pid: int, others: dict[int, str], interval: float = 0.05) -> None:
        self.worker_pid = worker_pid
        self.others = others
        self.interval = interval
        self.peaks: dict[int, dict[str, Any]] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self, pid: int, role: str) -> None:
        status = proc_status(pid)
        if not status:
            return
        entry = self.peaks.setdefault(pid, {"pid": pid, "role": role, "rss_max_mib": 0.0, "hwm_mib": 0.0})
        entry["rss_max_mib"] = max(entry["rss_max_mib"], kib(status.get("VmRSS", "")) / MIB)
        entry["hwm_mib"] = max(entry["hwm_mib"], kib(status.get("VmHWM", "")) / MIB)

    def sample_once(self) -> None:
        self.samples += 1
        self._sample(self.worker_pid, "kb worker")
        for pid, depth in descendants(self.worker_pid):
            self._sample(pid, "fork server" if depth == 1 else "extraction child")
        for pid, role in self.others.items():
            self._sample(pid, role)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):
                self.sample_once()
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample_once()

        def largest(role: str) -> dict[str, Any] | None:
            entries = [e for e in self.peaks.values() if e["role"] == role]
            return max(entries, key=lambda e: e["hwm_mib"]) if entries else None

        return {
            "kb_worker": self.peaks.get(self.worker_pid),
            "fork_server": largest("fork server"),
            "extraction_child": largest("extraction child"),
            "extraction_children": sum(1 for e in self.peaks.values() if e["role"] == "extraction child"),
            "server_workers": [e for e in self.peaks.values() if e["role"] == "server worker"],
            "interval_s": self.interval,
            "samples": self.samples,
        }


def server_memory(master_pid: int) -> list[dict[str, Any]]:
    """VmRSS (peak VmHWM), RssAnon and RssFile of the server's master and worker processes, now."""
    memory = [{"role": "server master", "pid": master_pid}] + [
        {"role": "server worker", "pid": pid} for pid in children_of(master_pid)
    ]
    for entry in memory:
        status = proc_status(entry["pid"])
        entry["rss_mib"] = kib(status.get("VmRSS", "")) / MIB
        entry["hwm_mib"] = kib(status.get("VmHWM", "")) / MIB
        # RSS counts the index file pages the process has mapped (shared with the page cache and the other
        # workers) as well as its own memory: RssAnon is the process's own, RssFile the mapped files.
        entry["anon_mib"] = kib(status.get("RssAnon", "")) / MIB
        entry["file_mib"] = kib(status.get("RssFile", "")) / MIB
    return memory


# --- the first search after a commit ----------------------------------------------------------------------


def _index_settled(app: Any, version_id: int) -> bool:
    """The version's extraction is stored and no index job is queued or running: the index has committed it."""
    from sqlalchemy import func, select

    from kb.models import AssetVersion, ExtractionStatus, Job

    with app.extensions["kb_db"].session() as session:
        status = session.scalar(select(AssetVersion.extraction_status).where(AssetVersion.id == version_id))
        pending = session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.kind == "index_asset", Job.status.in_(("queued", "running")))
        )
    return status != ExtractionStatus.PENDING and not pending


def _together(port: int, token: str, query: Query, clients: int) -> list[float]:
    """``clients`` requests sent at once (one per server worker: a sync worker takes one at a time)."""
    times: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def one() -> None:
        barrier.wait()
        sample = timed_search(port, token, query)
        with lock:
            times.append(sample.seconds if sample.status == 200 else float("nan"))

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times


def commit_probes(
    app: Any,
    env: dict[str, str],
    workdir: Path,
    generator: LibraryGenerator,
    people: dict[str, Any],
    port: int,
    token: str,
    assets: int,
    runs: int,
    query: Query,
    server_workers: int,
    cleanup: list[Callable[[], None]],
) -> dict[str, Any]:
    """A new version is published and indexed by a real ``kb worker``; once the index job is done (nothing is
    asked of the server meanwhile) and the server's once-a-second index check is due, ``query`` is sent by one
    client per server worker at the same moment (each worker's first search on the new index); the slower is
    the first search after the commit. Then five more such rounds: the warm p50 of the same query."""
    from sqlalchemy import select

    from kb.blobs import BlobStore
    from kb.models import AssetVersion
    from kb.publishing import FileUpload, Publisher

    settings = app.config["KB_SETTINGS"]
    db = app.extensions["kb_db"]
    publisher = Publisher(db, BlobStore(settings.blob_dir), app.config["MAX_CONTENT_LENGTH"])
    worker = KbWorker(env, workdir / "commit-worker.log")
    cleanup.append(worker.stop)
    probes = []
    try:
        worker.wait_started()
        for run in range(runs):
            number = (run * 6007 + 29) % assets
            asset = generator.asset(number)
            word = "zqcommit" + letters(run * 7919 + int(time.time()) % 100_000)
            title, body = asset.pages[0]
            pages = [(title, f"{body}\nИзменение {word}."), *asset.pages[1:]]
            with db.session() as session:
                asset_id = session.scalar(
                    select(AssetVersion.asset_id).where(
                        AssetVersion.original_filename == asset.filename, AssetVersion.number == 1
                    )
                )
            result = publisher.add_version(
                people["marketing"][0],
                asset_id,
                FileUpload(io.BytesIO(odp_bytes(pages)), asset.filename),
                change_note=f"commit probe {run}",
            )
            deadline = time.monotonic() + 180
            while not _index_settled(app, result.version_id):
                if time.monotonic() > deadline:
                    raise SystemExit("the worker did not index the new version within 180 s")
                time.sleep(0.05)
            time.sleep(1.2)  # past the server's REFRESH_CHECK_S: its next search looks for a new index
            first = _together(port, token, query, server_workers)
            warm = [t for _ in range(5) for t in _together(port, token, query, server_workers)]
            found = timed_search(port, token, Query("commit probe", word, {"exact": "1"}))
            probe = {
                "asset": asset_id,
                "word": word,
                "first_ms": max(first) * 1000,
                "first_each_ms": [t * 1000 for t in first],
                "warm_p50_ms": percentile(warm, 50) * 1000,
                "found": found.total >= 1,
            }
            probe["ratio"] = probe["first_ms"] / probe["warm_p50_ms"]
            probes.append(probe)
            log(
                f"  commit probe {run + 1}: first {probe['first_ms']:.0f} ms, warm p50 "
                f"{probe['warm_p50_ms']:.0f} ms ({probe['ratio']:.2f}×), new word found: {probe['found']}"
            )
    finally:
        worker.stop()
        cleanup.remove(worker.stop)
    ratios = [p["ratio"] for p in probes]
    return {
        "query": query.q,
        "probes": probes,
        "ratio_median": percentile(ratios, 50),
        "ratio_max": max(ratios),
        "first_median_ms": percentile([p["first_ms"] for p in probes], 50),
        "warm_median_ms": percentile([p["warm_p50_ms"] for p in probes], 50),
    }


# --- ingestion while searching ----------------------------------------------------------------------------


def _multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = "kbbench" + uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode("utf-8") + b"\r\n")
    out.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/vnd.oasis.opendocument.presentation\r\n\r\n".encode()
    )
    out.write(data + f"\r\n--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def _post(port: int, path: str, token: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type, "Accept": "application/json"}
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _get_json(port: int, token: str, params: dict[str, str]) -> dict[str, Any] | None:
    from search_benchmark import request

    status, body = request(port, "/api/v1/search?" + urlencode(params), token)
    return json.loads(body) if status == 200 else None


def ingestion(
    env: dict[str, str],
    workdir: Path,
    generator: LibraryGenerator,
    port: int,
    marketing_token: str,
    search_token: str,
    search_pool: list[Query],
    count: int,
    server_pid: int,
    cleanup: list[Callable[[], None]],
    timeout: float = 900,
    searchers: int = 2,
) -> dict[str, Any]:
    """``count`` new assets published one after another through the API while one ``kb worker`` runs and
    ``searchers`` clients search without pause; each file carries a word of its own and a word of the batch.

    Once a second the batch word is searched (exact, 100 a page) to see which assets are found; the clock runs
    from the first publish until every asset is found. Then each asset's own word is searched once to check."""
    nonce = int(time.time() * 10) % 26**5
    batch_word = "zqbatch" + letters(nonce)
    files = []
    for i in range(count):
        asset = generator.asset(10_000_000 + nonce * 1000 + i)
        word = "zqing" + letters(nonce) + letters(i, 3)
        title, body = asset.pages[0]
        pages = [(title, f"{body}\nНовинка {word} {batch_word}."), *asset.pages[1:]]
        fields = {
            "title": f"{asset.title[:250]} {word}",
            "kind": asset.kind,
            "description": asset.description,
            "product": asset.product,
            "segments": ",".join(asset.segments),
            "region": asset.region,
            "language": asset.language,
            "tags": ",".join(asset.tags),
            "change_note": "ingestion benchmark",
        }
        files.append((word, *_multipart(fields, f"ingest-{word}.odp", odp_bytes(pages))))

    worker = KbWorker(env, workdir / "ingest-worker.log")
    cleanup.append(worker.stop)
    server_workers = {pid: "server worker" for pid in children_of(server_pid)}
    sampler = MemorySampler(worker.pid, server_workers)
    stop_searching = threading.Event()
    search_samples: list[tuple[float, Sample]] = []
    search_errors: list[str] = []
    pool_position = iter(range(10**9))
    lock = threading.Lock()
    published: dict[int, dict[str, Any]] = {}
    publish_errors: list[str] = []

    def search_client() -> None:
        while not stop_searching.is_set():
            with lock:
                number = next(pool_position)
            try:
                sample = timed_search(port, search_token, search_pool[number % len(search_pool)])
            except OSError as exc:
                search_errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                search_samples.append((time.perf_counter(), sample))
            if sample.status != 200:
                search_errors.append(f"HTTP {sample.status} for {sample.query}")

    def publish_all(t0: float) -> None:
        for word, body, content_type in files:
            sent = time.perf_counter()
            try:
                status, answer = _post(port, "/api/v1/assets", marketing_token, body, content_type)
            except OSError as exc:
                publish_errors.append(f"{type(exc).__name__}: {exc}")
                continue
            if status != 201:
                publish_errors.append(f"HTTP {status}: {answer[:300]!r}")
                continue
            asset_id = json.loads(answer)["id"]
            published[asset_id] = {"word": word, "published_s": time.perf_counter() - t0,
                                   "request_ms": (time.perf_counter() - sent) * 1000}  # fmt: skip

    try:
        worker_start_s = worker.wait_started()
        sampler.start()
        clients = [threading.Thread(target=search_client, daemon=True) for _ in range(searchers)]
        for client in clients:
            client.start()
        time.sleep(2)  # the searches run before the first publish
        log(f"  publishing {count} files through POST /api/v1/assets while {searchers} clients search")
        t0 = time.perf_counter()
        publisher = threading.Thread(target=publish_all, args=(t0,), daemon=True)
        publisher.start()
        found: dict[int, float] = {}
        polls = 0
        last_log = t0
        while True:
            time.sleep(1.0)
            page = 1
            while True:
                payload = _get_json(
                    port,
                    search_token,
                    {"q": batch_word, "exact": "1", "per_page": "100", "page": str(page)},
                )
                polls += 1
                if payload is None:
                    break
                now = time.perf_counter() - t0
                for result in payload["results"]:
                    found.setdefault(result["asset_id"], now)
                if page * 100 >= payload["total"]:
                    break
                page += 1
            done_publishing = not publisher.is_alive()
            if done_publishing and set(published) <= set(found):
                break
            if time.perf_counter() - t0 > timeout:
                log(f"  timeout: {len(found)} of {count} found after {timeout:.0f} s")
                break
            if time.perf_counter() - last_log >= 10:
                last_log = time.perf_counter()
                log(f"  {last_log - t0:.0f} s: {len(published)} published, {len(found)} found")
        all_found_s = time.perf_counter() - t0
        publish_s = max((p["published_s"] for p in published.values()), default=0.0)
        stop_searching.set()
        for client in clients:
            client.join(timeout=130)
        memory = sampler.stop()
    finally:
        stop_searching.set()
        with contextlib.suppress(Exception):
            sampler.stop()
        worker.stop()
        cleanup.remove(worker.stop)

    by_own_word = 0
    for info in published.values():
        payload = _get_json(port, search_token, {"q": info["word"], "exact": "1"})
        by_own_word += bool(payload and payload["total"] >= 1)
    during = [s.seconds for at, s in search_samples if at >= t0]
    searchable = sorted(found[a] - published[a]["published_s"] for a in published if a in found)
    return {
        "files": count,
        "published": len(published),
        "publish_errors": publish_errors[:5],
        "publish_error_count": len(publish_errors),
        "publish_s": publish_s,
        "publish_request_ms": stats_ms([p["request_ms"] / 1000 for p in published.values()]),
        "found": sum(1 for a in published if a in found),
        "found_by_own_word": by_own_word,
        "all_searchable_s": all_found_s,
        "publish_to_searchable_s": {
            "p50": percentile(searchable, 50),
            "max": max(searchable) if searchable else float("nan"),
        },
        "search": stats_ms(during),
        "search_rps": len(during) / all_found_s if all_found_s else float("nan"),
        "search_errors": len(search_errors),
        "search_error_examples": search_errors[:5],
        "search_pool": len(search_pool),
        "searchers": searchers,
        "worker_processes": 1,
        "worker_start_s": worker_start_s,
        "memory": memory,
    }


# --- memory at other library sizes ------------------------------------------------------------------------


def memory_at_sizes(args: Any, workdir: Path, sizes: list[int], cleanup: list[Callable[[], None]]) -> list[dict]:
    """For each size, this script runs again with ``--memory-only`` in its own work directory (``a<N>-s<seed>``
    in ``--sizes-dir``, by default beside this one: built the first time, reused after) with the same query
    load and ingestion, and its memory figures are read back."""
    rows = []
    script = Path(__file__).resolve().parent / "search_benchmark.py"
    for size in sizes:
        child_dir = (args.sizes_dir or workdir.parent).resolve() / f"a{size}-s{args.seed}"
        command = [
            sys.executable, str(script), "--assets", str(size), "--seed", str(args.seed), "--workdir", str(child_dir),
            "--reuse", "--skip-rebuild", "--memory-only", "--ingest", str(args.ingest),
            "--server-workers", str(args.server_workers), "--clients", str(args.clients), "--rounds", str(args.rounds),
            "--varied-sequential", str(args.varied_sequential), "--varied-per-level", str(args.varied_per_level),
            "--levels", ",".join(map(str, args.levels)),
        ]  # fmt: skip
        if args.requests:
            command += ["--requests", str(args.requests)]
        log_path = workdir / f"memory-a{size}.log"
        log(f"memory at {size:,} assets: {child_dir} (log {log_path})")
        started = time.perf_counter()
        with log_path.open("ab") as handle:
            child = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

            def stop(child: subprocess.Popen[bytes] = child) -> None:
                if child.poll() is None:
                    os.kill(child.pid, signal.SIGTERM)
                    try:
                        child.wait(timeout=120)
                    except subprocess.TimeoutExpired:
                        os.kill(child.pid, signal.SIGKILL)
                        child.wait(timeout=10)

            cleanup.append(stop)
            try:
                returncode = child.wait()
            finally:
                stop()
                cleanup.remove(stop)
        row: dict[str, Any] = {"assets": size, "workdir": str(child_dir), "seconds": time.perf_counter() - started}
        results = child_dir / "results.json"
        if returncode != 0 or not results.exists():
            row["error"] = f"exit {returncode}; see {log_path}"
        else:
            row.update(memory_row(json.loads(results.read_text())))
        rows.append(row)
    return rows


def memory_row(report: dict[str, Any]) -> dict[str, Any]:
    """One line of the memory table from a run's report: the same moments at every size."""
    workers = [m for m in report.get("memory_after_queries", []) if m["role"] == "server worker"]
    row: dict[str, Any] = {
        "assets": report["library"]["assets"],
        "in_instance": report.get("assets_in_instance", report["library"]["assets"]),
        "server_worker_rss_mib": max((w["rss_mib"] for w in workers), default=float("nan")),
        "server_worker_anon_mib": max((w["anon_mib"] for w in workers), default=float("nan")),
        "server_worker_hwm_mib": max((w["hwm_mib"] for w in workers), default=float("nan")),
    }
    ingest = report.get("ingest")
    if ingest:
        memory = ingest["memory"]
        row["kb_worker_hwm_mib"] = (memory["kb_worker"] or {}).get("hwm_mib", float("nan"))
        row["largest_child_hwm_mib"] = max(
            ((memory[k] or {}).get("hwm_mib", 0.0) for k in ("fork_server", "extraction_child")), default=0.0
        )
        row["server_worker_max_during_ingest_mib"] = max(
            (w["rss_max_mib"] for w in memory["server_workers"]), default=float("nan")
        )
    return row


# --- the report -------------------------------------------------------------------------------------------


def format_lines(r: dict[str, Any]) -> list[str]:  # noqa: C901 - one block per phase
    lines: list[str] = []
    add = lines.append
    varied = r.get("varied")
    if varied:
        add("")
        add(f"varied mix (distinct queries from the library's vocabulary, each asked once; {varied['empty_share']:.0%} "
            f"found nothing)")  # fmt: skip
        add(f"  {'pass':<46}{'n':>6}{'p50':>8}{'p95':>8}{'p99':>8}{'mean':>8}{'req/s':>8}")

        def row(label: str, p: dict[str, Any]) -> None:
            lat = p["latency_ms"]
            add(f"  {label:<46}{lat['n']:>6}{lat['p50']:>8.1f}{lat['p95']:>8.1f}{lat['p99']:>8.1f}{lat['mean']:>8.1f}"
                f"{p['rps']:>8.1f}")  # fmt: skip

        row("sequential", varied["seq"])
        for clients, p in varied["levels"].items():
            row(f"{clients} concurrent client(s)", p)
        add(f"  per kind, sequential pass{'':<21}{'n':>6}{'p50':>8}{'p95':>8}{'max':>8}")
        for name, s in varied["by_category"].items():
            add(f"    {name:<44}{s['n']:>6}{s['p50']:>8.1f}{s['p95']:>8.1f}{s['max']:>8.1f}")
    if "first_after_start" in r:
        f = r["first_after_start"]
        add("")
        add(f"first search after the server started: {f['first_ms']:.0f} ms; the same query warm (p50 of the "
            f"sequential pass) {f['warm_p50_ms']:.1f} ms: {f['ratio']:.2f}×")  # fmt: skip
    if "commit" in r:
        c = r["commit"]
        add(f"first search after an index commit ({c['query']!r}, {len(c['probes'])} commits): median "
            f"{c['first_median_ms']:.0f} ms vs warm {c['warm_median_ms']:.1f} ms; ratio median "
            f"{c['ratio_median']:.2f}×, max {c['ratio_max']:.2f}×")  # fmt: skip
    ing = r.get("ingest")
    if ing:
        s = ing["search"]
        add("")
        add(f"ingestion: {ing['published']} of {ing['files']} files published through POST /api/v1/assets in "
            f"{ing['publish_s']:.1f} s (request p50 {ing['publish_request_ms']['p50']:.0f} ms), "
            f"{ing['worker_processes']} kb worker")  # fmt: skip
        lag = ing["publish_to_searchable_s"]
        add(f"  all searchable {ing['all_searchable_s']:.1f} s after the first publish ({ing['found']} found by the "
            f"batch word, {ing['found_by_own_word']} by their own word)")  # fmt: skip
        add(f"  each file, publish answered -> found: p50 {lag['p50']:.1f} s, max {lag['max']:.1f} s")
        add(f"  search during it ({ing['searchers']} clients, varied mix): n {s['n']}, p50 {s['p50']:.1f}, "
            f"p95 {s['p95']:.1f}, p99 {s['p99']:.1f} ms, {ing['search_rps']:.1f} req/s, "
            f"{ing['search_errors']} errors")  # fmt: skip
        if ing["publish_error_count"]:
            add(f"  {ing['publish_error_count']} publish error(s), e.g. {ing['publish_errors'][:2]}")
        m = ing["memory"]
        add(f"  memory, {m['samples']} samples {m['interval_s']} s apart (peak VmHWM; the children are separate "
            "processes, and a short-lived child may end between two samples):")  # fmt: skip
        for key, label in (("kb_worker", "kb worker itself"), ("fork_server", "its extraction fork server"),
                           ("extraction_child", "largest extraction child")):  # fmt: skip
            e = m.get(key)
            if e:
                add(f"    {label:<30} pid {e['pid']:<8} peak {e['hwm_mib']:>7.0f} MiB")
        add(f"    ({m['extraction_children']} extraction children seen)")
        for e in m["server_workers"]:
            add(f"    server worker during it       pid {e['pid']:<8} RSS max {e['rss_max_mib']:>6.0f} MiB")
    sizes = r.get("memory_sizes")
    if sizes is not None:
        add("")
        add("memory by library size (server worker: after the same query load, the larger of the workers;")
        add(" kb worker: peak during the ingestion)")
        add(f"  {'assets':>8}{'server worker RSS':>19}{'own (anon)':>12}{'kb worker peak':>16}{'largest child':>15}")
        for row in sizes:
            if "error" in row:
                add(f"  {row['assets']:>8,}  failed: {row['error']}")
                continue
            grown = (
                f"   (the instance holds {row['in_instance']:,})"
                if row.get("in_instance", row["assets"]) != row["assets"]
                else ""
            )
            add(f"  {row['assets']:>8,}{row['server_worker_rss_mib']:>15.0f} MiB"
                f"{row['server_worker_anon_mib']:>8.0f} MiB"
                f"{row.get('kb_worker_hwm_mib', float('nan')):>12.0f} MiB"
                f"{row.get('largest_child_hwm_mib', float('nan')):>11.0f} MiB{grown}")  # fmt: skip
    return lines


def targets(r: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """The rows of issue 12 for the targets table."""
    rows: list[tuple[str, str, str, bool]] = []
    varied = r.get("varied")
    if varied:
        p95 = varied["seq"]["latency_ms"]["p95"]
        rows.append(("HTTP p95, varied mix (sequential)", f"{p95:.1f} ms", "< 150 ms", p95 < 150))
        if "4" in varied["levels"]:
            rps = varied["levels"]["4"]["rps"]
            rows.append(("requests/s, 4 clients, varied mix", f"{rps:.1f}", "≥ 100", rps >= 100))
    ing = r.get("ingest")
    if ing:
        ok = ing["found"] == ing["files"] and ing["all_searchable_s"] < 120
        rows.append((f"{ing['files']} via the API, all searchable", f"{ing['all_searchable_s']:.1f} s", "< 120 s", ok))
        p95 = ing["search"]["p95"]
        rows.append(("search p95 during ingestion", f"{p95:.1f} ms", "< 300 ms", p95 < 300))
    workers = [m for m in r.get("memory_after_queries", []) if m["role"] == "server worker"]
    if workers:
        rss = max(w["rss_mib"] for w in workers)
        rows.append(("server worker RSS after the queries", f"{rss:.0f} MiB", "< 400 MiB", rss < 400))
    if ing and ing["memory"].get("kb_worker"):
        hwm = ing["memory"]["kb_worker"]["hwm_mib"]
        rows.append(("kb worker peak (VmHWM)", f"{hwm:.0f} MiB", "< 1024 MiB", hwm < 1024))
    if "first_after_start" in r:
        ratio = r["first_after_start"]["ratio"]
        rows.append(("first search after start / warm", f"{ratio:.2f}×", "< 3×", ratio < 3))
    if "commit" in r:
        ratio = r["commit"]["ratio_median"]
        rows.append(("first search after a commit / warm (median)", f"{ratio:.2f}×", "< 3×", ratio < 3))
    return rows
