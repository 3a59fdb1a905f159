#!/usr/bin/env python3
"""Extraction speed (issue 12): the same small files through ``extract_isolated``, each once in a spawned sandbox
(a new Python process per file) and once in a child of the fork server, side by side.

Run by hand, never by the test suite::

    .venv/bin/python benchmarks/extraction_speed.py              # 50 files: Markdown, DOCX, PDF, XLSX in turn
    .venv/bin/python benchmarks/extraction_speed.py --files 200

The files are made by the test suite's builders (``tests/fixtures_files.py``), a few hundred words each. Each
file is read by both ways one after the other, so both meet the same load; both must give the same result. The
fork server's start (once per worker) is timed apart from the files. Prints one line per file (milliseconds),
then the median, 95th percentile and total per way and per type, and the load average before and after: the
machine may be shared, and a busy machine slows both ways.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TESTS = ROOT / "tests"
for _path in (ROOT, TESTS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import fixtures_files as F  # noqa: E402  (tests/fixtures_files.py)
from kb.extraction import run  # noqa: E402
from kb.extraction.types import DOCX, MARKDOWN, PDF, XLSX, FileType  # noqa: E402

_WORDS = (
    "насос задвижка поставка склад договор цена срок гарантия монтаж сервис pump valve delivery warranty "
    "service catalogue НВ-250 KX-200 давление расход мощность pressure flow power"
).split()


def _paragraphs(seed: int, count: int, words: int = 60) -> list[str]:
    return [
        " ".join(_WORDS[(seed * 7 + p * 13 + w * 5) % len(_WORDS)] for w in range(words)).capitalize() + "."
        for p in range(count)
    ]


def _markdown(path: Path, seed: int) -> Path:
    body = "\n\n".join(_paragraphs(seed, 5))
    return F.write_text(
        path, f"# Каталог {seed}\n\n{body}\n\n| Модель | Цена |\n|---|---|\n| НВ-{seed} | {seed}00 |\n", "utf-8"
    )


def _docx(path: Path, seed: int) -> Path:
    return F.make_docx(path, _paragraphs(seed, 5), table=[["Модель", "Цена"], [f"НВ-{seed}", f"{seed}00"]])


def _pdf(path: Path, seed: int) -> Path:
    return F.make_pdf(path, ["\n".join(_paragraphs(seed + page, 2)) for page in range(2)])


def _xlsx(path: Path, seed: int) -> Path:
    rows = [["Модель", "Описание", "Цена"]] + [
        [f"НВ-{seed}-{r}", text, seed * 100 + r] for r, text in enumerate(_paragraphs(seed, 20, 8))
    ]
    return F.make_xlsx(path, {"Прайс": rows})


BUILDERS: list[tuple[str, FileType, Callable[[Path, int], Path]]] = [
    ("md", MARKDOWN, _markdown),
    ("docx", DOCX, _docx),
    ("pdf", PDF, _pdf),
    ("xlsx", XLSX, _xlsx),
]


def _timed(path: Path, file_type: FileType, *, fork_server: bool) -> tuple[float, object]:
    started = time.perf_counter()
    result = run.extract_isolated(path, file_type, timeout_s=120, time_budget_s=90, fork_server=fork_server)
    return time.perf_counter() - started, result


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min) on {os.cpu_count()} cores"


def _summary(name: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"{name:<18} median {1000 * statistics.median(ordered):7.1f} ms   p95 {1000 * p95:7.1f} ms   "
        f"total {sum(ordered):6.2f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=50, help="how many files (default 50)")
    args = parser.parse_args(argv)

    print(f"load average before: {_load()}")
    with tempfile.TemporaryDirectory(prefix="kb-extraction-speed-") as directory:
        files = []
        for n in range(args.files):
            suffix, file_type, build = BUILDERS[n % len(BUILDERS)]
            files.append((build(Path(directory) / f"file{n:03}.{suffix}", n), file_type))

        run.stop_fork_servers()
        started = time.perf_counter()
        run.extract_isolated(files[0][0], files[0][1])  # starts the fork server, then reads one file
        first = time.perf_counter() - started
        started = time.perf_counter()
        run.extract_isolated(files[0][0], files[0][1])
        print(f"fork server start: {1000 * (first - (time.perf_counter() - started)):.0f} ms (once per worker)\n")

        spawned: dict[str, list[float]] = {}
        forked: dict[str, list[float]] = {}
        print(f"{'file':<14} {'bytes':>7} {'spawned ms':>11} {'forked ms':>10} {'ratio':>6}")
        for path, file_type in files:
            spawn_s, spawn_result = _timed(path, file_type, fork_server=False)
            fork_s, fork_result = _timed(path, file_type, fork_server=True)
            if spawn_result != fork_result or getattr(fork_result, "status", None) != "done":
                print(f"{path.name}: the two ways disagree or failed: {spawn_result!r} / {fork_result!r}")
                return 1
            spawned.setdefault(file_type.name, []).append(spawn_s)
            forked.setdefault(file_type.name, []).append(fork_s)
            print(
                f"{path.name:<14} {path.stat().st_size:>7} {1000 * spawn_s:>11.1f} {1000 * fork_s:>10.1f} "
                f"{spawn_s / fork_s:>5.1f}x"
            )
        run.stop_fork_servers()

    every_spawned = [s for times in spawned.values() for s in times]
    every_forked = [s for times in forked.values() for s in times]
    print()
    print(_summary("spawned, all", every_spawned))
    print(_summary("forked, all", every_forked))
    for type_name in spawned:
        print(_summary(f"spawned, {type_name}", spawned[type_name]))
        print(_summary(f"forked, {type_name}", forked[type_name]))
    print(f"\nspeed-up of the totals: {sum(every_spawned) / sum(every_forked):.1f}x")
    print(f"load average after: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
