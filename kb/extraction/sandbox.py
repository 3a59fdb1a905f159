"""The sandbox of ``extract_isolated``: a process that limits its own resources, extracts one file, writes JSON.

Usage: ``python -m kb.extraction.sandbox PATH TYPE_NAME [--memory-mb N] [--cpu-seconds N] [--time-budget-s S]``,
the spawned sandbox; the fork server (``kb.extraction.forkserver``) runs ``extract_limited`` in a forked child
instead, with the same limits. The address space (``RLIMIT_AS``) and CPU time (``RLIMIT_CPU``) are limited
before the file is opened; a CPU overrun ends the process with SIGXCPU. Past ``--time-budget-s`` seconds,
reading stops between pages. The result is the only thing written to standard output (the result pipe of a
forked child): anything a library prints is sent to standard error instead. Running out of memory exits with
status ``run.EXIT_OUT_OF_MEMORY``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import warnings
from pathlib import Path

from kb.extraction.run import EXIT_OUT_OF_MEMORY, extract
from kb.extraction.types import BY_NAME

_MEBIBYTE = 1024 * 1024


def limit_resources(memory_mb: int, cpu_seconds: int) -> None:
    """Caps this process's address space and CPU time (soft CPU limit first, so SIGXCPU comes before SIGKILL)."""
    memory = memory_mb * _MEBIBYTE
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


def quiet_libraries() -> None:
    """The parent keeps only the end of stderr: library warnings about odd files would only fill it."""
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)


def without_numpy() -> None:
    """Keeps numpy out of a sandbox process. openpyxl imports it, when installed, only to accept numpy numbers
    written into cells; reading never needs it, and it would add about 120 MiB of address space (counted
    against ``RLIMIT_AS``), a quarter of a second of start-up and, in the fork server, an OpenBLAS thread at
    every fork. Only for a process of its own: kb's search uses numpy."""
    sys.modules.setdefault("numpy", None)  # type: ignore[arg-type]  # None makes ``import numpy`` fail


def extract_limited(
    path: Path, type_name: str, *, memory_mb: int, cpu_seconds: int, time_budget_s: float | None, result_fd: int
) -> int:
    """Limits this process, extracts the file and writes the JSON result to ``result_fd`` (closing it); returns
    the exit status (0). Running out of memory ends the process at once with ``EXIT_OUT_OF_MEMORY``."""
    limit_resources(memory_mb, cpu_seconds)
    try:
        result = extract(path, BY_NAME[type_name], time_budget_s=time_budget_s)
        payload = json.dumps(result.to_dict(), ensure_ascii=False).encode("utf-8")
    except MemoryError:
        os._exit(EXIT_OUT_OF_MEMORY)
    with os.fdopen(result_fd, "wb") as out:
        out.write(payload)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kb.extraction.sandbox", description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("type_name", choices=sorted(BY_NAME))
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--cpu-seconds", type=int, default=60)
    parser.add_argument("--time-budget-s", type=float, default=None)
    args = parser.parse_args(argv)

    result_fd = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints, even from C code, go to stderr
    quiet_libraries()
    return extract_limited(
        args.path,
        args.type_name,
        memory_mb=args.memory_mb,
        cpu_seconds=args.cpu_seconds,
        time_budget_s=args.time_budget_s,
        result_fd=result_fd,
    )


if __name__ == "__main__":
    without_numpy()
    sys.exit(main())
