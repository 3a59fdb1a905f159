"""How fast ``kb index rebuild`` is on an existing instance: words/s, documents, seconds, CPU and peak memory.

Run by hand, never by the test suite (see benchmarks/README.md)::

    .venv/bin/python benchmarks/rebuild_speed.py /tmp/bench10000/instance --runs 2
    .venv/bin/python benchmarks/rebuild_speed.py INSTANCE --code /tmp/kb-before    # another copy of kb's code

INSTANCE is an instance directory (``KB_INSTANCE_DIR``) with ``kb.sqlite3`` and ``index/``, for example the
``instance`` of a search benchmark's work directory. The rebuild writes a new index generation there (and
drops the one before the previous), so work on a copy of an instance you want to keep as it is: the
database through ``sqlite3 SRC ".backup DST"``, with an empty ``index`` directory beside it.

Words are whitespace-separated words of every extracted page in the database (``--words`` gives another count,
for example the search benchmark's). The machine is shared: the load average before and after each run is
printed, and the CPU time of the rebuild's processes, which other work on the machine inflates far less than
the wall time. Peak memory is that of the largest single process (``ru_maxrss``, as the search benchmark
reports it) and of all the rebuild's processes together (sampled from /proc every 0.1 s).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "rebuild-speed-secret-key-" + "k" * 40


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    return f"{cpu}, {os.cpu_count()} cores, {ram}, Python {platform.python_version()}, {platform.system()}"


def words_in(database: Path) -> tuple[int, int]:
    """(pages, whitespace-separated words) of the extracted text in the database."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        pages = words = 0
        for (text,) in connection.execute("SELECT text FROM extracted_pages"):
            pages += 1
            words += len(text.split())
        return pages, words
    finally:
        connection.close()


def tree_rss_kib(root: int) -> int:
    """The resident memory of a process and all its descendants, in KiB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            pid = int(entry.name)
            children.setdefault(int(fields[1]), []).append(pid)
            rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def run_once(instance: Path, code: Path, words: int) -> dict[str, float | int | str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(
        {
            "KB_INSTANCE_DIR": str(instance),
            "KB_DATABASE_URL": f"sqlite:///{instance / 'kb.sqlite3'}",
            "KB_INDEX_DIR": str(instance / "index"),
            "KB_BLOB_DIR": str(instance / "blobs"),
            "KB_SECRET_KEY": SECRET_KEY,
            "PYTHONPATH": str(code),
        }
    )
    load_before = loadavg()
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", "from kb.cli import main; main()", "index", "rebuild"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=code,
    )
    peak_total = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_total
        while not done.wait(0.1):
            peak_total = max(peak_total, tree_rss_kib(child.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert child.stdout is not None
    output = child.stdout.read().decode("utf-8", errors="replace")
    _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"kb index rebuild failed:\n{output[-3000:]}")
    match = re.search(r"indexed (\d+) page", output)
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "seconds": seconds,
        "documents": int(match.group(1)) if match else 0,
        "words_per_s": words / seconds,
        "cpu_s": cpu,
        "words_per_cpu_s": words / cpu if cpu else 0.0,
        "max_rss_mib": usage.ru_maxrss / 1024,
        "total_rss_mib": peak_total / 1024,
        "load_before": load_before,
        "load_after": loadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("instance", type=Path, help="instance directory with kb.sqlite3 and index/")
    parser.add_argument("--runs", type=int, default=1, help="rebuilds, one after another (default 1)")
    parser.add_argument("--code", type=Path, default=ROOT, help="kb's code to run (default: this checkout)")
    parser.add_argument("--words", type=int, help="words to divide by (default: counted in the database)")
    args = parser.parse_args()
    instance = args.instance.resolve()
    if not (instance / "kb.sqlite3").is_file():
        raise SystemExit(f"{instance} has no kb.sqlite3")
    pages, counted = words_in(instance / "kb.sqlite3")
    words = args.words or counted
    print(f"machine: {machine()}")
    print(f"instance: {instance}; {pages:,} extracted pages, {counted:,} words in them; dividing by {words:,}")
    print(f"code: {args.code.resolve()}", flush=True)
    for number in range(1, args.runs + 1):
        r = run_once(instance, args.code.resolve(), words)
        print(
            f"run {number}: {r['documents']:,} documents in {r['seconds']:.1f} s: {r['words_per_s']:,.0f} words/s; "
            f"CPU {r['cpu_s']:.1f} s ({r['words_per_cpu_s']:,.0f} words per CPU-second); "
            f"peak RSS {r['max_rss_mib']:,.0f} MiB in one process, {r['total_rss_mib']:,.0f} MiB in all; "
            f"load average {r['load_before']} before, {r['load_after']} after",
            flush=True,
        )


if __name__ == "__main__":
    main()
