#!/usr/bin/env python3
"""Page-speed benchmark (issue 13): the time of every main page, served by a real ``kb serve``, and how long a
``kb`` command takes to start.

Run by hand, never by the test suite (see benchmarks/README.md)::

    .venv/bin/python benchmarks/page_speed.py                                    # the demo library
    .venv/bin/python benchmarks/page_speed.py --assets 10000 --library DIR       # 10,000 assets + the demo library

1. instance   ``--assets demo``: a new instance with the demo library (``kb db upgrade``, ``kb demo users``,
              ``kb demo load``, ``kb synonyms starter``, ``kb worker --once``). ``--assets 10000``: a copy of the
              instance of a 10,000-asset search-benchmark run (``--library``; its database and index are
              copied, its stored files linked), with the demo library loaded on top, so that the PDF, DOCX,
              Markdown, several-version and feedback pages exist at that size too.
2. commands   ``kb --help``, ``kb db current`` and ``kb users list`` in new processes, several times each: the
              median wall time (the target is ``kb --help`` under 1 s).
3. pages      ``kb serve`` on a free port of 127.0.0.1; the demo accounts sign in through the login form; every
              main page is requested ``--requests`` times as each role it is measured for, one request at a
              time, the pages taking turns (a round asks each page once), after two warm-up rounds. The time is
              the client's, from sending the request to the last byte of the answer, on the same machine.
              The target is p95 < 150 ms for each page at 10,000 assets.
4. profile    ``--profile``: each page again, in this process through Flask's test client under cProfile; the
              heaviest functions of each page are written to the work directory.

The machine matters: the report prints the load average and how much of the CPU other processes used while
the pages were measured (all CPU time of the machine, less the server's and this client's).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import http.client
import http.cookiejar
import io
import json
import os
import pstats
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from search_benchmark import (  # noqa: E402
    KB,
    Server,
    bench_environment,
    children_of,
    free_port,
    loadavg,
    log,
    machine,
    percentile,
)

MARKER = ".kb-page-speed"
PREPARED = "prepared.json"
TARGET_P95_MS = 150.0
TARGET_HELP_S = 1.0
TARGET_ASSETS = 10_000
TICKS_PER_S = os.sysconf("SC_CLK_TCK")
DEMO_PASSWORD = "kb-demo-password"
ROLES = {"sales": "sales@demo.kb", "marketing": "marketing@demo.kb", "admin": "admin@demo.kb"}
_CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


# --- the instance -----------------------------------------------------------------------------------------


def prepare_workdir(workdir: Path, reuse: bool) -> bool:
    """Whether an instance prepared by an earlier run is there to reuse."""
    if workdir.exists() and any(workdir.iterdir()):
        if not (workdir / MARKER).exists():
            raise SystemExit(f"{workdir} exists and is not a page-speed work directory; choose another --workdir")
        if reuse and (workdir / PREPARED).exists():
            return True
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER).write_text("created by benchmarks/page_speed.py; safe to delete\n")
    return False


def kb(env: dict[str, str], workdir: Path, *args: str) -> str:
    """Runs a ``kb`` command to its end; its output goes to ``prepare.log`` too."""
    done = subprocess.run(
        [KB, *args], env=env, cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    with (workdir / "prepare.log").open("a", encoding="utf-8") as handle:
        handle.write(f"$ kb {' '.join(args)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        raise SystemExit(f"kb {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def copy_library(library: Path, instance: Path) -> None:
    """The 10,000-asset instance, copied: database and index (they are written to), files hard-linked."""
    source = library / "instance"
    if not (source / "kb.sqlite3").exists():
        raise SystemExit(f"{source} has no kb.sqlite3: give --library the work directory of a search benchmark run")
    instance.mkdir(parents=True)
    log(f"copying {source} (database and index; stored files linked)")
    sqlite_copy(source / "kb.sqlite3", instance / "kb.sqlite3")
    shutil.copytree(source / "index", instance / "index")
    try:
        shutil.copytree(source / "blobs", instance / "blobs", copy_function=os.link)
    except OSError:  # another file system: copy
        shutil.rmtree(instance / "blobs", ignore_errors=True)
        shutil.copytree(source / "blobs", instance / "blobs")


def sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of an SQLite database (its WAL included) through SQLite's backup API.

    Without a write-ahead log beside it the source is opened as immutable, so that SQLite leaves no -wal and -shm
    files behind in the library's directory."""
    import sqlite3

    wal = source.with_name(source.name + "-wal")
    mode = "mode=ro" if wal.exists() and wal.stat().st_size else "mode=ro&immutable=1"
    with contextlib.closing(sqlite3.connect(f"file:{source}?{mode}", uri=True)) as src:
        with contextlib.closing(sqlite3.connect(target)) as dst:
            src.backup(dst)


def prepare_instance(args: argparse.Namespace, workdir: Path, env: dict[str, str]) -> dict[str, Any]:
    instance = workdir / "instance"
    started = time.perf_counter()
    if args.assets == "demo":
        instance.mkdir(parents=True)
    else:
        copy_library(args.library, instance)
    log("kb db upgrade, demo users, demo load, synonyms starter, worker --once")
    kb(env, workdir, "db", "upgrade")
    kb(env, workdir, "demo", "users")
    kb(env, workdir, "demo", "load")
    kb(env, workdir, "synonyms", "starter", "--as", ROLES["marketing"])
    kb(env, workdir, "worker", "--once")
    kb(env, workdir, "notify", "digest")
    prepared = {"assets": args.assets, "seconds": round(time.perf_counter() - started, 1)}
    (workdir / PREPARED).write_text(json.dumps(prepared))
    return prepared


def library_facts() -> dict[str, Any]:
    """What the instance holds, and the assets whose pages are measured (found in the database)."""
    from sqlalchemy import func, select

    from kb import create_app
    from kb.models import Asset, AssetStatus, AssetVersion, ExtractedPage

    app = create_app()
    db = app.extensions["kb_db"]
    try:
        with db.session() as session:
            published = session.scalar(select(func.count()).where(Asset.status == AssetStatus.PUBLISHED))
            versions = session.scalar(select(func.count()).select_from(AssetVersion))
            page_count = (
                select(ExtractedPage.version_id, func.count().label("pages"), func.sum(func.length(ExtractedPage.text)))
                .group_by(ExtractedPage.version_id)
                .subquery()
            )
            rows = session.execute(
                select(
                    Asset.id,
                    AssetVersion.media_type,
                    func.coalesce(page_count.c[2], 0),
                    select(func.count())
                    .where(AssetVersion.asset_id == Asset.id)
                    .correlate(Asset)
                    .scalar_subquery()
                    .label("versions"),
                )
                .join(AssetVersion, AssetVersion.id == Asset.current_version_id)
                .outerjoin(page_count, page_count.c.version_id == AssetVersion.id)
                .where(Asset.status == AssetStatus.PUBLISHED)
            ).all()
    finally:
        db.dispose()

    def largest(predicate: Callable[[str, int], bool]) -> int | None:
        """The published asset with the most extracted text among those ``predicate`` picks."""
        chosen = [(chars, asset_id) for asset_id, media, chars, n in rows if predicate(media.split(";")[0], n)]
        return max(chosen)[1] if chosen else None

    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    odp = "application/vnd.oasis.opendocument.presentation"
    return {
        "published_assets": published,
        "versions": versions,
        "pdf": largest(lambda media, _n: media == "application/pdf"),
        "docx": largest(lambda media, _n: media == docx),
        "markdown": largest(lambda media, _n: media == "text/markdown"),
        "deck": largest(lambda media, _n: media == odp) or largest(lambda media, _n: "presentation" in media),
        "several_versions": largest(lambda _media, n: n >= 2),
    }


# --- the pages --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    roles: tuple[str, ...]


def pages(facts: dict[str, Any], query: str) -> list[Page]:
    q = urllib.parse.quote(query)
    everyone = ("sales", "marketing", "admin")
    found = [
        Page("home", "/", everyone),
        Page("search", f"/search?q={q}", ("sales", "marketing")),
        Page("search with filters", f"/search?q={q}&kind=catalog&segment=B2B&language=ru", ("sales",)),
        Page("library", "/assets", ("sales", "marketing")),
        Page("library, filtered", "/assets?kind=datasheet", ("marketing",)),
    ]
    for key, name in (("pdf", "asset: PDF"), ("docx", "asset: DOCX"), ("markdown", "asset: Markdown")):
        if facts.get(key):
            found.append(Page(name, f"/assets/{facts[key]}", ("sales", "marketing")))
    if facts.get("deck"):
        found.append(Page("asset: presentation", f"/assets/{facts['deck']}", ("sales",)))
    if facts.get("several_versions"):
        several = facts["several_versions"]
        found.append(Page("asset: older version", f"/assets/{several}?version=1", ("sales",)))
        found.append(Page("changes (diff)", f"/assets/{several}/changes", ("sales",)))
    found += [
        Page("freshness queue", "/freshness", ("marketing",)),
        Page("staleness report", "/reports/staleness", ("marketing",)),
        Page("staleness report .xlsx", "/reports/staleness.xlsx", ("marketing",)),
        Page("content analytics", "/reports/content", ("marketing",)),
        Page("notifications", "/notifications", ("sales", "marketing")),
        Page("profile", "/profile", ("sales",)),
        Page("synonyms", "/synonyms", ("marketing",)),
        Page("admin: users", "/admin/users", ("admin",)),
        Page("admin: jobs", "/admin/jobs", ("admin",)),
    ]
    return found


def sign_in(port: int, email: str) -> str:
    """Signs in through the login form; the Cookie header of the signed-in session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = f"http://127.0.0.1:{port}"
    html = opener.open(f"{base}/login", timeout=60).read().decode("utf-8")
    match = _CSRF_RE.search(html)
    if not match:
        raise SystemExit("no CSRF token on the login page")
    form = urllib.parse.urlencode(
        {"csrf_token": match.group(1) or match.group(2), "email": email, "password": DEMO_PASSWORD}
    ).encode()
    answer = opener.open(f"{base}/login", data=form, timeout=60)
    if "/login" in answer.url:
        raise SystemExit(f"{email} could not sign in (is the demo password {DEMO_PASSWORD!r}?)")
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)


def get(port: int, path: str, cookie: str) -> tuple[int, int, float]:
    """Status, body size and seconds from sending the request to the answer's last byte."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        started = time.perf_counter()
        connection.request("GET", path, headers={"Cookie": cookie, "Accept-Language": "ru"})
        response = connection.getresponse()
        body = response.read()
        return response.status, len(body), time.perf_counter() - started
    finally:
        connection.close()


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def process_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def measure_pages(
    port: int, cookies: dict[str, str], page_list: list[Page], rounds: int, warmup: int, server_pids: list[int]
) -> dict[str, Any]:
    pairs = [(page, role) for page in page_list for role in page.roles]
    first: dict[tuple[str, str], float] = {}
    for _ in range(warmup):
        for page, role in pairs:
            status, _size, seconds = get(port, page.path, cookies[role])
            if status != 200:
                raise SystemExit(f"{page.name} as {role}: HTTP {status} ({page.path})")
            first.setdefault((page.name, role), seconds)
    samples: dict[tuple[str, str], list[float]] = {(p.name, r): [] for p, r in pairs}
    server_cpu: dict[tuple[str, str], int] = dict.fromkeys(samples, 0)
    sizes: dict[tuple[str, str], int] = {}
    errors = 0
    busy0, total0 = cpu_ticks()
    own0 = process_ticks([*server_pids, os.getpid()])
    started = time.perf_counter()
    for _ in range(rounds):
        for page, role in pairs:
            before = process_ticks(server_pids)
            status, size, seconds = get(port, page.path, cookies[role])
            server_cpu[(page.name, role)] += process_ticks(server_pids) - before
            if status != 200:
                errors += 1
            samples[(page.name, role)].append(seconds)
            sizes[(page.name, role)] = size
    wall = time.perf_counter() - started
    busy1, total1 = cpu_ticks()
    own1 = process_ticks([*server_pids, os.getpid()])
    cores = os.cpu_count() or 1
    machine_busy = (busy1 - busy0) / max(1, total1 - total0)
    others = max(0.0, (busy1 - busy0) - (own1 - own0)) / max(1, total1 - total0)
    rows = []
    for page, role in pairs:
        ms = [s * 1000 for s in samples[(page.name, role)]]
        rows.append(
            {
                "page": page.name,
                "role": role,
                "path": page.path,
                "n": len(ms),
                "first_ms": first.get((page.name, role), float("nan")) * 1000,
                "p50_ms": percentile(ms, 50),
                "p95_ms": percentile(ms, 95),
                "max_ms": max(ms),
                # CPU time of the server processes per request (clock ticks, so a mean over many requests):
                # what the page costs, whatever else the machine is doing.
                "cpu_ms": server_cpu[(page.name, role)] * 1000 / TICKS_PER_S / len(ms),
                "kib": sizes[(page.name, role)] / 1024,
            }
        )
    return {
        "rows": rows,
        "errors": errors,
        "seconds": wall,
        "cpu": {"cores": cores, "machine_busy": machine_busy, "others_busy": others},
    }


# --- commands ---------------------------------------------------------------------------------------------


def command_start(env: dict[str, str], runs: int) -> dict[str, Any]:
    measured = {}
    for args in (["--help"], ["db", "current"], ["users", "list"]):
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([KB, *args], env=env, cwd=ROOT, capture_output=True, check=True)
            times.append(time.perf_counter() - started)
        measured["kb " + " ".join(args)] = {"median_s": statistics.median(times), "max_s": max(times), "n": runs}
    return measured


# --- profile ----------------------------------------------------------------------------------------------


def profile_pages(page_list: list[Page], out: Path, repeats: int) -> dict[str, float]:
    """Each page in this process under cProfile: the heaviest functions into ``out``; the mean ms per page."""
    from kb import create_app

    app = create_app()
    out.mkdir(exist_ok=True)
    clients = {}
    for role, email in ROLES.items():
        client = app.test_client()
        html = client.get("/login").get_data(as_text=True)
        match = _CSRF_RE.search(html)
        assert match
        token = match.group(1) or match.group(2)
        client.post("/login", data={"csrf_token": token, "email": email, "password": DEMO_PASSWORD})
        clients[role] = client
    means = {}
    for page in page_list:
        client = clients[page.roles[0]]
        client.get(page.path)  # warm
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for _ in range(repeats):
            client.get(page.path)
        profiler.disable()
        means[page.name] = (time.perf_counter() - started) / repeats * 1000
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
        slug = re.sub(r"[^a-z0-9]+", "-", page.name.lower()).strip("-")
        (out / f"{slug}.txt").write_text(f"{page.path} as {page.roles[0]}, {repeats} requests\n{text.getvalue()}")
    app.extensions["kb_db"].dispose()
    return means


# --- report -----------------------------------------------------------------------------------------------


def format_report(r: dict[str, Any]) -> str:
    at_target = r["published_assets"] >= TARGET_ASSETS
    lines = [
        f"kb page speed: {r['published_assets']:,} published assets ({r['versions']:,} versions), "
        f"{r['machine']['date']}, git {r['machine']['git']}",
        f"machine: {r['machine']['cpu']}, {r['machine']['cores']} cores, {r['machine']['ram_gib']} GiB, "
        f"Python {r['machine']['python']}; load average {r['loadavg_start']} at the start, {r['loadavg_end']} at "
        "the end",
    ]
    cpu = r["pages"]["cpu"]
    lines.append(
        f"while measuring pages: machine busy {cpu['machine_busy']:.0%} of {cpu['cores']} cores, of which other "
        f"processes (not the server, not this client) {cpu['others_busy']:.0%}"
    )
    lines.append(
        f"kb serve --workers {r['server_workers']}; {r['rounds']} requests of each page as each role, one at a time, "
        "after two warm-up rounds; time = client's, request sent to last byte received"
    )
    lines.append("")
    verdict_head = "p95 < 150 ms" if at_target else "p95 < 150 ms (target at 10,000)"
    lines.append(
        f"{'page':<24} {'role':<10} {'1st ms':>7} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'cpu ms':>7} {'KiB':>6}"
        f"  {verdict_head}"
    )
    for row in r["pages"]["rows"]:
        ok = row["p95_ms"] < TARGET_P95_MS
        verdict = ("PASS" if ok else "MISS") if at_target else ("ok" if ok else "over")
        lines.append(
            f"{row['page']:<24} {row['role']:<10} {row['first_ms']:>7.0f} {row['p50_ms']:>7.1f} {row['p95_ms']:>7.1f} "
            f"{row['max_ms']:>7.1f} {row['cpu_ms']:>7.1f} {row['kib']:>6.0f}  {verdict}"
        )
    lines.append(
        "1st = the first request of that page as that role after the server started (each server process "
        "prepares its SQL statements, opens the search index ... on first use); cpu = the server processes' CPU "
        "time per request (mean), which other processes on the machine do not inflate as much as the wall time"
    )
    if r["pages"]["errors"]:
        lines.append(f"{r['pages']['errors']} request(s) did not answer 200")
    if r.get("commands"):
        lines.append("")
        lines.append(f"{'command start (new process)':<36} {'median s':>9} {'max s':>7}")
        for name, values in r["commands"].items():
            lines.append(f"{name:<36} {values['median_s']:>9.2f} {values['max_s']:>7.2f}")
        help_s = r["commands"]["kb --help"]["median_s"]
        lines.append("")
        help_verdict = "PASS" if help_s < TARGET_HELP_S else "MISS"
        lines.append(f"kb --help under {TARGET_HELP_S:.0f} s: {help_verdict} ({help_s:.2f} s)")
    if at_target:
        missed = [f"{row['page']} ({row['role']})" for row in r["pages"]["rows"] if row["p95_ms"] >= TARGET_P95_MS]
        lines.append(
            "every page p95 under 150 ms: " + ("PASS" if not missed else f"MISS ({len(missed)}: {', '.join(missed)})")
        )
    if r.get("profile_ms"):
        lines.append("")
        lines.append("in process under cProfile (mean ms per request; profiles in the work directory):")
        for name, ms in r["profile_ms"].items():
            lines.append(f"  {name:<26} {ms:>8.1f}")
    return "\n".join(lines) + "\n"


# --- main -----------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--assets",
        choices=("demo", "10000"),
        default="demo",
        help="demo: the demo library alone (default); 10000: a 10,000-asset library (--library) plus the demo one",
    )
    parser.add_argument(
        "--library",
        type=Path,
        default=HERE / ".work" / "a10000-s4",
        help="with --assets 10000: work directory of a search benchmark run at 10,000 assets, copied, never "
        "changed (default benchmarks/.work/a10000-s4)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="default benchmarks/.work/pages-<assets>")
    parser.add_argument("--reuse", action="store_true", help="reuse the instance an earlier run prepared in --workdir")
    parser.add_argument("--requests", type=int, default=30, help="requests of each page as each role (default 30)")
    parser.add_argument("--command-runs", type=int, default=7, help="runs of each kb command (default 7)")
    parser.add_argument("--server-workers", type=int, default=2, help="kb serve --workers (default 2)")
    parser.add_argument("--query", default="насос", help="the search pages' query (default: насос)")
    parser.add_argument("--profile", action="store_true", help="also profile each page in process (cProfile)")
    parser.add_argument(
        "--only",
        default="",
        help="development: only the pages whose names contain one of these words (a,b), no commands",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = (args.workdir or HERE / ".work" / f"pages-{args.assets}").resolve()
    args.library = args.library.resolve()
    report: dict[str, Any] = {
        "command": " ".join(["benchmarks/page_speed.py", *(argv if argv is not None else sys.argv[1:])]),
        "loadavg_start": loadavg(),
        "machine": machine(),
        "server_workers": args.server_workers,
        "rounds": args.requests,
    }
    log(f"work directory {workdir}; load average {report['loadavg_start']}")
    reused = prepare_workdir(workdir, args.reuse)
    env = bench_environment(workdir / "instance")
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
    if reused:
        report["prepared"] = json.loads((workdir / PREPARED).read_text())
        log(f"reusing the instance in {workdir}")
    else:
        report["prepared"] = prepare_instance(args, workdir, env)
        log(f"  prepared in {report['prepared']['seconds']:.0f} s")
    facts = library_facts()
    report.update(published_assets=facts["published_assets"], versions=facts["versions"], assets=facts)
    wanted = [w.strip().lower() for w in args.only.split(",") if w.strip()]
    page_list = [p for p in pages(facts, args.query) if not wanted or any(w in p.name.lower() for w in wanted)]

    if not wanted:
        log(f"command start: {args.command_runs} runs each; load average {loadavg()}")
        report["commands"] = command_start(env, args.command_runs)

    port = free_port()
    log(f"kb serve on 127.0.0.1:{port} with {args.server_workers} worker process(es)")
    server = Server(env, workdir, port, args.server_workers)
    cleanup.append(server.stop)
    server.wait_ready()
    cookies = {role: sign_in(port, email) for role, email in ROLES.items()}
    pairs = sum(len(p.roles) for p in page_list)
    log(f"pages: {len(page_list)} pages, {pairs} page-role pairs, {args.requests} rounds; load average {loadavg()}")
    report["pages"] = measure_pages(
        port, cookies, page_list, args.requests, 2, [server.process.pid, *children_of(server.process.pid)]
    )
    server.stop()
    cleanup.remove(server.stop)

    if args.profile:
        log("profiling each page in process")
        report["profile_ms"] = profile_pages(page_list, workdir / "profile", repeats=5)
    report["loadavg_end"] = loadavg()
    text = format_report(report)
    print(text)
    (workdir / "report.txt").write_text(text, encoding="utf-8")
    (workdir / "results.json").write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    log(f"report written to {workdir / 'report.txt'} and results.json")
    return 1 if report["pages"]["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
