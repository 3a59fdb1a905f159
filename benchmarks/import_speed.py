#!/usr/bin/env python3
"""Bulk import speed (issue 12): N real-text files through ``kb import`` with a ``kb worker`` beside it, until
every one is searchable.

Run by hand, never by the test suite::

    .venv/bin/python benchmarks/import_speed.py                # 1,000 files, one worker
    .venv/bin/python benchmarks/import_speed.py --files 200 --workers 2

The files are made from the pages of the real-document set (``tests/realdocs``: public documents, Russian and
English), cycling through Markdown, DOCX, PDF and XLSX (the test suite's builders), each with a distinct code word
so that each can be searched for. A fresh instance in a temporary directory gets a marketing user; then ``kb
import`` and the workers run as real processes. Printed: the import's own time, the time until no extraction
or index job is left, the time until the last file is found by search through the facade (its code word), and
the machine's load before and after. Target (issue 12): 1,000 files searchable in under 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TESTS = ROOT / "tests"
for _path in (ROOT, TESTS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import fixtures_files as F  # noqa: E402  (tests/fixtures_files.py)

KB = str(Path(sys.executable).parent / "kb")
SECRET = "import-benchmark-secret-key-" + "k" * 40


def real_texts() -> list[str]:
    """The pages of the real-document set, a few hundred words each."""
    pages = []
    for doc in sorted((TESTS / "realdocs").glob("*/docs/*.md")):
        for page in doc.read_text(encoding="utf-8").split("\f"):
            words = page.split()
            if len(words) >= 40:
                pages.append(" ".join(words[:400]))
    return pages


def make_files(folder: Path, count: int) -> list[str]:
    """``count`` files, Markdown, DOCX, PDF and XLSX in turn; returns each one's code word."""
    texts = real_texts()
    codes = []
    for n in range(count):
        code = f"ZQIMP{n:05d}"
        codes.append(code)
        text = f"{code} {texts[n % len(texts)]}"
        kind = n % 4
        if kind == 0:
            (folder / f"note-{n:05d}.md").write_text(f"# Note {n}\n\n{text}\n", encoding="utf-8")
        elif kind == 1:
            F.make_docx(folder / f"doc-{n:05d}.docx", [f"Document {n}", text])
        elif kind == 2:
            F.make_pdf(folder / f"pdf-{n:05d}.pdf", [text[:1500], text[1500:3000] or code])
        else:
            words = text.split()
            rows = [["Item", "Text"]] + [[str(i), " ".join(words[i : i + 12])] for i in range(0, len(words), 12)]
            F.make_xlsx(folder / f"sheet-{n:05d}.xlsx", {"Sheet": rows})
    return codes


def kb(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KB, *args], env=env, check=True, capture_output=True, text=True)


def pending(env: dict[str, str]) -> int:
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "print(c.execute(\"select count(*) from jobs where status in ('queued', 'running')\").fetchone()[0])"
    )
    out = subprocess.run([sys.executable, "-c", code, env["KB_DATABASE_URL"].removeprefix("sqlite:///")],
                         check=True, capture_output=True, text=True)  # fmt: skip
    return int(out.stdout)


def found(env: dict[str, str], codes: list[str]) -> int:
    """How many of the code words search finds (each as its own asset), through the search facade."""
    script = (
        "import json, sys\n"
        "from kb.config import load_settings\n"
        "from kb import search\n"
        "from kb.search.backend import SearchRequest\n"
        "settings = load_settings()\n"
        "backend = search.backend_of(settings)\n"
        "codes = json.loads(sys.stdin.read())\n"
        "hits = sum(1 for c in codes if search.search(backend, SearchRequest(text=c, statuses=('published',))).total)\n"
        "print(hits)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, input=json.dumps(codes), check=True,
                         capture_output=True, text=True)  # fmt: skip
    return int(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="kb-import-bench-") as tmp:
        root = Path(tmp)
        instance, folder = root / "instance", root / "files"
        folder.mkdir()
        env = {
            **os.environ,
            "KB_INSTANCE_DIR": str(instance),
            "KB_DATABASE_URL": f"sqlite:///{instance / 'kb.sqlite3'}",
            "KB_SECRET_KEY": SECRET,
            "KB_PASSWORD": "import-benchmark-password",
        }
        started = time.monotonic()
        codes = make_files(folder, args.files)
        megabytes = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
        print(f"{args.files} files made in {time.monotonic() - started:.1f} s ({megabytes:.1f} MB)")
        kb(env, "db", "upgrade")
        kb(env, "users", "create", "importer@example.com", "--role", "marketing", "--name", "Importer")
        workers = [
            subprocess.Popen(
                [KB, "worker", "--poll", "0.2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            for _ in range(args.workers)
        ]
        try:
            t0 = time.monotonic()
            result = subprocess.run([KB, "import", str(folder), "--as", "importer@example.com", "--kind", "catalog"],
                                    env=env, capture_output=True, text=True)  # fmt: skip
            imported = time.monotonic() - t0
            print(f"kb import: exit {result.returncode} in {imported:.1f} s; " + result.stdout.strip().splitlines()[-1])
            while pending(env):
                time.sleep(1)
            drained = time.monotonic() - t0
            print(f"no job left {drained:.1f} s after the import began")
            hits = found(env, codes)
            searchable = time.monotonic() - t0
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=60)
    print(
        f"searchable: {hits} of {args.files} found by their code word; all checked {searchable:.1f} s after the start"
    )
    verdict = "PASS" if hits == args.files and drained < 600 else "MISS"
    print(f"target: {args.files} files searchable in < 600 s: {drained:.1f} s  {verdict}")
    print(
        f"load average before {load_before}, after {os.getloadavg()}; {os.cpu_count()} cores, {args.workers} worker(s)"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
